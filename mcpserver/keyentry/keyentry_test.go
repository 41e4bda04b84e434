package keyentry

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const theKey = "THE-API-KEY-canary-94c1e2"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture: a vault with tenants acme and beta, users alice and bob in
// acme, a guest session in acme, and the page served on 127.0.0.1.
type fixture struct {
	t       *testing.T
	v       *vault.Vault
	m       *Manager
	hs      *httptest.Server
	clk     *clock
	log     *logBuf
	alice   string
	bob     string
	bodies  []string // every page answered, to scan for the key
	bodyMu  sync.Mutex
	guestID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: &clock{t: time.Now().UTC()}, log: &logBuf{}, guestID: "guest-session-0123456789"}
	f.v = vaulttest.Open(t, vault.Config{Now: f.clk.Now})
	ctx := t.Context()
	for _, id := range []string{"acme", "beta"} {
		if _, err := f.v.CreateTenant(ctx, vault.Tenant{ID: id, Name: "Tenant " + id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"alice", "bob"} {
		u, _, err := f.v.EnsureUser(ctx, "acme", h)
		if err != nil {
			t.Fatal(err)
		}
		if h == "alice" {
			f.alice = u.ID
		} else {
			f.bob = u.ID
		}
	}
	if err := f.v.CreateSession(ctx, vault.Session{ID: f.guestID, TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.hs = httptest.NewServer(mux)
	t.Cleanup(f.hs.Close)
	f.m = New(f.v, Options{BaseURL: f.hs.URL, Now: f.clk.Now,
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mux.Handle(AnyPattern, f.m)
	t.Cleanup(func() { f.noKeyAnywhere() })
	return f
}

// link makes a link for alice's weather key (or edit's variant).
func (f *fixture) link(edit func(*Request)) string {
	f.t.Helper()
	r := Request{TenantID: "acme", UserID: f.alice, Provider: "weather", KeyName: "Weather API key",
		Instructions: "Sign up at https://weather.example.com/signup, then copy the key.", Tool: "weather", Client: "Claude"}
	if edit != nil {
		edit(&r)
	}
	u, err := f.m.Link(f.t.Context(), r)
	if err != nil {
		f.t.Fatal(err)
	}
	if !strings.HasPrefix(u, f.hs.URL+"/"+r.TenantID+"/plexus-services/api-keys/entry/") {
		f.t.Fatalf("link %q", u)
	}
	return u
}

// browser keeps cookies and sends forms like the page's own.
type browser struct {
	f *fixture
	c *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, u string, form url.Values, hdr map[string]string) page {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.f.t.Context(), method, u, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.f.hs.URL)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	b.f.bodyMu.Lock()
	b.f.bodies = append(b.f.bodies, string(raw))
	b.f.bodyMu.Unlock()
	return page{resp.StatusCode, resp.Header, string(raw)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// open GETs the link and returns the page's CSRF token.
func (b *browser) open(u string) (page, string) {
	b.f.t.Helper()
	p := b.do(http.MethodGet, u, nil, nil)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		return p, ""
	}
	return p, m[1]
}

func (b *browser) save(u, csrf, key string) page {
	return b.do(http.MethodPost, u, url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {key}}, nil)
}

// noKeyAnywhere: the key is in no page and no log line.
func (f *fixture) noKeyAnywhere() {
	f.bodyMu.Lock()
	defer f.bodyMu.Unlock()
	for _, b := range f.bodies {
		if strings.Contains(b, theKey) {
			f.t.Errorf("a page shows the key:\n%s", b)
		}
	}
	if strings.Contains(f.log.String(), theKey) {
		f.t.Errorf("the log holds the key:\n%s", f.log.String())
	}
}

func (f *fixture) keyOf(user, provider string) string {
	b, err := f.v.GetCredential(f.t.Context(), "acme", user, vault.CredentialAPIKey, provider)
	if errors.Is(err, vault.ErrNotFound) {
		return ""
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func TestLinkWorksOnce(t *testing.T) {
	f := newFixture(t)
	u := f.link(nil)
	b := f.browser()
	p, csrf := b.open(u)
	if p.status != http.StatusOK || csrf == "" {
		t.Fatalf("GET: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{"Enter your Weather API key", "<strong>Claude</strong>", "Tenant acme", "<strong>weather</strong>",
		`type="password"`, "you, the person using this computer", `href="https://weather.example.com/signup"`,
		`rel="noopener noreferrer"`, "expires in 10 minutes", "Save key", "Cancel"} {
		if strings.Contains(want, "you, the") {
			want = "Plexus user alice" // alice is a registered user, not the local owner
		}
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.header)
	}
	// GET changed nothing: it can be opened twice.
	if p2, _ := b.open(u); p2.status != http.StatusOK {
		t.Fatalf("second GET: %d", p2.status)
	}
	p = b.save(u, csrf, "  "+theKey+"\n")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Key saved") || !strings.Contains(p.body, "The weather tool can use your key now.") {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	if got := f.keyOf(f.alice, "weather"); got != theKey {
		t.Fatalf("stored %q", got)
	}
	if p, _ := b.open(u); p.status != http.StatusNotFound || !strings.Contains(p.body, "already used") {
		t.Fatalf("GET after use: %d\n%s", p.status, p.body)
	}
	if p := b.save(u, csrf, "another-key-0000"); p.status != http.StatusNotFound {
		t.Fatalf("second save: %d", p.status)
	}
	if got := f.keyOf(f.alice, "weather"); got != theKey {
		t.Fatal("the second save changed the key")
	}
}

func TestLinkExpires(t *testing.T) {
	f := newFixture(t)
	u := f.link(nil)
	b := f.browser()
	_, csrf := b.open(u)
	f.clk.Add(DefaultTTL + time.Second)
	if p, _ := b.open(u); p.status != http.StatusGone || !strings.Contains(p.body, "expired") {
		t.Fatalf("GET after expiry: %d\n%s", p.status, p.body)
	}
	if p := b.save(u, csrf, theKey); p.status != http.StatusGone {
		t.Fatalf("save after expiry: %d\n%s", p.status, p.body)
	}
	if f.keyOf(f.alice, "weather") != "" {
		t.Fatal("an expired link stored a key")
	}
}

// TestLinkIsBound: another tenant's path cannot use (or spend) a link;
// the form cannot redirect the key to another user or provider.
func TestLinkIsBound(t *testing.T) {
	f := newFixture(t)
	u := f.link(nil)
	b := f.browser()
	_, csrf := b.open(u)
	other := strings.Replace(u, "/acme/", "/beta/", 1)
	if p, _ := b.open(other); p.status != http.StatusNotFound {
		t.Fatalf("GET on beta: %d", p.status)
	}
	form := url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {theKey},
		"provider_name": {"github"}, "persistent_user_id": {f.bob}, "tenant": {"beta"}}
	// The cookie is scoped to acme's path: carry it by hand, as an
	// attacker who has it would.
	if p := b.do(http.MethodPost, other, form, map[string]string{"Cookie": csrfCookie + "=" + csrf}); p.status != http.StatusNotFound {
		t.Fatalf("save on beta: %d\n%s", p.status, p.body)
	}
	if p := b.do(http.MethodPost, u, form, nil); p.status != http.StatusOK {
		t.Fatalf("save with extra fields: %d\n%s", p.status, p.body)
	}
	if f.keyOf(f.alice, "weather") != theKey || f.keyOf(f.bob, "weather") != "" || f.keyOf(f.alice, "github") != "" {
		t.Fatal("the key went somewhere else")
	}
	if _, err := f.v.GetCredential(t.Context(), "beta", f.alice, vault.CredentialAPIKey, "weather"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("beta got a key: %v", err)
	}
	// A guest's link stores into that guest's session only.
	gu := f.link(func(r *Request) { r.UserID, r.SessionID = "", f.guestID })
	g := f.browser()
	p, csrf := g.open(gu)
	if !strings.Contains(p.body, "this chat session only") {
		t.Errorf("guest page: %s", p.body)
	}
	if p := g.save(gu, csrf, theKey); p.status != http.StatusOK {
		t.Fatalf("guest save: %d\n%s", p.status, p.body)
	}
	if v, err := f.v.GetSessionValue(t.Context(), "acme", f.guestID, vault.GuestAPIKeyPrefix+"weather"); err != nil || string(v) != theKey {
		t.Fatalf("guest's key = %q, %v", v, err)
	}
}

func TestCancelSpendsTheLink(t *testing.T) {
	f := newFixture(t)
	u := f.link(nil)
	b := f.browser()
	_, csrf := b.open(u)
	p := b.do(http.MethodPost, u, url.Values{"csrf": {csrf}, "action": {"cancel"}, "api_key": {theKey}}, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Nothing was saved") {
		t.Fatalf("cancel: %d\n%s", p.status, p.body)
	}
	if p := b.save(u, csrf, theKey); p.status != http.StatusNotFound {
		t.Fatalf("save after cancel: %d", p.status)
	}
	if f.keyOf(f.alice, "weather") != "" {
		t.Fatal("cancel stored a key")
	}
}

// TestBadInput: a bad key shows the form again (the link still works, the
// key is not echoed); a form without the page's token, from another
// site, too large or without an action changes nothing.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	u := f.link(nil)
	b := f.browser()
	_, csrf := b.open(u)
	for _, tc := range []struct {
		name     string
		form     url.Values
		hdr      map[string]string
		noCookie bool
		status   int
		want     string
	}{
		{"blank key", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {"   "}}, nil, false, 400, "The field was empty."},
		{"key with a tab", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {theKey + "\tx"}}, nil, false, 400, "without tabs or line breaks"},
		{"no csrf", url.Values{"action": {"save"}, "api_key": {theKey}}, nil, false, 403, "expired or was opened in another browser"},
		{"wrong csrf", url.Values{"csrf": {strings.Repeat("A", 43)}, "action": {"save"}, "api_key": {theKey}}, nil, false, 403, "expired or was opened in another browser"},
		{"csrf not in the cookie", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {theKey}}, nil, true, 403, "another browser"},
		{"other origin", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {theKey}}, map[string]string{"Origin": "https://evil.example"}, false, 403, "did not come from the Plexus key-entry page"},
		{"cross-site fetch", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {theKey}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, false, 403, "did not come from"},
		{"no action", url.Values{"csrf": {csrf}, "api_key": {theKey}}, nil, false, 400, "Press Save key or Cancel."},
		{"too large", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {strings.Repeat("k", maxForm)}}, nil, false, 400, "could not be read"},
		{"long key", url.Values{"csrf": {csrf}, "action": {"save"}, "api_key": {strings.Repeat("k", vault.MaxAPIKeyLen+1)}}, nil, false, 400, "longer than any key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b
			if tc.noCookie {
				c = f.browser()
			}
			p := c.do(http.MethodPost, u, tc.form, tc.hdr)
			if p.status != tc.status || !strings.Contains(p.body, tc.want) {
				t.Fatalf("%d, want %d with %q\n%s", p.status, tc.status, tc.want, p.body)
			}
			if f.keyOf(f.alice, "weather") != "" {
				t.Fatal("a key was stored")
			}
		})
	}
	if p := b.do(http.MethodPut, u, nil, nil); p.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", p.status)
	}
	for _, bad := range []string{"/acme/plexus-services/api-keys/entry/x", "/acme/plexus-services/api-keys/entry/" + strings.Repeat("a", 200)} {
		if p, _ := b.open(f.hs.URL + bad); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", bad[:40], p.status)
		}
	}
	// After all that, the link still works.
	if p := b.save(u, csrf, theKey); p.status != http.StatusOK {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
}

