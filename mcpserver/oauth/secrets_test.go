package oauth

// Tests of issue 13, "secrets go only where they belong": each names the
// acceptance line it shows.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth/oauthtest"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// TestTokenOnlyToAPIOrigins (acceptance 1): the access token reaches the
// provider's API origin, follows a redirect within it, but a redirect to
// another origin is not followed (the caller gets the redirect as an
// error) and a request for another origin is refused naming it; the other
// origin never sees the token.
func TestTokenOnlyToAPIOrigins(t *testing.T) {
	for _, who := range []string{"user", "guest"} {
		t.Run(who, func(t *testing.T) {
			e := newEnv(t)
			o := e.user
			if who == "guest" {
				o = e.guest
			}
			e.connect(o)
			c, err := e.m.Client(t.Context(), o, "gh", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Get(e.fake.APIURL("/api/here"))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("same-origin redirect: %v %v", resp, err)
			}
			resp.Body.Close()

			_, err = c.Get(e.fake.APIURL("/api/away"))
			var re *egress.RedirectError
			if !errors.As(err, &re) || re.To != egress.Origin(e.fake.Second.URL) {
				t.Fatalf("redirect to another origin: %v, want a RedirectError", err)
			}

			_, err = c.Get(e.fake.Second.URL + "/api/user?x=1")
			var oe *egress.OriginError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), e.fake.Second.URL) {
				t.Fatalf("request to another origin: %v, want an OriginError naming it", err)
			}
			ts, _ := e.stored(o)
			if n := len(e.fake.Second.Requests()); n != 0 || e.fake.Second.Saw(ts.AccessToken) {
				t.Fatalf("the other origin got %d requests", n)
			}
		})
	}
}

// TestTokenRequestsNeverFollowRedirects (acceptance 2 and 11): a token
// endpoint answering 307 (code exchange) or 308 (refresh), and a
// revocation endpoint answering 307, make Plexus report an error; the
// other origin never receives the code, the PKCE verifier, the refresh
// token or the client secret.
func TestTokenRequestsNeverFollowRedirects(t *testing.T) {
	e := newEnv(t)

	// Code exchange.
	e.fake.RedirectTokenRequests(http.StatusTemporaryRedirect)
	cb := e.authorize(e.user, "gh", nil)
	status, body, _ := e.get(cb)
	if status != http.StatusBadGateway || !strings.Contains(body, "redirect") {
		t.Fatalf("callback with a redirecting token endpoint: %d %q", status, body)
	}
	e.assertNothingStored(e.user)
	code, _ := url.Parse(cb)
	if n := len(e.fake.Second.Requests()); n != 0 || e.fake.Second.Saw(code.Query().Get("code")) || e.fake.Second.Saw("test-secret") {
		t.Fatalf("the other origin got %d requests", n)
	}

	// Refresh.
	e.fake.RedirectTokenRequests(0)
	e.connect(e.user)
	rt := e.mustStored(e.user).RefreshToken
	e.fake.RedirectTokenRequests(http.StatusPermanentRedirect)
	e.fake.ExpireAccessTokens()
	if _, err := e.whoami(e.user); err == nil {
		t.Fatal("refresh through a redirect succeeded")
	}
	if n := len(e.fake.Second.Requests()); n != 0 || e.fake.Second.Saw(rt) {
		t.Fatalf("the other origin got %d requests (refresh token sent: %v)", n, e.fake.Second.Saw(rt))
	}
	if !e.fake.RefreshTokenValid(rt) {
		t.Fatal("refresh token spent")
	}

	// Revocation: best effort, the local disconnect still happens.
	e.fake.RedirectRevocations(http.StatusTemporaryRedirect)
	if err := e.m.Disconnect(t.Context(), e.user, "gh"); err != nil {
		t.Fatal(err)
	}
	e.assertNothingStored(e.user)
	if n := len(e.fake.Second.Requests()); n != 0 || e.fake.Second.Saw(rt) {
		t.Fatalf("the other origin got %d revocation requests", n)
	}
}

