package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	if _, err := e.whoami(e.user); !isConsent(err) {
		t.Fatalf("before consent: want ErrConsentRequired, got %v", err)
	}
	authURL := e.authURL(e.user, "gh", nil)
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("state")) != 43 || q.Get("scope") != "read:user" ||
		q.Get("redirect_uri") != e.srv.URL+"/acme/oauth/external_callback/gh" || q.Get("code_verifier") != "" {
		t.Fatalf("authorization url has unexpected parameters: %v", q)
	}
	cb := e.fake.Authorize(t, authURL)
	status, body, h := e.get(cb)
	if status != http.StatusOK || !strings.Contains(body, "Connected to gh. You can go back to your chat.") {
		t.Fatalf("callback: %d %q", status, body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("security headers missing: %v", h)
	}
	login, err := e.whoami(e.user)
	if err != nil || login != "octocat" {
		t.Fatalf("whoami = %q, %v", login, err)
	}
	ts := e.mustStored(e.user)
	if ts.Status != "connected" || ts.AccessToken == "" || ts.RefreshToken == "" || ts.Expiry.IsZero() ||
		!slices.Equal(ts.Scopes, []string{"read:user"}) || !strings.EqualFold(ts.TokenType, "bearer") {
		t.Fatalf("stored token set incomplete: status=%q scopes=%v type=%q", ts.Status, ts.Scopes, ts.TokenType)
	}
	// The user's connection is listed, without tokens.
	conns, err := e.m.Connections(t.Context(), "acme", e.user.UserID)
	if err != nil || len(conns) != 1 || conns[0].Provider != "gh" || conns[0].Status != "connected" || !conns[0].Refreshable {
		t.Fatalf("Connections = %+v, %v", conns, err)
	}
	raw, _ := json.Marshal(conns)
	if strings.Contains(string(raw), ts.AccessToken) || strings.Contains(string(raw), ts.RefreshToken) {
		t.Fatal("Connections leaked a token")
	}
	// Replaying the callback stores nothing new and says why.
	writes := e.store.writes.Load()
	status, body, _ = e.get(cb)
	if status != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Fatalf("replay: %d %q", status, body)
	}
	if e.store.writes.Load() != writes {
		t.Fatal("replayed callback stored something")
	}
}

func TestConnectHook(t *testing.T) {
	e := newEnv(t)
	var got []string
	m := e.newManager(WithConnectHook(func(_ context.Context, o Owner, provider string) {
		got = append(got, o.TenantID+"/"+o.SessionID+"/"+provider)
	}))
	srv := e.serve(m)
	status, _ := e.browser.Connect(t, e.fake, e.consentURL(m, e.guest, "gh", nil))
	if status != http.StatusOK || !slices.Equal(got, []string{"acme/g1/gh"}) || srv == nil {
		t.Fatalf("status %d, hook calls %v", status, got)
	}
}

