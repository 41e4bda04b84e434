package vault

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestListAndEndSessions(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice := mustUser(t, v, "acme", "alice")
	start := clk.Now()
	for i, s := range []Session{
		{ID: "guest-1", TenantID: "acme", Protocol: "2025-06-18", ExpiresAt: start.Add(time.Hour)},
		{ID: "alice-1", TenantID: "acme", UserID: alice, Protocol: "2025-11-25", ExpiresAt: start.Add(time.Hour),
			Client: []byte(`{"clientInfo":{"name":"claude-ai","version":"1.0"}}`)},
		{ID: "old-1", TenantID: "acme", ExpiresAt: start.Add(time.Minute)},
		{ID: "beta-1", TenantID: "beta", ExpiresAt: start.Add(time.Hour)},
	} {
		s.LastSeen = start.Add(time.Duration(i) * time.Second)
		if err := v.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetSessionValue(ctx, "acme", "alice-1", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute) // old-1 expired

	list, total, err := v.ListSessions(ctx, "acme")
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("ListSessions = %+v, %d, %v; want 2 sessions", list, total, err)
	}
	// Most recently used first; named by hash, never by id.
	if list[0].Hash != SessionHash("alice-1") || list[0].UserID != alice || list[0].Protocol != "2025-11-25" ||
		!strings.Contains(string(list[0].Client), "claude-ai") || list[1].Hash != SessionHash("guest-1") || list[1].UserID != "" {
		t.Fatalf("ListSessions order or fields: %+v", list)
	}
	if fp := list[0].Fingerprint(); len(fp) != 8 || !strings.HasPrefix(SessionHash("alice-1"), fp) {
		t.Fatalf("fingerprint %q", fp)
	}
	if strings.Contains(fmt.Sprintf("%+v", list), "alice-1") {
		t.Fatal("a session id is in the list")
	}
	if _, _, err := v.ListSessions(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, _, err := v.ListSessions(ctx, "NO PE"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad tenant id: %v", err)
	}

	var rec recorder
	defer v.Subscribe(rec.add)()
	h := SessionHash("alice-1")
	for _, c := range []struct {
		name, tenant, hash string
		want               error
	}{
		{"another tenant's", "beta", h, ErrNotFound},
		{"malformed", "acme", "alice-1", ErrInvalid},
		{"upper case", "acme", strings.ToUpper(h), ErrInvalid},
		{"short", "acme", h[:8], ErrInvalid},
		{"unknown", "acme", SessionHash("nope"), ErrNotFound},
	} {
		if err := v.EndSession(ctx, c.tenant, c.hash); !errors.Is(err, c.want) {
			t.Errorf("EndSession %s: %v, want %v", c.name, err, c.want)
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("refused ends announced %+v", got)
	}
	if err := v.EndSession(ctx, "acme", h); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0] != (Change{Kind: SessionEnded, TenantID: "acme", UserID: alice, SessionHash: h}) {
		t.Fatalf("EndSession announced %+v", got)
	}
	if _, err := v.GetSession(ctx, "acme", "alice-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ended session still there: %v", err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "alice-1", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ended session's value still there: %v", err)
	}
	if err := v.EndSession(ctx, "acme", h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("end again: %v", err)
	}
	if list, total, _ := v.ListSessions(ctx, "acme"); total != 1 || list[0].Hash != SessionHash("guest-1") {
		t.Fatalf("after end: %+v", list)
	}
	// The owner's count went down: a bound of 1 keeps the new session and
	// has nothing of alice's to evict.
	evicted, err := v.CreateSessionLimited(ctx, Session{ID: "alice-2", TenantID: "acme", UserID: alice}, 1, nil)
	if err != nil || len(evicted) != 0 {
		t.Fatalf("count after end: evicted %v, %v", evicted, err)
	}
}

func TestListSessionsBounded(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	n := MaxListedSessions + 3
	for i := range n {
		if err := v.CreateSession(ctx, Session{ID: fmt.Sprintf("s-%d", i), TenantID: "acme", LastSeen: clk.Now().Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := v.ListSessions(ctx, "acme")
	if err != nil || total != n || len(list) != MaxListedSessions || list[0].Hash != SessionHash(fmt.Sprintf("s-%d", n-1)) {
		t.Fatalf("ListSessions: %d listed of %d, %v", len(list), total, err)
	}
}

func TestAPIKeyHint(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	for _, c := range []struct{ key, want string }{
		{"sk-live-0123456789abcdef3f9a", "3f9a"},
		{"abcdefgh", "gh"},
		{"abcdefghijklmno", "mno"},
		{"abc", ""},
		{"ключ-секретный-ёжик", "ёжик"},
		{"12345678901234567", "4567"},
	} {
		if err := v.PutCredential(ctx, "acme", alice, CredentialAPIKey, "svc", []byte(c.key)); err != nil {
			t.Fatal(err)
		}
		got, err := v.APIKeyHint(ctx, "acme", alice, "svc")
		if err != nil || got != c.want {
			t.Errorf("APIKeyHint(%q) = %q, %v; want %q", c.key, got, err, c.want)
		}
	}
	if _, err := v.APIKeyHint(ctx, "acme", alice, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no key: %v", err)
	}
	if _, err := v.APIKeyHint(ctx, "beta", alice, "svc"); err == nil {
		t.Error("another tenant's key")
	}
}

func FuzzKeyHint(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefgh", "sk-live-0123456789abcdef3f9a", "ключ-секретный-ёжик", "\xff\xfe\xfd\xfc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		h := keyHint(key)
		if len(h) > len(key) || !strings.HasSuffix(string(key), h) {
			t.Fatalf("keyHint(%q) = %q: not a suffix", key, h)
		}
		if 4*len([]rune(h)) > len([]rune(string(key))) || len([]rune(h)) > 4 {
			t.Fatalf("keyHint(%q) = %q: too much of the key", key, h)
		}
	})
}