// TestGuestTokenBoundToProvider (acceptance 3, guests): a guest's token
// set carries its provider's binding inside the sealed value; once the
// provider points elsewhere, the set is not used (consent again).
func TestGuestTokenBoundToProvider(t *testing.T) {
	e := newEnv(t, withMemStore())
	e.connect(e.guest)
	if _, err := e.whoami(e.guest); err != nil {
		t.Fatal(err)
	}
	ms := e.store.Store.(*memStore)
	ms.mu.Lock()
	p := ms.providers["acme|gh"]
	p.TokenURL = e.fake.Second.URL + "/token"
	ms.providers["acme|gh"] = p
	ms.mu.Unlock()
	if _, err := e.m.Client(t.Context(), e.guest, "gh", nil); !isConsent(err) {
		t.Fatalf("guest token used after the provider changed: %v", err)
	}
}

// TestConsentCompletesOnlyInTheApprovingBrowser (acceptance 4): the link a
// tool result carries is Plexus's consent page, not the provider's URL.
// Approve in browser A sends A to the provider; if browser B (which has
// the provider URL, and so the state) completes the provider step and
// opens the callback, it is refused (403) and nothing is stored; A then
// completes normally.
func TestConsentCompletesOnlyInTheApprovingBrowser(t *testing.T) {
	e := newEnv(t)
	link := e.consentURL(e.m, e.user, "gh", nil)
	if !strings.HasPrefix(link, e.srv.URL+"/acme/oauth/consent/") || strings.Contains(link, e.fake.URL) {
		t.Fatalf("consent link %q is not a Plexus page", link)
	}
	a, b := oauthtest.NewBrowser(), oauthtest.NewBrowser()
	authURL := a.Approve(t, link)
	if !strings.HasPrefix(authURL, e.fake.AuthorizationURL()+"?") {
		t.Fatalf("approve sent the browser to %q", authURL)
	}
	// B: the provider step, then the callback, without A's cookie.
	cbB := e.fake.Authorize(t, authURL)
	status, body, _, _ := b.Get(cbB)
	if status != http.StatusForbidden || !strings.Contains(body, "not started in this browser") {
		t.Fatalf("callback in another browser: %d %q", status, body)
	}
	e.assertNothingStored(e.user)
	if e.store.writes.Load() != 0 {
		t.Fatal("a refused callback stored something")
	}
	// A completes (the state was not spent by B's attempt).
	cbA := e.fake.Authorize(t, authURL)
	if status, body, _, _ := a.Get(cbA); status != http.StatusOK || !strings.Contains(body, "Connected") {
		t.Fatalf("callback in the approving browser: %d %q", status, body)
	}
	if _, err := e.whoami(e.user); err != nil {
		t.Fatal(err)
	}
	// The cookie is spent with the state: replaying A's callback fails.
	if status, _, _, _ := a.Get(cbA); status == http.StatusOK {
		t.Fatal("callback replayed")
	}
}

