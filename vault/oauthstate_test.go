package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	testVerifier = "PKCE-VERIFIER-canary-5e6f7a-0123456789abcdefghijklmnop"
	testBrowser  = "BROWSER-BINDING-canary-0a1b2c3d4e5f"
)

// testState is a valid state for userID (or, if userID is "", a guest
// session "guest-1") expiring ttl after the test clock's start.
func testState(tenantID, userID, provider, state string, ttl time.Duration) OAuthState {
	s := OAuthState{
		State:     state,
		TenantID:  tenantID,
		UserID:    userID,
		Provider:  provider,
		Scopes:    []string{"repo"},
		Tool:      "create_issue",
		Verifier:  testVerifier,
		Browser:   testBrowser,
		ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(ttl),
	}
	if userID == "" {
		s.SessionID = "guest-1"
	}
	return s
}

func TestOAuthStateSingleUse(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	in := testState("acme", alice, "github", "state-0123456789abcdef", 10*time.Minute)
	if err := v.PutOAuthState(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := v.PutOAuthState(ctx, in); !errors.Is(err, ErrExists) {
		t.Fatalf("second put = %v, want ErrExists", err)
	}
	got, err := v.TakeOAuthState(ctx, in.State, testBrowser)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.CreatedAt = clk.Now()
	want.Browser = "" // never stored, never returned
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("take = %+v, want %+v", got, want)
	}
	if _, err := v.TakeOAuthState(ctx, in.State, testBrowser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay = %v, want ErrNotFound", err)
	}

	// Guest state.
	guest := testState("acme", "", "github", "guest-state-0123456789", time.Minute)
	if err := v.PutOAuthState(ctx, guest); err != nil {
		t.Fatal(err)
	}
	if got, err := v.TakeOAuthState(ctx, guest.State, testBrowser); err != nil || got.SessionID != "guest-1" || got.UserID != "" {
		t.Fatalf("guest take = %+v, %v", got, err)
	}

	// Expired: ErrExpired, and consumed all the same.
	exp := testState("acme", alice, "github", "expiring-0123456789abc", time.Minute)
	if err := v.PutOAuthState(ctx, exp); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	_, err = v.TakeOAuthState(ctx, exp.State, testBrowser)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("expired take = %v, want ErrExpired", err)
	}
	if strings.Contains(err.Error(), exp.State) || strings.Contains(err.Error(), testVerifier) {
		t.Fatalf("error names the state or verifier: %v", err)
	}
	if _, err := v.TakeOAuthState(ctx, exp.State, testBrowser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired replay = %v, want ErrNotFound", err)
	}

	// Unknown and malformed states.
	for _, s := range []string{"never-stored-0123456789", "", "short", strings.Repeat("x", 129), "with space 0123456789"} {
		if _, err := v.TakeOAuthState(ctx, s, testBrowser); !errors.Is(err, ErrNotFound) {
			t.Errorf("take %q = %v, want ErrNotFound", s, err)
		}
	}
}

// TestOAuthStateConcurrentTake: of many concurrent takes of one state,
// exactly one succeeds.
func TestOAuthStateConcurrentTake(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	st := testState("acme", alice, "github", "racy-state-0123456789", time.Hour)
	if err := v.PutOAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := v.TakeOAuthState(ctx, st.State, testBrowser)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrNotFound):
			t.Errorf("take: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d takes succeeded, want 1", ok)
	}
}

