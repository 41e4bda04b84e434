package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestUISessionKeysPersistAndRotate(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v := openT(t, cfg)
	k1, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.Hash) != 64 || len(k1.Block) != 32 {
		t.Fatalf("key sizes %d/%d, want 64/32", len(k1.Hash), len(k1.Block))
	}
	k2, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.Hash, k2.Hash) || !bytes.Equal(k1.Block, k2.Block) {
		t.Fatal("second call returned other keys")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v = openT(t, cfg)
	k3, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.Hash, k3.Hash) || !bytes.Equal(k1.Block, k3.Block) {
		t.Fatal("keys changed across a reopen")
	}
	k4, err := v.RotateUISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k1.Hash, k4.Hash) || bytes.Equal(k1.Block, k4.Block) {
		t.Fatal("rotation kept the old keys")
	}
	k5, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k4.Hash, k5.Hash) {
		t.Fatal("rotated keys not stored")
	}
	for _, s := range []string{k5.String(), fmt.Sprintf("%v %+v %#v", k5, k5, k5)} {
		if strings.Contains(s, string(k5.Hash[:8])) || !strings.Contains(s, "redacted") {
			t.Fatalf("keys printed: %q", s)
		}
	}
}

func TestUISessionKeysConcurrentFirstUse(t *testing.T) {
	v, _ := newTestVault(t)
	var wg sync.WaitGroup
	keys := make([]UISessionKeys, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := v.UISessionKeys(context.Background())
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k.Hash, keys[0].Hash) {
			t.Fatal("concurrent first use returned different keys")
		}
	}
}

func TestUILoginTicket(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	tk, exp, err := v.NewUILoginTicket(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidUILoginTicket(tk); err != nil {
		t.Fatalf("minted ticket is not well-formed: %v", err)
	}
	if got := exp.Sub(clk.Now()); got != MaxUILoginTicketTTL {
		t.Fatalf("expires in %v, want %v", got, MaxUILoginTicketTTL)
	}
	if err := v.TakeUILoginTicket(ctx, tk); err != nil {
		t.Fatalf("take: %v", err)
	}
	if err := v.TakeUILoginTicket(ctx, tk); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay: %v, want ErrNotFound", err)
	}

	// Expired: consumed, and ErrExpired.
	tk, _, err = v.NewUILoginTicket(ctx, time.Hour) // capped at a minute
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(MaxUILoginTicketTTL)
	if err := v.TakeUILoginTicket(ctx, tk); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v, want ErrExpired", err)
	}
	if err := v.TakeUILoginTicket(ctx, tk); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired replay: %v, want ErrNotFound", err)
	}

	// Wrong and malformed tickets.
	other := UILoginTicketPrefix + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, bad := range []string{"", "plxt_", other, other + "x", strings.Replace(other, "A", "+", 1), "plxl_" + other[5:]} {
		err := v.TakeUILoginTicket(ctx, bad)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("take %q: %v, want ErrNotFound", bad, err)
		}
		if err != nil && bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error echoes the ticket: %v", err)
		}
	}
}

func TestUILoginTicketBounded(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	var first string
	for i := range maxPendingUITickets + 4 {
		tk, _, err := v.NewUILoginTicket(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tk
		}
		clk.Add(time.Millisecond)
	}
	if err := v.TakeUILoginTicket(ctx, first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest ticket beyond the bound: %v, want ErrNotFound", err)
	}
	var n int
	_ = v.db.View(func(tx *bolt.Tx) error { n = len(readUITickets(tx.Bucket(bucketMeta))); return nil })
	if n != maxPendingUITickets {
		t.Fatalf("%d tickets pending, want %d", n, maxPendingUITickets)
	}
}

func TestUILoginTicketConcurrentTake(t *testing.T) {
	v, _ := newTestVault(t)
	tk, _, err := v.NewUILoginTicket(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if v.TakeUILoginTicket(context.Background(), tk) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d takes succeeded, want exactly 1", ok)
	}
}

// TestUIAuthRawFile: neither the session keys nor a ticket appear in the
// raw bbolt file.
func TestUIAuthRawFile(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v := openT(t, cfg)
	k, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := v.NewUILoginTicket(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"hash key": k.Hash, "block key": k.Block, "ticket": []byte(tk), "ticket body": []byte(tk[5:])} {
		if bytes.Contains(raw, b[:16]) {
			t.Errorf("%s found in the raw vault file", name)
		}
	}
}

func FuzzValidUILoginTicket(f *testing.F) {
	for _, s := range []string{"", "plxt_", "plxt_" + strings.Repeat("A", 43), "plxt_" + strings.Repeat("/", 43), "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidUILoginTicket(s)
		if err != nil && len(s) > 5 && strings.Contains(err.Error(), s) {
			t.Fatalf("error echoes the input")
		}
		if err == nil && (len(s) != 48 || !strings.HasPrefix(s, "plxt_")) {
			t.Fatalf("accepted %q", s)
		}
	})
}