// TestConsentPage (acceptance 4): the page says who asks for what, sends a
// CSP without scripts or framing, changes nothing on GET, and its link is
// single-use and expires; Deny stores nothing.
func TestConsentPage(t *testing.T) {
	e := newEnv(t)
	link := e.consentURL(e.m, e.user, "gh", []string{"read:user", "repo"})
	for range 2 { // GET changes nothing
		status, body, h := e.get(link)
		if status != http.StatusOK {
			t.Fatalf("GET consent: %d %q", status, body)
		}
		for _, want := range []string{"Test Client", "acme", "test_tool", "gh", "127.0.0.1", "Approve", "Deny", "alice", `name="csrf"`,
			"If you did not just ask for this in your chat, press Deny."} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") || !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "form-action 'self' "+e.fake.URL) {
			t.Errorf("CSP = %q", csp)
		}
		if strings.Contains(body, "<script") {
			t.Error("page has a script")
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", h)
		}
	}
	status, loc, _, err := e.browser.Answer(link, "approve")
	if err != nil || status != http.StatusSeeOther || !strings.HasPrefix(loc, e.fake.AuthorizationURL()) {
		t.Fatalf("approve: %d %q %v", status, loc, err)
	}
	// Single use.
	if status, body, _ := e.get(link); status != http.StatusNotFound || !strings.Contains(body, "already used") {
		t.Fatalf("link after approve: %d %q", status, body)
	}
	// Deny consumes the link and stores nothing.
	deny := e.consentURL(e.m, e.user, "gh", nil)
	status, _, body, err := e.browser.Answer(deny, "deny")
	if err != nil || status != http.StatusOK || !strings.Contains(body, "Nothing was connected") {
		t.Fatalf("deny: %d %q %v", status, body, err)
	}
	if status, _, _ := e.get(deny); status != http.StatusNotFound {
		t.Fatalf("link after deny: %d", status)
	}
	e.assertNothingStored(e.user)
	// Expiry.
	short := e.newManager(WithStateTTL(time.Millisecond))
	expired := e.consentURL(short, e.user, "gh", nil)
	time.Sleep(5 * time.Millisecond)
	if status, body, _ := e.get(expired); status != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %q", status, body)
	}
	// A link from the window (no tool) speaks of the window, not a chat.
	fromWindow, err := e.m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "gh", Client: "Plexus settings"})
	if err != nil {
		t.Fatal(err)
	}
	if _, body, _ := e.get(fromWindow); !strings.Contains(body, "If you did not just press Connect in Plexus, press Deny.") || strings.Contains(body, "chat") {
		t.Errorf("consent page from the window:\n%s", body)
	}
	if _, _, body, err := e.browser.Answer(fromWindow, "deny"); err != nil || !strings.Contains(body, "go back to Plexus.") {
		t.Errorf("deny from the window: %q %v", body, err)
	}
	fromWindow, err = e.m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "gh", Client: "Plexus settings"})
	if err != nil {
		t.Fatal(err)
	}
	if status, body, _ := e.get(e.fake.Authorize(t, e.browser.Approve(t, fromWindow))); status != http.StatusOK ||
		!strings.Contains(body, "Connected to gh. You can close this page and go back to Plexus.") || strings.Contains(body, "chat") {
		t.Errorf("callback from the window: %d\n%s", status, body)
	}
	// Another tenant's path does not show the link.
	other := strings.Replace(e.consentURL(e.m, e.user, "gh", nil), "/acme/", "/globex/", 1)
	if status, _, _ := e.get(other); status != http.StatusNotFound {
		t.Fatalf("link under another tenant: %d", status)
	}
}