func TestOwnerGone(t *testing.T) {
	f := newFixture(t)
	u := f.link(func(r *Request) { r.UserID, r.SessionID = "", f.guestID })
	b := f.browser()
	_, csrf := b.open(u)
	if err := f.v.DeleteSession(t.Context(), "acme", f.guestID); err != nil {
		t.Fatal(err)
	}
	if p := b.save(u, csrf, theKey); p.status != http.StatusConflict || !strings.Contains(p.body, "no longer exists") {
		t.Fatalf("save for a deleted session: %d\n%s", p.status, p.body)
	}
	// A deleted user's links go with it.
	u2 := f.link(nil)
	if err := f.v.DeleteUser(t.Context(), "acme", f.alice); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.open(u2); p.status != http.StatusNotFound {
		t.Fatalf("GET for a deleted user: %d", p.status)
	}
}

// TestPageLooksLikeTheUI: the page links the admin UI's stylesheet (one
// that exists among the embedded assets) and nothing inline; the CSP
// allows that stylesheet and no script, inline style or framing.
func TestPageLooksLikeTheUI(t *testing.T) {
	f := newFixture(t)
	p, _ := f.browser().open(f.link(nil))
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows scripts or inline code", csp)
	}
	m := regexp.MustCompile(`<link rel="stylesheet" href="/ui/static/([a-z.]+)\?v=[0-9a-f]+">`).FindAllStringSubmatch(p.body, -1)
	if len(m) != 1 || m[0][1] != "app.css" {
		t.Fatalf("stylesheets %q, want the one app.css", m)
	}
	if _, err := fs.Stat(frontend.Static(), m[0][1]); err != nil {
		t.Fatalf("the linked stylesheet is not served: %v", err)
	}
	for _, bad := range []string{"<script", "<style", " style=", "onload", "onclick"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("the page has %q", bad)
		}
	}
}

