package vault

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const testLinkKey = "KEY-LINK-API-KEY-canary-7d1e"

// testLink is a valid key link of userID (a guest session "guest-1" when
// userID is "") for provider, expiring ttl after the test clock's start.
func testLink(tenantID, userID, provider, id string, ttl time.Duration) APIKeyLink {
	l := APIKeyLink{
		ID: id, TenantID: tenantID, UserID: userID, Provider: provider,
		Tool: "weather", Client: "Claude", KeyName: "Weather API key",
		Instructions: "Get one at https://weather.example.com/keys.",
		ExpiresAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(ttl),
	}
	if userID == "" {
		l.SessionID = "guest-1"
	}
	return l
}

func TestAPIKeyLinkRedeemStoresForTheLinksOwnerOnce(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	bob := mustUser(t, v, "acme", "bob")
	in := testLink("acme", alice, "weather", "link-0123456789abcdef", 10*time.Minute)
	if err := v.PutAPIKeyLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := v.PutAPIKeyLink(ctx, in); !errors.Is(err, ErrExists) {
		t.Fatalf("second put = %v, want ErrExists", err)
	}
	got, err := v.GetAPIKeyLink(ctx, "acme", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.CreatedAt = clk.Now()
	if got != want {
		t.Fatalf("get = %+v\nwant  %+v", got, want)
	}
	// Reading does not consume; the wrong tenant sees nothing.
	if _, err := v.GetAPIKeyLink(ctx, "acme", in.ID); err != nil {
		t.Fatalf("second get: %v", err)
	}
	mustTenant(t, v, "other")
	if _, err := v.RedeemAPIKeyLink(ctx, "other", in.ID, []byte(testLinkKey)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("redeem on another tenant = %v, want ErrNotFound", err)
	}
	// A bad key consumes nothing and is never echoed.
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(" \t ")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("redeem with a blank key = %v, want ErrInvalid", err)
	}
	l, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(testLinkKey))
	if err != nil || l.UserID != alice || l.Provider != "weather" {
		t.Fatalf("redeem = %+v, %v", l, err)
	}
	if b, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); err != nil || string(b) != testLinkKey {
		t.Fatalf("alice's key = %q, %v", b, err)
	}
	if _, err := v.GetCredential(ctx, "acme", bob, CredentialAPIKey, "weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob got a key: %v", err)
	}
	if _, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "github"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another provider got the key: %v", err)
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte("again")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second redeem = %v, want ErrNotFound", err)
	}
	if _, err := v.GetAPIKeyLink(ctx, "acme", in.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after redeem = %v, want ErrNotFound", err)
	}
}