func TestCallbackRejects(t *testing.T) {
	e := newEnv(t)
	fast := e.newManager(WithStateTTL(time.Second))
	e.serve(fast)
	cases := []struct {
		name string
		url  func() string
		want string
	}{
		{"replayed state", func() string {
			cb := e.authorize(e.user, "gh", nil)
			_, _, _ = e.get(e.callbackURL(cb, "acme", "other")) // consumes the state, stores nothing
			return cb
		}, "already used"},
		{"expired state", func() string {
			cb := e.fake.Authorize(t, e.authURLWith(fast, e.user, "gh", nil))
			time.Sleep(1200 * time.Millisecond)
			return cb
		}, "expired"},
		{"foreign provider", func() string {
			return e.callbackURL(e.authorize(e.user, "gh", nil), "acme", "other")
		}, "does not belong"},
		{"unknown state", func() string {
			return e.srv.URL + "/acme/oauth/external_callback/gh?code=abc&state=" + strings.Repeat("A", 43)
		}, "unknown or was already used"},
		{"malformed state", func() string {
			return e.srv.URL + "/acme/oauth/external_callback/gh?code=abc&state=%3Cscript%3E"
		}, "malformed"},
		{"missing code", func() string {
			cb := e.authorize(e.user, "gh", nil)
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Del("code")
			u.RawQuery = q.Encode()
			return u.String()
		}, "no authorization code"},
		{"pkce mismatch", func() string {
			// The code of one authorization with the state (and so the
			// verifier) of another: the provider's PKCE check fails.
			cb1, _ := url.Parse(e.authorize(e.user, "gh", nil))
			cb2, _ := url.Parse(e.authorize(e.user, "gh", nil))
			q := cb2.Query()
			q.Set("code", cb1.Query().Get("code"))
			cb2.RawQuery = q.Encode()
			return cb2.String()
		}, "refused to exchange"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := c.url()
			before := e.store.writes.Load()
			status, body, h := e.get(target)
			if status != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %q, want 400 containing %q", status, body, c.want)
			}
			if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Fatal("error page without CSP")
			}
			if e.store.writes.Load() != before {
				t.Fatal("a rejected callback stored something")
			}
			e.assertNothingStored(e.user)
			e.assertNothingStored(e.xuser)
		})
	}
	// The foreign-provider attempt consumed its state: using it at the
	// right address afterwards fails too.
	cb := e.authorize(e.user, "gh", nil)
	_, _, _ = e.get(e.callbackURL(cb, "acme", "other"))
	if status, _, _ := e.get(cb); status != http.StatusBadRequest {
		t.Fatalf("state reused after a foreign attempt: %d", status)
	}
	e.assertNothingStored(e.user)
	// Another tenant's callback address never gets the flow's cookie
	// (scoped to /acme/oauth/): refused, and the state is not spent.
	cb = e.authorize(e.user, "gh", nil)
	if status, body, _ := e.get(e.callbackURL(cb, "globex", "gh")); status != http.StatusForbidden || !strings.Contains(body, "not started in this browser") {
		t.Fatalf("foreign tenant: %d %q", status, body)
	}
	e.assertNothingStored(e.user)
	if status, _, _ := e.get(cb); status != http.StatusOK {
		t.Fatalf("the right browser after a foreign attempt: %d", status)
	}
	// The PKCE failure happened at the provider.
	if e.fake.TokenRequests() == 0 {
		t.Fatal("no token request reached the fake")
	}
}

func TestProviderError(t *testing.T) {
	e := newEnv(t)
	e.fake.DenyNext("access_denied")
	cb := e.authorize(e.user, "gh", nil)
	if !strings.Contains(cb, "error=access_denied") {
		t.Fatalf("fake did not deny: %s", cb)
	}
	status, body, _ := e.get(cb)
	if status != http.StatusBadRequest || !strings.Contains(body, "declined") || !strings.Contains(body, "Nothing was stored") {
		t.Fatalf("got %d %q", status, body)
	}
	e.assertNothingStored(e.user)
	// The page shows a fixed message per error code and nothing the
	// provider wrote (error_description, unknown codes); the state is
	// consumed.
	e.fake.DenyNext("server_error")
	cb = e.authorize(e.user, "gh", nil)
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("error_description", "Visit evil.example to fix your account <script>alert(1)</script>")
	u.RawQuery = q.Encode()
	status, body, _ = e.get(u.String())
	if status != http.StatusBadRequest || strings.Contains(body, "evil.example") || strings.Contains(body, "alert") ||
		!strings.Contains(body, "gh had a problem") {
		t.Fatalf("got %d %q", status, body)
	}
	e.fake.DenyNext("please_call_+1-555-0100")
	cb = e.authorize(e.user, "gh", nil)
	if status, body, _ := e.get(cb); status != http.StatusBadRequest || strings.Contains(body, "555") || !strings.Contains(body, "returned an error") {
		t.Fatalf("unknown error code: %d %q", status, body)
	}
	if status, _, _ = e.get(u.String()); status != http.StatusBadRequest {
		t.Fatal("state of a provider error not consumed")
	}
	if e.store.writes.Load() != 0 {
		t.Fatal("provider error stored something")
	}
}