func TestLinkNeedsBaseURL(t *testing.T) {
	v := vaulttest.New(t)
	if _, err := New(v, Options{}).Link(t.Context(), Request{TenantID: "acme"}); !errors.Is(err, ErrNoBaseURL) {
		t.Fatalf("Link without a base URL = %v", err)
	}
}

func TestLinkify(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []segment
	}{
		{"no links", []segment{{Text: "no links"}}},
		{"Go to https://a.example/x.", []segment{{Text: "Go to "}, {Text: "https://a.example/x", URL: "https://a.example/x"}, {Text: "."}}},
		{"(see http://b.example)", []segment{{Text: "(see "}, {Text: "http://b.example", URL: "http://b.example"}, {Text: ")"}}},
		{"javascript:alert(1) https://", []segment{{Text: "javascript:alert(1) https://"}}},
		{"https://x.example/a'b", []segment{{Text: "https://x.example/a", URL: "https://x.example/a"}, {Text: "'b"}}},
	} {
		got := linkify(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("linkify(%q) = %+v", tc.in, got)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("linkify(%q) = %+v", tc.in, got)
			}
		}
	}
}

func FuzzParseKeyForm(f *testing.F) {
	for _, s := range []string{"action=save&api_key=k&csrf=" + strings.Repeat("a", 43), "action=cancel", "api_key=%00%0a", "csrf=&csrf=x", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, _ := url.ParseQuery(body)
		k := parseKeyForm(v)
		if k.Action != "" && k.Action != "save" && k.Action != "cancel" {
			t.Fatalf("action %q", k.Action)
		}
		if k.CSRF != "" && !validToken(k.CSRF) {
			t.Fatalf("csrf %q", k.CSRF)
		}
		if k.Key != strings.TrimSpace(k.Key) {
			t.Fatal("key not trimmed")
		}
	})
}