func TestAPIKeyLinkGuestKeyGoesToItsSession(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	for _, id := range []string{"guest-1", "guest-2"} {
		if err := v.CreateSession(ctx, Session{ID: id, TenantID: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	in := testLink("acme", "", "weather", "guest-link-0123456789", 10*time.Minute)
	if err := v.PutAPIKeyLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got, err := v.GetAPIKeyLink(ctx, "acme", in.ID); err != nil || got.SessionID != "guest-1" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(testLinkKey)); err != nil {
		t.Fatal(err)
	}
	if b, err := v.GetSessionValue(ctx, "acme", "guest-1", GuestAPIKeyPrefix+"weather"); err != nil || string(b) != testLinkKey {
		t.Fatalf("guest-1's key = %q, %v", b, err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "guest-2", GuestAPIKeyPrefix+"weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("guest-2 got a key: %v", err)
	}
	// A link whose session is gone stores nothing.
	gone := testLink("acme", "", "weather", "gone-link-0123456789a", 10*time.Minute)
	gone.SessionID = "guest-2"
	if err := v.PutAPIKeyLink(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteSession(ctx, "acme", "guest-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", gone.ID, []byte(testLinkKey)); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrOwnerGone) {
		t.Fatalf("redeem for a deleted session = %v, want ErrOwnerGone", err)
	}
}

func TestAPIKeyLinkExpires(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	in := testLink("acme", alice, "weather", "expiring-0123456789ab", 5*time.Minute)
	if err := v.PutAPIKeyLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute)
	if _, err := v.GetAPIKeyLink(ctx, "acme", in.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("get expired = %v, want ErrExpired", err)
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(testLinkKey)); !errors.Is(err, ErrExpired) {
		t.Fatalf("redeem expired = %v, want ErrExpired", err)
	}
	if _, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired link stored a key: %v", err)
	}
	if _, err := v.GetAPIKeyLink(ctx, "acme", in.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired link was not consumed: %v", err)
	}
	// Sweeping removes expired links with the OAuth flows.
	in2 := testLink("acme", alice, "weather", "swept-0123456789abcdef", time.Minute)
	in2.ExpiresAt = clk.Now().Add(time.Minute)
	if err := v.PutAPIKeyLink(ctx, in2); err != nil {
		t.Fatal(err)
	}
	if n, err := v.SweepOAuthStates(ctx, clk.Now().Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
}

func TestAPIKeyLinkTakeAndDeletion(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	in := testLink("acme", alice, "weather", "cancelled-0123456789", 10*time.Minute)
	if err := v.PutAPIKeyLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := v.TakeAPIKeyLink(ctx, "acme", in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(testLinkKey)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("redeem after cancel = %v, want ErrNotFound", err)
	}
	// Deleting the user removes its links.
	in2 := testLink("acme", alice, "weather", "user-gone-0123456789", 10*time.Minute)
	if err := v.PutAPIKeyLink(ctx, in2); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteUser(ctx, "acme", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetAPIKeyLink(ctx, "acme", in2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link of a deleted user = %v, want ErrNotFound", err)
	}
}

func TestAPIKeyLinkValidation(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	for _, tc := range []struct {
		name string
		edit func(*APIKeyLink)
		want error
	}{
		{"short id", func(l *APIKeyLink) { l.ID = "short" }, ErrInvalid},
		{"id with a space", func(l *APIKeyLink) { l.ID = "has a space 0123456789" }, ErrInvalid},
		{"bad provider", func(l *APIKeyLink) { l.Provider = "Bad Name" }, ErrInvalid},
		{"no owner", func(l *APIKeyLink) { l.UserID = "" }, ErrInvalid},
		{"no expiry", func(l *APIKeyLink) { l.ExpiresAt = time.Time{} }, ErrInvalid},
		{"control in instructions", func(l *APIKeyLink) { l.Instructions = "line\nbreak" }, ErrInvalid},
		{"long key name", func(l *APIKeyLink) { l.KeyName = strings.Repeat("k", maxKeyNameLen+1) }, ErrInvalid},
		{"unknown user", func(l *APIKeyLink) { l.UserID = "nobody" }, ErrNotFound},
		{"unknown tenant", func(l *APIKeyLink) { l.TenantID = "nope" }, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLink("acme", alice, "weather", "valid-link-0123456789", time.Hour)
			tc.edit(&l)
			if err := v.PutAPIKeyLink(ctx, l); !errors.Is(err, tc.want) {
				t.Fatalf("put = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := v.GetAPIKeyLink(ctx, "acme", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("malformed id = %v, want ErrNotFound", err)
	}
}

// TestAPIKeyLinkConcurrentRedeem: of many concurrent redeems, exactly one
// stores its key.
func TestAPIKeyLinkConcurrentRedeem(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	in := testLink("acme", alice, "weather", "raced-link-0123456789", time.Hour)
	if err := v.PutAPIKeyLink(ctx, in); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.RedeemAPIKeyLink(ctx, "acme", in.ID, []byte(testLinkKey)); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d redeems succeeded, want 1", ok)
	}
}

// TestAPIKeyLinkFileHasNoSecrets: the link id, the guest's session id and
// the key are not in the raw file.
func TestAPIKeyLinkFileHasNoSecrets(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v := openT(t, cfg)
	mustTenant(t, v, "acme")
	const sid = "GUEST-SESSION-canary-51ab"
	if err := v.CreateSession(ctx, Session{ID: sid, TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	pending := testLink("acme", "", "weather", "PENDING-LINK-canary-0a9b", time.Hour)
	pending.ExpiresAt = time.Now().Add(time.Hour)
	pending.SessionID = sid
	used := pending
	used.ID = "USED-LINK-canary-1c2d3e4f"
	for _, l := range []APIKeyLink{pending, used} {
		if err := v.PutAPIKeyLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.RedeemAPIKeyLink(ctx, "acme", used.ID, []byte(testLinkKey)); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pending.ID, used.ID, sid, testLinkKey} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q found in the raw vault file", s)
		}
	}
	if !bytes.Contains(raw, []byte("Weather API key")) {
		t.Fatal("scan is blind: the key name is not in the file")
	}
}