func TestRefreshBeforeExpiryRotates(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	old := e.mustStored(e.user)
	e.setExpiry(e.user, time.Now().Add(30*time.Second)) // within the 60s leeway
	if _, err := e.whoami(e.user); err != nil {
		t.Fatal(err)
	}
	if e.fake.Refreshes() != 1 {
		t.Fatalf("refreshes = %d, want 1", e.fake.Refreshes())
	}
	now := e.mustStored(e.user)
	if now.RefreshToken == old.RefreshToken || now.AccessToken == old.AccessToken {
		t.Fatal("tokens not replaced after refresh")
	}
	if e.fake.RefreshTokenValid(old.RefreshToken) {
		t.Fatal("fake still accepts the old refresh token (no rotation)")
	}
	if !e.fake.RefreshTokenValid(now.RefreshToken) {
		t.Fatal("stored refresh token is not the rotated one")
	}
	if time.Until(now.Expiry) < 30*time.Minute {
		t.Fatalf("new expiry too soon: %v", now.Expiry)
	}
	// Fresh token: no further refresh.
	if _, err := e.whoami(e.user); err != nil || e.fake.Refreshes() != 1 {
		t.Fatalf("unexpected refresh: %d, %v", e.fake.Refreshes(), err)
	}
}

func TestUnauthorizedRefreshesOnceAndRetries(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	e.fake.ExpireAccessTokens()
	calls := e.fake.APICalls()
	if login, err := e.whoami(e.user); err != nil || login != "octocat" {
		t.Fatalf("whoami after 401 = %q, %v", login, err)
	}
	if e.fake.Refreshes() != 1 || e.fake.APICalls()-calls != 2 {
		t.Fatalf("refreshes=%d apiCalls=%d, want 1 and 2", e.fake.Refreshes(), e.fake.APICalls()-calls)
	}

	c, err := e.m.Client(t.Context(), e.user, "gh", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("replayable body", func(t *testing.T) {
		e.fake.ExpireAccessTokens()
		resp, err := c.Post(e.fake.APIURL("/api/echo"), "text/plain", strings.NewReader("hello body"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "hello body" {
			t.Fatalf("echo after 401 retry: %d %q", resp.StatusCode, b)
		}
	})
	t.Run("body without GetBody is not retried", func(t *testing.T) {
		e.fake.ExpireAccessTokens()
		before := e.fake.Refreshes()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.fake.APIURL("/api/echo"), io.NopCloser(strings.NewReader("x")))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || e.fake.Refreshes() != before {
			t.Fatalf("status %d refreshes %d->%d", resp.StatusCode, before, e.fake.Refreshes())
		}
	})
	t.Run("still 401 after refresh is returned, no loop", func(t *testing.T) {
		before := e.fake.Refreshes()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.fake.APIURL("/api/user"), nil)
		req.Header.Set("X-Test", "1")
		e.fake.FailNext(2, http.StatusUnauthorized, "")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || e.fake.Refreshes()-before != 1 {
			t.Fatalf("status %d refreshes %d", resp.StatusCode, e.fake.Refreshes()-before)
		}
	})
}

func TestRevokedRefreshNeedsConsent(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	e.fake.RevokeRefreshTokens()
	e.fake.ExpireAccessTokens()
	tokenReqs := e.fake.TokenRequests()
	_, err := e.whoami(e.user)
	if !isConsent(err) {
		t.Fatalf("want ErrConsentRequired, got %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("want the error through *url.Error, got %T", err)
	}
	// One refresh attempt (x/oauth2 may probe both client-auth styles), no loop.
	if n := e.fake.TokenRequests() - tokenReqs; n < 1 || n > 2 {
		t.Fatalf("token requests = %d", n)
	}
	ts, err := e.stored(e.user)
	if err != nil || ts.Status != "expired" || ts.AccessToken != "" || ts.RefreshToken != "" {
		t.Fatalf("stored after refusal: status=%q access=%v refresh=%v err=%v", ts.Status, ts.AccessToken != "", ts.RefreshToken != "", err)
	}
	conns, err := e.m.Connections(t.Context(), "acme", e.user.UserID)
	if err != nil || len(conns) != 1 || conns[0].Status != "expired" || conns[0].Refreshable {
		t.Fatalf("Connections = %+v, %v", conns, err)
	}
	tokenReqs = e.fake.TokenRequests()
	if _, err := e.m.Client(t.Context(), e.user, "gh", nil); !isConsent(err) {
		t.Fatalf("next Client: want ErrConsentRequired, got %v", err)
	}
	if e.fake.TokenRequests() != tokenReqs {
		t.Fatal("a dead connection was refreshed again")
	}
	// Consent again and it works.
	e.connect(e.user)
	if _, err := e.whoami(e.user); err != nil {
		t.Fatal(err)
	}
}

func TestTransientRetries(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	c, err := e.m.Client(t.Context(), e.user, "gh", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		method     string
		n, status  int
		retryAfter string
		timeout    time.Duration
		wantStatus int
		wantCalls  int
		minElapsed time.Duration
		maxElapsed time.Duration
	}{
		{name: "503 twice then ok", method: "GET", n: 2, status: 503, wantStatus: 200, wantCalls: 3},
		{name: "503 beyond the retries", method: "GET", n: 5, status: 503, wantStatus: 503, wantCalls: 4},
		{name: "429 honours Retry-After seconds", method: "GET", n: 1, status: 429, retryAfter: "1", wantStatus: 200, wantCalls: 2, minElapsed: 900 * time.Millisecond},
		{name: "429 with a past HTTP date", method: "GET", n: 1, status: 429, retryAfter: "Mon, 02 Jan 2006 15:04:05 GMT", wantStatus: 200, wantCalls: 2},
		{name: "502 on POST is not retried", method: "POST", n: 1, status: 502, wantStatus: 502, wantCalls: 1},
		{name: "503 on POST is retried", method: "POST", n: 1, status: 503, wantStatus: 200, wantCalls: 2},
		{name: "Retry-After beyond the deadline returns at once", method: "GET", n: 1, status: 429, retryAfter: "10", timeout: 2 * time.Second, wantStatus: 429, wantCalls: 1, maxElapsed: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			target, body := e.fake.UserinfoURL(), io.Reader(nil)
			if tc.method == "POST" {
				target, body = e.fake.APIURL("/api/echo"), strings.NewReader("payload")
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, target, body)
			e.fake.FailNext(tc.n, tc.status, tc.retryAfter)
			calls := e.fake.APICalls()
			start := time.Now()
			resp, err := c.Do(req)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || e.fake.APICalls()-calls != tc.wantCalls {
				t.Fatalf("status %d calls %d, want %d and %d", resp.StatusCode, e.fake.APICalls()-calls, tc.wantStatus, tc.wantCalls)
			}
			if elapsed < tc.minElapsed || (tc.maxElapsed > 0 && elapsed > tc.maxElapsed) {
				t.Fatalf("elapsed %v, want in [%v, %v]", elapsed, tc.minElapsed, tc.maxElapsed)
			}
		})
		// Drain leftover injected failures so cases stay independent.
		for range 8 {
			resp, err := c.Get(e.fake.UserinfoURL())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"99999999999999999", maxRetryAfter, true},
		{"120", maxRetryAfter, true},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"soon", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := parseRetryAfter(c.in, now)
			if got != c.want || ok != c.ok {
				t.Fatalf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestBackoffCapped(t *testing.T) {
	m := NewManager(newMemStore())
	for n := range 40 {
		d := m.backoff(n)
		if d < 0 || d > defaultRetryCap {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
	if d := m.backoff(0); d < defaultRetryBase/2 || d > defaultRetryBase {
		t.Fatalf("backoff(0) = %v", d)
	}
}

func TestConcurrentRefreshSingleFlight(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	e.setExpiry(e.user, time.Now().Add(10*time.Second))
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			c, err := e.m.Client(context.Background(), e.user, "gh", nil)
			if err != nil {
				errs <- err
				return
			}
			resp, err := c.Get(e.fake.UserinfoURL())
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- errors.New(resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.fake.Refreshes(); got != 1 {
		t.Fatalf("refreshes = %d, want 1", got)
	}
	if !e.fake.RefreshTokenValid(e.mustStored(e.user).RefreshToken) {
		t.Fatal("stored refresh token is not the live one")
	}
}

func TestIsolation(t *testing.T) {
	e := newEnv(t)
	e.connect(e.guest)
	if login, err := e.whoami(e.guest); err != nil || login != "octocat" {
		t.Fatalf("guest whoami = %q, %v", login, err)
	}
	for name, o := range map[string]Owner{
		"another guest session":           e.guest2,
		"a registered user":               e.user,
		"another tenant":                  e.xuser,
		"same session id, another tenant": {TenantID: "globex", SessionID: "g1"},
	} {
		t.Run("guest token invisible to "+name, func(t *testing.T) {
			if _, err := e.m.Client(t.Context(), o, "gh", nil); err == nil {
				t.Fatal("got a client")
			}
		})
	}
	t.Run("guest token is per provider", func(t *testing.T) {
		if _, err := e.m.Client(t.Context(), e.guest, "other", nil); !isConsent(err) {
			t.Fatalf("want ErrConsentRequired for another provider, got %v", err)
		}
	})
	infos, err := e.store.ListCredentials(t.Context(), "acme", "")
	if err != nil || len(infos) != 0 {
		t.Fatalf("guest token persisted as a credential: %v %v", infos, err)
	}

	e.connect(e.user)
	for name, o := range map[string]Owner{
		"a guest":                      e.guest2,
		"another user":                 e.user2,
		"user of another tenant":       e.xuser,
		"same user id, another tenant": {TenantID: "globex", UserID: e.user.UserID},
	} {
		t.Run("user token invisible to "+name, func(t *testing.T) {
			if _, err := e.m.Client(t.Context(), o, "gh", nil); err == nil {
				t.Fatal("got a client")
			}
		})
	}
	if _, err := e.m.Client(t.Context(), e.user, "other", nil); !isConsent(err) {
		t.Fatalf("user token leaked to another provider: %v", err)
	}
	if e.mustStored(e.user).AccessToken == e.mustStored(e.guest).AccessToken {
		t.Fatal("user and guest share a token")
	}
	if _, err := e.m.Client(t.Context(), Owner{TenantID: "acme"}, "gh", nil); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("owner without user or session: %v", err)
	}
}

func TestGuestTokenDiesWithSession(t *testing.T) {
	e := newEnv(t)
	if e.v == nil {
		t.Skip("needs the vault")
	}
	e.connect(e.guest)
	if err := e.v.DeleteSession(t.Context(), "acme", "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Client(t.Context(), e.guest, "gh", nil); !isConsent(err) {
		t.Fatalf("want ErrConsentRequired, got %v", err)
	}
}

func TestUserTokensPersist(t *testing.T) {
	path := t.TempDir() + "/plexus.db"
	kr := vaulttest.NewKeyring()
	e := newEnv(t, func(c *envConfig) { c.path, c.keyring = path, kr })
	if e.v == nil {
		t.Skip("needs the vault")
	}
	e.connect(e.user)
	want := e.mustStored(e.user)
	if err := e.v.Close(); err != nil {
		t.Fatal(err)
	}
	v2 := vaulttest.NewAt(t, path, kr)
	m2 := NewManager(v2, WithBaseURL(e.srv.URL))
	c, err := m2.Client(t.Context(), e.user, "gh", []string{"read:user"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(e.fake.UserinfoURL())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after reopen: %v %v", resp, err)
	}
	resp.Body.Close()
	got, err := m2.load(t.Context(), e.user, "gh", "")
	if err != nil || got.ts.RefreshToken != want.RefreshToken {
		t.Fatalf("token not persisted: %v", err)
	}
	e.store.Store = v2 // for the log check at cleanup
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	ts := e.mustStored(e.user)
	if err := e.m.Disconnect(t.Context(), e.user, "gh"); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Revocations(); !slices.Equal(got, []string{"refresh_token", "access_token"}) {
		t.Fatalf("revocations = %v", got)
	}
	if e.fake.RefreshTokenValid(ts.RefreshToken) || e.fake.AccessTokenValid(ts.AccessToken) {
		t.Fatal("tokens still valid at the provider")
	}
	if _, err := e.m.Client(t.Context(), e.user, "gh", nil); !isConsent(err) {
		t.Fatalf("after disconnect: %v", err)
	}
	if conns, err := e.m.Connections(t.Context(), "acme", e.user.UserID); err != nil || len(conns) != 0 {
		t.Fatalf("Connections = %v, %v", conns, err)
	}
	if err := e.m.Disconnect(t.Context(), e.user, "gh"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("second disconnect: %v", err)
	}

	e.connect(e.guest)
	if err := e.m.Disconnect(t.Context(), e.guest, "gh"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Client(t.Context(), e.guest, "gh", nil); !isConsent(err) {
		t.Fatalf("guest after disconnect: %v", err)
	}
	if len(e.fake.Revocations()) != 4 {
		t.Fatalf("guest tokens not revoked: %v", e.fake.Revocations())
	}
}

func TestScopes(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	if _, err := e.m.Client(t.Context(), e.user, "gh", []string{"repo"}); !isConsent(err) {
		t.Fatalf("missing scope: want ErrConsentRequired, got %v", err)
	}
	cb := e.authorize(e.user, "gh", []string{"read:user", "repo"})
	if status, body, _ := e.get(cb); status != 200 {
		t.Fatalf("callback: %d %s", status, body)
	}
	if _, err := e.m.Client(t.Context(), e.user, "gh", []string{"repo"}); err != nil {
		t.Fatalf("after granting repo: %v", err)
	}
}

func TestGrantedScopesWin(t *testing.T) {
	e := newEnv(t, withFake(oauthtest.WithGrantedScopes("read:user")))
	cb := e.authorize(e.user, "gh", []string{"read:user", "admin"})
	if status, _, _ := e.get(cb); status != 200 {
		t.Fatal(status)
	}
	if _, err := e.m.Client(t.Context(), e.user, "gh", []string{"admin"}); !isConsent(err) {
		t.Fatalf("scope asked but not granted: %v", err)
	}
}

func TestUnknownProvider(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "nope"}); !errors.Is(err, ErrUnknownProvider) {
		t.Fatalf("ConsentURL: %v", err)
	}
	if _, err := e.m.Client(t.Context(), e.user, "nope", nil); !errors.Is(err, ErrUnknownProvider) {
		t.Fatalf("Client: %v", err)
	}
	if _, err := NewManager(e.store).ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "gh"}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("no base url: %v", err)
	}
}

func TestResourceSentOnEveryTokenRequest(t *testing.T) {
	const res = "https://api.example.test/"
	e := newEnv(t, withResource(res), withFake(oauthtest.WithRequiredResource(res)))
	authURL := e.authURL(e.user, "gh", nil)
	if u, _ := url.Parse(authURL); u.Query().Get("resource") != res {
		t.Fatalf("authorization url without resource: %s", authURL)
	}
	cb := e.fake.Authorize(t, authURL)
	if status, body, _ := e.get(cb); status != 200 {
		t.Fatalf("callback: %d %s", status, body)
	}
	e.fake.ExpireAccessTokens()
	if _, err := e.whoami(e.user); err != nil {
		t.Fatalf("refresh with resource: %v", err)
	}
	got := e.fake.Resources()
	if len(got) != 3 || slices.ContainsFunc(got, func(s string) bool { return s != res }) {
		t.Fatalf("resources seen = %v, want 3x %s (authorize, exchange, refresh)", got, res)
	}
}

func TestPresets(t *testing.T) {
	ps := Presets()
	names := []string{}
	for _, p := range ps {
		names = append(names, p.Name)
		if !strings.HasPrefix(p.AuthorizationURL, "https://") || !strings.HasPrefix(p.TokenURL, "https://") || len(p.Scopes) == 0 || p.DisplayName == "" {
			t.Errorf("preset %s incomplete: %+v", p.Name, p)
		}
	}
	if !slices.Equal(names, []string{"github", "google", "slack", "microsoft"}) {
		t.Fatalf("presets = %v", names)
	}
	g, ok := LookupPreset("google")
	if !ok || g.RevocationURL != "https://oauth2.googleapis.com/revoke" {
		t.Fatalf("LookupPreset(google) = %+v %v", g, ok)
	}
	g.Scopes[0] = "mutated"
	if g2, _ := LookupPreset("google"); g2.Scopes[0] != "openid" {
		t.Fatal("presets share state")
	}
	if _, ok := LookupPreset("nope"); ok {
		t.Fatal("unknown preset found")
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("https://user:pw@example.com/cb?code=secret&state=s#frag")
	if got != "https://example.com/cb" {
		t.Fatalf("redactURL = %q", got)
	}
}

func TestWithoutRefreshTokens(t *testing.T) {
	e := newEnv(t, withFake(oauthtest.WithoutRefreshTokens()))
	e.connect(e.user)
	if _, err := e.whoami(e.user); err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireAccessTokens() // a revoked GitHub token: 401, nothing to refresh with
	if _, err := e.whoami(e.user); !isConsent(err) {
		t.Fatalf("want ErrConsentRequired, got %v", err)
	}
	if ts := e.mustStored(e.user); ts.Status != "expired" || ts.AccessToken != "" {
		t.Fatalf("status %q after a refused token without refresh token", ts.Status)
	}
}

func TestWithoutRotation(t *testing.T) {
	e := newEnv(t, withFake(oauthtest.WithoutRotation()))
	e.connect(e.user)
	rt := e.mustStored(e.user).RefreshToken
	for i := range 2 {
		e.fake.ExpireAccessTokens()
		if _, err := e.whoami(e.user); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if e.fake.Refreshes() != 2 || e.mustStored(e.user).RefreshToken != rt {
		t.Fatal("the unrotated refresh token was not kept")
	}
}

func TestGuestSessionGoneAtCallback(t *testing.T) {
	e := newEnv(t)
	if e.v == nil {
		t.Skip("needs the vault")
	}
	cb := e.authorize(e.guest, "gh", nil)
	if err := e.v.DeleteSession(t.Context(), "acme", "g1"); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := e.get(cb); status != http.StatusBadRequest || !strings.Contains(body, "no longer exists") {
		t.Fatalf("got %d %q", status, body)
	}
}

// TestAuthorizationHeaderIsBearer: whatever token_type a provider reports
// (Slack answers "bot" or "user"), the API gets "Bearer <token>".
func TestAuthorizationHeaderIsBearer(t *testing.T) {
	for _, typ := range []string{"", "bearer", "Bearer", "bot", "user"} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/api", nil)
		out, err := prepare(req, tokenSet{AccessToken: "tok", TokenType: typ}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("token_type %q: Authorization = %q, want \"Bearer tok\"", typ, got)
		}
	}
}