// TestConsentAnswerNeedsThePage (acceptance 4, CSRF): an Approve without
// the page's token, with another token, or from another origin is refused
// and leaves the link usable.
func TestConsentAnswerNeedsThePage(t *testing.T) {
	e := newEnv(t)
	link := e.consentURL(e.m, e.user, "gh", nil)
	_, _, _ = e.get(link) // the browser has the page (and its CSRF cookie)
	post := func(form url.Values, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, link, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.browser.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	u, _ := url.Parse(e.srv.URL)
	self := map[string]string{"Origin": "http://" + u.Host}
	for name, c := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":      {url.Values{"action": {"approve"}}, self},
		"wrong token":   {url.Values{"action": {"approve"}, "csrf": {strings.Repeat("A", 43)}}, self},
		"foreign page":  {url.Values{"action": {"approve"}, "csrf": {strings.Repeat("A", 43)}}, map[string]string{"Origin": "https://evil.example"}},
		"cross-site":    {url.Values{"action": {"approve"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"null origin":   {url.Values{"action": {"approve"}}, map[string]string{"Origin": "null"}},
		"other browser": {url.Values{"action": {"approve"}}, nil},
	} {
		status, loc := post(c.form, c.hdr)
		if status != http.StatusForbidden || loc != "" {
			t.Errorf("%s: %d %q, want 403", name, status, loc)
		}
	}
	if status, _, _ := e.get(link); status != http.StatusOK {
		t.Fatalf("link spent by refused answers: %d", status)
	}
}

// TestConsentOwnerGone (acceptance 4): the owner is checked before the
// provider is involved (at Approve) and again before the code is
// exchanged (at the callback).
func TestConsentOwnerGone(t *testing.T) {
	e := newEnv(t)
	if e.v == nil {
		t.Skip("needs the vault")
	}
	link := e.consentURL(e.m, e.guest, "gh", nil)
	cb := e.authorize(e.guest2, "gh", nil)
	if err := e.v.DeleteSession(t.Context(), "acme", "g1"); err != nil {
		t.Fatal(err)
	}
	if err := e.v.DeleteSession(t.Context(), "acme", "g2"); err != nil {
		t.Fatal(err)
	}
	status, _, body, _ := e.browser.Answer(link, "approve")
	if status != http.StatusBadRequest || !strings.Contains(body, "no longer exists") {
		t.Fatalf("approve for a gone session: %d %q", status, body)
	}
	before := e.fake.TokenRequests()
	if status, body, _ := e.get(cb); status != http.StatusBadRequest || !strings.Contains(body, "no longer exists") {
		t.Fatalf("callback for a gone session: %d %q", status, body)
	}
	if e.fake.TokenRequests() != before {
		t.Fatal("the code was exchanged for an owner that no longer exists")
	}
}

// TestRefreshRaces (acceptance 9): with a slow token endpoint, a
// disconnect during a refresh stays disconnected, a consent during a
// refresh keeps the new token, and a provider removed during a refresh
// stays without connections; for registered users and guests.
func TestRefreshRaces(t *testing.T) {
	type race struct {
		name string
		// during runs while the refresh is held at the token endpoint; it
		// returns a function that waits for it to finish.
		during func(e *env, o Owner) (wait func())
		check  func(e *env, o Owner)
	}
	goDo := func(f func()) func() {
		var wg sync.WaitGroup
		wg.Go(f)
		return wg.Wait
	}
	races := []race{
		{
			name: "disconnect",
			during: func(e *env, o Owner) func() {
				return goDo(func() {
					if err := e.m.Disconnect(context.Background(), o, "gh"); err != nil {
						e.t.Errorf("disconnect: %v", err)
					}
				})
			},
			check: func(e *env, o Owner) {
				e.assertNothingStored(o)
				if _, err := e.m.Client(e.t.Context(), o, "gh", nil); !isConsent(err) {
					e.t.Fatalf("after disconnect: %v", err)
				}
			},
		},
		{
			name: "consent",
			during: func(e *env, o Owner) func() {
				link := e.consentURL(e.m, o, "gh", []string{"read:user", "fresh"})
				b := oauthtest.NewBrowser()
				authURL := b.Approve(e.t, link)
				cb := e.fake.Authorize(e.t, authURL)
				return goDo(func() {
					if status, body, _, err := b.Get(cb); err != nil || status != http.StatusOK {
						e.t.Errorf("consent callback: %d %q %v", status, body, err)
					}
				})
			},
			check: func(e *env, o Owner) {
				ts := e.mustStored(o)
				if !slices.Contains(ts.Scopes, "fresh") {
					e.t.Fatalf("stored scopes %v: the refresh overwrote the new consent", ts.Scopes)
				}
				if !e.fake.AccessTokenValid(ts.AccessToken) {
					e.t.Fatal("stored token is not live")
				}
			},
		},
		{
			name: "provider removed",
			during: func(e *env, o Owner) func() {
				if err := e.v.DeleteOAuthProvider(e.t.Context(), "acme", "gh"); err != nil {
					e.t.Fatal(err)
				}
				return func() {}
			},
			check: func(e *env, o Owner) {
				var err error
				if o.UserID != "" {
					_, err = e.v.GetCredential(e.t.Context(), "acme", o.UserID, vault.CredentialOAuth, "gh")
				} else {
					_, err = e.v.GetSessionValue(e.t.Context(), "acme", o.SessionID, GuestSessionKeyPrefix+"gh")
				}
				if !errors.Is(err, vault.ErrNotFound) {
					e.t.Fatalf("token set of a removed provider came back: %v", err)
				}
			},
		},
		{
			name: "consent by another process",
			during: func(e *env, o Owner) func() {
				// Another Manager (another lock) stands for another
				// process: only the compare-and-swap keeps its consent.
				m2 := e.newManager()
				srv := e.serve(m2)
				_ = srv
				b := oauthtest.NewBrowser()
				cb := e.fake.Authorize(e.t, b.Approve(e.t, e.consentURL(m2, o, "gh", []string{"read:user", "fresh"})))
				if status, body, _, err := b.Get(cb); err != nil || status != http.StatusOK {
					e.t.Fatalf("consent callback: %d %q %v", status, body, err)
				}
				return func() {}
			},
			check: func(e *env, o Owner) {
				if ts := e.mustStored(o); !slices.Contains(ts.Scopes, "fresh") {
					e.t.Fatalf("stored scopes %v: the refresh overwrote the new consent", ts.Scopes)
				}
			},
		},
	}
	for _, r := range races {
		for _, guest := range []bool{false, true} {
			name := r.name + "/user"
			if guest {
				name = r.name + "/guest"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				e.t = t
				o := e.user
				if guest {
					o = e.guest
				}
				e.connect(o)
				e.setExpiry(o, time.Now().Add(10*time.Second)) // within the leeway: the next call refreshes
				arrived, release := e.fake.HoldTokenRequests(t)
				refreshed := goDo(func() { _, _ = e.whoami(o) })
				select {
				case <-arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the refresh never reached the token endpoint")
				}
				wait := r.during(e, o)
				time.Sleep(50 * time.Millisecond) // let it reach the owner's lock (order does not change the outcome)
				release()
				refreshed()
				wait()
				r.check(e, o)
			})
		}
	}
}

// decryptFails makes the vault answer as for records edited on disk: the
// token sets (and, with provider set, the client secret) do not open.
type decryptFails struct {
	Store
	provider bool
}

func (d decryptFails) GetCredentialVersion(ctx context.Context, tenantID, userID string, kind vault.CredentialKind, provider string) ([]byte, uint64, error) {
	_, ver, err := d.Store.GetCredentialVersion(ctx, tenantID, userID, kind, provider)
	if err != nil {
		return nil, 0, err
	}
	return nil, ver, vault.ErrDecrypt
}

func (d decryptFails) GetOAuthProvider(ctx context.Context, tenantID, name string) (vault.OAuthProvider, error) {
	if d.provider {
		return vault.OAuthProvider{}, vault.ErrDecrypt
	}
	return d.Store.GetOAuthProvider(ctx, tenantID, name)
}

// TestUnreadableRecordsMeanConsentAgain (acceptance 3): a token set that
// no longer opens (its provider was edited) is treated as expired: consent
// again, listed as expired, and a new consent replaces it; a client secret
// that no longer opens is an error that says what to do. Nothing panics.
func TestUnreadableRecordsMeanConsentAgain(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	m := NewManager(decryptFails{Store: e.store}, WithBaseURL(e.srv.URL))
	if _, err := m.Client(t.Context(), e.user, "gh", nil); !isConsent(err) {
		t.Fatalf("Client over an unreadable token set: %v, want ErrConsentRequired", err)
	}
	conns, err := m.Connections(t.Context(), "acme", e.user.UserID)
	if err != nil || len(conns) != 1 || conns[0].Status != "expired" {
		t.Fatalf("Connections = %+v, %v", conns, err)
	}
	if err := m.Disconnect(t.Context(), e.user, "gh"); err != nil {
		t.Fatalf("Disconnect of an unreadable token set: %v", err)
	}
	e.assertNothingStored(e.user)

	bad := NewManager(decryptFails{Store: e.store, provider: true}, WithBaseURL(e.srv.URL))
	_, err = bad.Client(t.Context(), e.user, "gh", nil)
	if !errors.Is(err, vault.ErrDecrypt) || !strings.Contains(err.Error(), "--client-secret") {
		t.Fatalf("Client with an unreadable client secret: %v", err)
	}
}

// TestDescribeScopes: the consent page speaks of what a preset's scopes
// allow, and names unknown scopes as they are.
func TestDescribeScopes(t *testing.T) {
	got := describeScopes("github", []string{"read:user", "repo", "x-custom"})
	want := []string{"read your profile information", "read and change all your repositories, public and private", "use the permission “x-custom”"}
	if !slices.Equal(got, want) {
		t.Fatalf("describeScopes = %q", got)
	}
}

// TestDisconnectDuringAStalledRefreshGivesUp: the owner's lock honours the
// caller's context, so a disconnect waiting behind a refresh stalled at
// the token endpoint ends when its request does, and changes nothing.
func TestDisconnectDuringAStalledRefreshGivesUp(t *testing.T) {
	e := newEnv(t)
	e.connect(e.user)
	e.setExpiry(e.user, time.Now().Add(10*time.Second))
	arrived, release := e.fake.HoldTokenRequests(t)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = e.whoami(e.user) })
	<-arrived
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := e.m.Disconnect(ctx, e.user, "gh"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Disconnect behind a stalled refresh: %v, want the context's deadline", err)
	}
	release()
	wg.Wait()
	if ts := e.mustStored(e.user); !ts.usable() {
		t.Fatal("the refresh did not store its tokens")
	}
}