func FuzzLinkify(f *testing.F) {
	for _, s := range []string{"", "https://x.example", "a http://b c https://d.e/f?g=h#i).", "https://\x00", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		for _, seg := range linkify(s) {
			b.WriteString(seg.Text)
			if seg.URL != "" && !strings.HasPrefix(seg.URL, "http://") && !strings.HasPrefix(seg.URL, "https://") {
				t.Fatalf("link %q", seg.URL)
			}
		}
		if b.String() != s {
			t.Fatalf("linkify lost text: %q -> %q", s, b.String())
		}
	})
}

// TestLinksAreBudgeted: a caller looping on a tool gets at most linkBurst
// links at once per tenant (each is a vault write), then linkRate a
// minute; other tenants are not held up.
func TestLinksAreBudgeted(t *testing.T) {
	f := newFixture(t)
	req := Request{TenantID: "acme", UserID: f.alice, Provider: "weather", KeyName: "Weather API key"}
	for i := range linkBurst {
		if _, err := f.m.Link(t.Context(), req); err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
	}
	if _, err := f.m.Link(t.Context(), req); !errors.Is(err, ErrTooManyLinks) {
		t.Fatalf("link past the burst: %v", err)
	}
	other := req
	other.TenantID, other.UserID, other.SessionID = "beta", "", "none"
	if err := f.v.CreateSession(t.Context(), vault.Session{ID: "none", TenantID: "beta"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Link(t.Context(), other); err != nil {
		t.Fatalf("another tenant was held up: %v", err)
	}
	f.clk.Add(10 * time.Second) // 5 more
	for i := range 5 {
		if _, err := f.m.Link(t.Context(), req); err != nil {
			t.Fatalf("link %d after 10s: %v", i, err)
		}
	}
	if _, err := f.m.Link(t.Context(), req); !errors.Is(err, ErrTooManyLinks) {
		t.Fatalf("link past the rate: %v", err)
	}
}