func TestPutOAuthStateRules(t *testing.T) {
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	tests := []struct {
		name   string
		mutate func(*OAuthState)
		want   error
		msg    string
	}{
		{"ok", func(*OAuthState) {}, nil, ""},
		{"16 chars", func(s *OAuthState) { s.State = strings.Repeat("a", 16) }, nil, ""},
		{"128 chars", func(s *OAuthState) { s.State = strings.Repeat("b", 128) }, nil, ""},
		{"no scopes", func(s *OAuthState) { s.Scopes = nil }, nil, ""},
		{"15 chars", func(s *OAuthState) { s.State = strings.Repeat("c", 15) }, ErrInvalid, "oauth state: 16-128"},
		{"129 chars", func(s *OAuthState) { s.State = strings.Repeat("d", 129) }, ErrInvalid, "oauth state: 16-128"},
		{"space", func(s *OAuthState) { s.State = "has a space 0123456789" }, ErrInvalid, "printable ASCII"},
		{"non-ascii", func(s *OAuthState) { s.State = "état-0123456789abcdef" }, ErrInvalid, "printable ASCII"},
		{"bad provider", func(s *OAuthState) { s.Provider = "Git Hub" }, ErrInvalid, "provider name"},
		{"no provider", func(s *OAuthState) { s.Provider = "" }, ErrInvalid, "provider name"},
		{"bad tenant", func(s *OAuthState) { s.TenantID = "" }, ErrInvalid, "tenant id"},
		{"no expiry", func(s *OAuthState) { s.ExpiresAt = time.Time{} }, ErrInvalid, "expires at"},
		{"no owner", func(s *OAuthState) { s.UserID = "" }, ErrInvalid, "user id or"},
		{"bad scope", func(s *OAuthState) { s.Scopes = []string{"a b"} }, ErrInvalid, "scope"},
		{"long verifier", func(s *OAuthState) { s.Verifier = strings.Repeat("v", 129) }, ErrInvalid, "verifier"},
		{"no browser binding", func(s *OAuthState) { s.Browser = "" }, ErrInvalid, "browser binding"},
		{"unknown tenant", func(s *OAuthState) { s.TenantID = "nope" }, ErrNotFound, "tenant"},
		{"unknown user", func(s *OAuthState) { s.UserID = "ghost" }, ErrNotFound, "user"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testState("acme", alice, "github", "rules-state-0123456789-"+string(rune('a'+i)), time.Hour)
			tc.mutate(&s)
			err := v.PutOAuthState(t.Context(), s)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("put: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("put = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestOAuthStateVerifierBoundToState: a sealed verifier moved to another
// state's record does not open.
func TestOAuthStateVerifierBoundToState(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	a := testState("acme", alice, "github", "state-a-0123456789abcdef", time.Hour)
	b := testState("acme", alice, "github", "state-b-0123456789abcdef", time.Hour)
	for _, s := range []OAuthState{a, b} {
		if err := v.PutOAuthState(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	putRaw(t, v, bucketOAuthStates, flowKey(flowState, b.State), copyRaw(t, v, bucketOAuthStates, flowKey(flowState, a.State)))
	if _, err := v.TakeOAuthState(ctx, b.State, testBrowser); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("moved state = %v, want ErrDecrypt", err)
	}
}

func TestSweepOAuthStates(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute, time.Hour} {
		if err := v.PutOAuthState(ctx, testState("acme", alice, "github", "sweep-0123456789-"+string(rune('a'+i)), ttl)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := v.SweepOAuthStates(ctx, clk.Now().Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v, want 1", n, err)
	}
	// SweepSessions sweeps states too.
	if _, err := v.SweepSessions(ctx, clk.Now().Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.TakeOAuthState(ctx, "sweep-0123456789-b", testBrowser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state after SweepSessions = %v, want ErrNotFound", err)
	}
	if _, err := v.TakeOAuthState(ctx, "sweep-0123456789-c", testBrowser); err != nil {
		t.Fatalf("live state swept: %v", err)
	}
}

// TestOAuthStateBoundToBrowser (acceptance 4): a state taken without the
// browser binding it was made for, or with another one, is refused and
// not consumed; the right browser then takes it.
func TestOAuthStateBoundToBrowser(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	st := testState("acme", alice, "github", "bound-state-0123456789", time.Hour)
	if err := v.PutOAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"", "another-browser-0123456789", testBrowser + "x"} {
		_, err := v.TakeOAuthState(ctx, st.State, b)
		if !errors.Is(err, ErrBrowserMismatch) {
			t.Fatalf("take with browser %q = %v, want ErrBrowserMismatch", b, err)
		}
		if strings.Contains(err.Error(), st.State) {
			t.Fatal("error names the state")
		}
	}
	if _, err := v.TakeOAuthState(ctx, st.State, testBrowser); err != nil {
		t.Fatalf("take by the approving browser: %v", err)
	}
}

// TestOAuthFlowsStoredAsHashes (acceptance 5): neither a state, nor a
// browser binding, nor a consent link id is a key or a value in the file's
// states bucket; only their SHA-256 is.
func TestOAuthFlowsStoredAsHashes(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	st := testState("acme", alice, "github", "STATE-canary-0123456789", time.Hour)
	if err := v.PutOAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	c := OAuthConsent{ID: "CONSENT-ID-canary-0123456789", TenantID: "acme", UserID: alice, Provider: "github",
		Tool: "github_whoami", ExpiresAt: st.ExpiresAt}
	if err := v.PutOAuthConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = v.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOAuthStates).ForEach(func(k, val []byte) error {
			n++
			for _, secret := range []string{st.State, testBrowser, c.ID, testVerifier} {
				if bytes.Contains(k, []byte(secret)) || bytes.Contains(val, []byte(secret)) {
					t.Errorf("a secret is stored in the clear (%d bytes)", len(secret))
				}
			}
			if len(k) != 1+sha256.Size {
				t.Errorf("key of %d bytes, want a kind byte and a SHA-256", len(k))
			}
			return nil
		})
	})
	if n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

// TestOAuthConsentLink: a consent link reads many times, is taken once,
// expires, and keeps what the page shows.
func TestOAuthConsentLink(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	c := OAuthConsent{ID: "consent-0123456789abcdef", TenantID: "acme", UserID: alice, Provider: "github",
		Scopes: []string{"repo", "repo"}, Tool: "github_list_repos", Client: "Claude", ExpiresAt: clk.Now().Add(time.Minute)}
	if err := v.PutOAuthConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := v.PutOAuthConsent(ctx, c); !errors.Is(err, ErrExists) {
		t.Fatalf("second put = %v, want ErrExists", err)
	}
	for range 2 {
		got, err := v.GetOAuthConsent(ctx, c.ID)
		if err != nil || got.Tool != "github_list_repos" || got.Client != "Claude" || len(got.Scopes) != 1 || got.UserID != alice {
			t.Fatalf("get = %+v, %v", got, err)
		}
	}
	// A state and a consent with the same secret do not mix.
	if _, err := v.TakeOAuthState(ctx, c.ID, testBrowser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("consent id taken as a state: %v", err)
	}
	if got, err := v.TakeOAuthConsent(ctx, c.ID); err != nil || got.Provider != "github" {
		t.Fatalf("take = %+v, %v", got, err)
	}
	for _, f := range []func(context.Context, string) (OAuthConsent, error){v.GetOAuthConsent, v.TakeOAuthConsent} {
		if _, err := f(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after take: %v, want ErrNotFound", err)
		}
	}
	exp := c
	exp.ID = "consent-expiring-0123456789"
	if err := v.PutOAuthConsent(ctx, exp); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := v.GetOAuthConsent(ctx, exp.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired get = %v", err)
	}
	if _, err := v.TakeOAuthConsent(ctx, exp.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired take = %v", err)
	}
	bad := c
	bad.ID, bad.Client = "consent-bad-0123456789", "line\nbreak"
	if err := v.PutOAuthConsent(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("control character in client = %v", err)
	}
}

// TestGuestFlowSessionSealed: a guest's session id (the guest's identity)
// is never stored in the clear in a pending state or consent link, and
// comes back intact when the flow is taken.
func TestGuestFlowSessionSealed(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	const sid = "mcp-session-GUEST-canary-0123456789"
	st := OAuthState{State: "guest-state-0123456789", TenantID: "acme", SessionID: sid, Provider: "github",
		Verifier: testVerifier, Browser: testBrowser, ExpiresAt: time.Now().Add(time.Hour)}
	if err := v.PutOAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	c := OAuthConsent{ID: "guest-consent-0123456789", TenantID: "acme", SessionID: sid, Provider: "github",
		Tool: "github_whoami", ExpiresAt: st.ExpiresAt}
	if err := v.PutOAuthConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	_ = v.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOAuthStates).ForEach(func(k, val []byte) error {
			if bytes.Contains(val, []byte(sid)) || bytes.Contains(val, []byte("GUEST-canary")) {
				t.Error("a guest's session id is stored in the clear")
			}
			return nil
		})
	})
	got, err := v.GetOAuthConsent(ctx, c.ID)
	if err != nil || got.SessionID != sid {
		t.Fatalf("consent session = %v", err)
	}
	if got, err = v.TakeOAuthConsent(ctx, c.ID); err != nil || got.SessionID != sid {
		t.Fatalf("taken consent session = %v", err)
	}
	taken, err := v.TakeOAuthState(ctx, st.State, testBrowser)
	if err != nil || taken.SessionID != sid || taken.UserID != "" {
		t.Fatalf("taken state: user %q, %v (session restored: %v)", taken.UserID, err, taken.SessionID == sid)
	}
}
