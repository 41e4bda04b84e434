package ui_test

import (
	"context"
	"errors"
	"io"
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

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// clock is a settable clock shared by the vault and the UI.
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

// syncBuffer collects the log.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonURL is the daemon's base URL as the OAuth engine knows it (for
// consent links and callback URLs).
const daemonURL = "http://127.0.0.1:8765"

// testTools are the tools the fixture's daemon offers: one needs a GitHub
// connection, two an OpenWeather key.
var testTools = []apiv1.ToolInfo{
	{Name: "github_list_repos", Enabled: true, Requires: "oauth:github"},
	{Name: "weather_now", Enabled: true, Requires: "api_key:openweather"},
	{Name: "weather_forecast", Enabled: true, Requires: "api_key:openweather"},
	{Name: "echo", Enabled: true},
}

// fixture is the UI over a fresh vault, served on 127.0.0.1.
type fixture struct {
	srv   *httptest.Server
	v     *vault.Vault
	ops   *adminops.Service
	clock *clock
	logs  *syncBuffer
}

func newFixture(t *testing.T, opts ...func(*ui.Options)) *fixture {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	f := &fixture{clock: clk, logs: &syncBuffer{}}
	f.v = vaulttest.Open(t, vault.Config{Now: clk.Now})
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	om := oauth.NewManager(f.v, oauth.WithBaseURL(daemonURL), oauth.WithClock(clk.Now), oauth.WithLogger(logger))
	f.ops = adminops.New(f.v, adminops.Options{
		Logger:      logger,
		Now:         clk.Now,
		OAuth:       om,
		RedirectURL: om.RedirectURL,
		Tools:       func(string) []apiv1.ToolInfo { return testTools },
	})
	o := ui.Options{
		Ops:   f.ops,
		Login: f.v,
		Info: func() ui.DaemonInfo {
			return ui.DaemonInfo{Version: "9.9.9", Addr: "127.0.0.1:8765", DataDir: "/data/plexus",
				StartedAt: clk.Now().Add(-3 * time.Hour), Key: f.v.KeyInfo()}
		},
		StdioCommand:  []string{"/opt/plexus/bin/plexus", "stdio"},
		UserConfigDir: func() (string, error) { return "/home/ann/.config", nil },
		Logger:        logger,
		Now:           clk.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	h, err := ui.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	f    *fixture
	c    *http.Client
	last string   // the last page's body
	all  []string // every body it got, for "never in any response" checks
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, f: f, c: c}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, body string, hdr map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.last = string(raw)
	b.all = append(b.all, b.last)
	return response{resp.StatusCode, resp.Header, string(raw)}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, "", nil) }

// post sends a form; csrf "" sends none.
func (b *browser) post(path string, form url.Values) response {
	return b.do(http.MethodPost, path, form.Encode(), nil)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the last page.
func (b *browser) csrf() string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page:\n%s", b.last)
	}
	return m[1]
}

// login signs the browser in with a fresh ticket and loads Home.
func (b *browser) login() {
	b.t.Helper()
	tk, _, err := b.f.v.NewUILoginTicket(b.t.Context(), 0)
	if err != nil {
		b.t.Fatal(err)
	}
	if r := b.get("/ui/login?ticket=" + tk); r.status != http.StatusOK {
		b.t.Fatalf("login: %d\n%s", r.status, r.body)
	}
	if r := b.get("/ui/"); r.status != http.StatusOK || !strings.Contains(r.body, "<h1>Home</h1>") {
		b.t.Fatalf("home after login: %d\n%s", r.status, r.body)
	}
}

func TestNoSessionShowsHowToGetIn(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, p := range []string{"/ui/", "/ui/tenants", "/ui/tenants/acme", "/ui/providers", "/ui/login"} {
		r := b.get(p)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Open Plexus from your applications menu") ||
			!strings.Contains(r.body, "plexus open") {
			t.Errorf("GET %s without a session: %d\n%s", p, r.status, r.body)
		}
		if strings.Contains(r.body, `name="csrf"`) {
			t.Errorf("GET %s without a session shows a form", p)
		}
	}
	if r := b.get("/ui"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mint := func() string {
		tk, _, err := f.v.NewUILoginTicket(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}

	t.Run("valid", func(t *testing.T) {
		b := f.browser(t)
		tk := mint()
		r := b.get("/ui/login?ticket=" + tk)
		if r.status != http.StatusOK || !strings.Contains(r.body, `http-equiv="refresh" content="0;url=/ui/"`) {
			t.Fatalf("login: %d\n%s", r.status, r.body)
		}
		if r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("login page Referrer-Policy %q, want no-referrer", r.header.Get("Referrer-Policy"))
		}
		if strings.Contains(r.body, tk) {
			t.Error("the login page shows the ticket")
		}
		sc := r.header.Get("Set-Cookie")
		for _, want := range []string{ui.CookieName + "=", "Path=/ui", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(sc, want) {
				t.Errorf("Set-Cookie %q lacks %q", sc, want)
			}
		}
		if strings.Contains(sc, "Secure") || strings.Contains(sc, "Max-Age") || strings.Contains(sc, "Expires") {
			t.Errorf("Set-Cookie %q: want a browser-session cookie, not Secure over http", sc)
		}
		if r := b.get("/ui/"); r.status != http.StatusOK || !strings.Contains(r.body, "<h1>Home</h1>") {
			t.Fatalf("home: %d", r.status)
		}
		// Signed in, /ui/login without a ticket goes home.
		if r := b.get("/ui/login"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/" {
			t.Errorf("login without ticket when signed in: %d", r.status)
		}
		if strings.Contains(f.logs.String(), tk) {
			t.Error("the ticket is in the log")
		}
	})

	t.Run("replayed", func(t *testing.T) {
		tk := mint()
		if r := f.browser(t).get("/ui/login?ticket=" + tk); r.status != http.StatusOK {
			t.Fatalf("first use: %d", r.status)
		}
		b := f.browser(t)
		r := b.get("/ui/login?ticket=" + tk)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "This sign-in link does not work") || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("replay: %d %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
		}
		if r := b.get("/ui/"); r.status != http.StatusForbidden {
			t.Errorf("after a replay, /ui/: %d", r.status)
		}
	})

	t.Run("expired", func(t *testing.T) {
		tk := mint()
		f.clock.Add(vault.MaxUILoginTicketTTL)
		r := f.browser(t).get("/ui/login?ticket=" + tk)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "This sign-in link has expired") || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("expired: %d\n%s", r.status, r.body)
		}
	})

	for name, q := range map[string]string{
		"wrong":     "ticket=plxt_" + strings.Repeat("A", 43),
		"malformed": "ticket=plxt_short",
		"token":     "ticket=plxl_" + strings.Repeat("A", 43),
		"twice":     "ticket=" + "PLACEHOLDER" + "&ticket=" + "PLACEHOLDER",
		"bad query": "ticket=%zz",
		"huge":      "ticket=" + strings.Repeat("a", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(q, "PLACEHOLDER") {
				tk := mint()
				q = strings.ReplaceAll(q, "PLACEHOLDER", tk)
				defer func() {
					// Not spent by the refused request.
					if err := f.v.TakeUILoginTicket(context.Background(), tk); err != nil {
						t.Errorf("a refused request spent the ticket: %v", err)
					}
				}()
			}
			r := f.browser(t).get("/ui/login?" + q)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "does not work") || r.header.Get("Set-Cookie") != "" {
				t.Fatalf("%s: %d\n%s", name, r.status, r.body)
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	f.clock.Add(ui.SessionLifetime - time.Minute)
	if r := b.get("/ui/"); r.status != http.StatusOK {
		t.Fatalf("before the end: %d", r.status)
	}
	f.clock.Add(time.Minute)
	if r := b.get("/ui/"); r.status != http.StatusForbidden {
		t.Fatalf("after %v: %d, want the sign-in page", ui.SessionLifetime, r.status)
	}
}

func TestTamperedCookie(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	u, _ := url.Parse(f.srv.URL + "/ui/")
	cs := b.c.Jar.Cookies(u)
	if len(cs) != 1 {
		t.Fatalf("cookies: %v", cs)
	}
	v := []byte(cs[0].Value)
	v[len(v)/2] ^= 1
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: ui.CookieName, Value: string(v), Path: "/ui"}})
	if r := b.get("/ui/"); r.status != http.StatusForbidden {
		t.Fatalf("tampered cookie: %d", r.status)
	}
}

func TestLogoutRotatesKeys(t *testing.T) {
	f := newFixture(t)
	a, b := f.browser(t), f.browser(t)
	a.login()
	b.login()
	before, err := f.v.UISessionKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := a.post("/ui/logout", url.Values{"csrf": {a.csrf()}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %q\n%s", r.status, r.header.Get("Set-Cookie"), r.body)
	}
	after, err := f.v.UISessionKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(after.Hash) == string(before.Hash) {
		t.Fatal("logout kept the session keys")
	}
	for name, br := range map[string]*browser{"signed out": a, "other session": b} {
		if r := br.get("/ui/"); r.status != http.StatusForbidden {
			t.Errorf("%s after logout: %d", name, r.status)
		}
	}
	// Logout needs the CSRF token too.
	c := f.browser(t)
	c.login()
	if r := c.post("/ui/logout", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d", r.status)
	}
	if r := c.get("/ui/"); r.status != http.StatusOK {
		t.Errorf("a refused logout signed out: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	token := b.csrf()
	other := f.browser(t)
	other.login()
	otherToken := other.csrf()
	form := func(csrf ...string) url.Values {
		v := url.Values{"entity_id": {"acme"}, "name": {"Acme"}}
		if len(csrf) > 0 {
			v["csrf"] = csrf
		}
		return v
	}
	for _, c := range []struct {
		name string
		form url.Values
		want int
	}{
		{"missing", form(), http.StatusForbidden},
		{"empty", form(""), http.StatusForbidden},
		{"wrong", form(token[:len(token)-1] + "x"), http.StatusForbidden},
		{"another session's", form(otherToken), http.StatusForbidden},
		{"twice", form(token, token), http.StatusForbidden},
	} {
		r := b.post("/ui/tenants", c.form)
		if r.status != c.want || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("%s token: %d\n%s", c.name, r.status, r.body)
		}
	}
	// In the query string, it does not count.
	if r := b.post("/ui/tenants?csrf="+url.QueryEscape(token), form()); r.status != http.StatusForbidden {
		t.Errorf("token in the query: %d", r.status)
	}
	if _, err := f.v.GetTenant(t.Context(), "acme"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("a refused form created the tenant: %v", err)
	}
	// Without a session: refused, and said so.
	if r := f.browser(t).post("/ui/tenants", form(token)); r.status != http.StatusForbidden || !strings.Contains(r.body, "not signed in") {
		t.Errorf("no session: %d\n%s", r.status, r.body)
	}
	// Not a web form, or too big.
	if r := b.do(http.MethodPost, "/ui/tenants", `{"csrf":"`+token+`"}`, map[string]string{"Content-Type": "application/json"}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body: %d", r.status)
	}
	big := form(token)
	big.Set("name", strings.Repeat("x", 70<<10))
	if r := b.post("/ui/tenants", big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("huge form: %d", r.status)
	}
	// Right.
	r := b.post("/ui/tenants", form(token))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/tenants" {
		t.Fatalf("right token: %d\n%s", r.status, r.body)
	}
	if _, err := f.v.GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("tenant not created: %v", err)
	}
}

// TestSecurityHeaders: every answer of the UI, pages, errors, assets and
// form results, carries the CSP and frame protection, and no HTML page has
// inline script or style.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	anon := f.browser(t)
	b := f.browser(t)
	tk, _, err := f.v.NewUILoginTicket(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var rs []struct {
		what string
		r    response
	}
	add := func(what string, r response) {
		rs = append(rs, struct {
			what string
			r    response
		}{what, r})
	}
	for _, p := range []string{"/ui/", "/ui/tenants", "/ui/nope", "/ui/static/app.css", "/ui/static/app.js", "/ui/static/icon.svg", "/ui/login?ticket=bad"} {
		add("anonymous GET "+p, anon.get(p))
	}
	add("login", b.get("/ui/login?ticket="+tk))
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "work", Name: "Work"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/", "/ui/tenants", "/ui/tenants/work", "/ui/tenants/nope", "/ui/providers", "/ui/connections",
		"/ui/tools", "/ui/activity", "/ui/users", "/ui/nope", "/ui/static/"} {
		add("GET "+p, b.get(p))
	}
	b.get("/ui/tenants")
	token := b.csrf()
	add("POST bad tenant", b.post("/ui/tenants", url.Values{"csrf": {token}, "name": {"X"}, "entity_id": {"No Way"}}))
	add("POST no csrf", b.post("/ui/tenants", url.Values{"name": {"X"}}))
	add("POST good tenant", b.post("/ui/tenants", url.Values{"csrf": {token}, "name": {"Acme"}}))
	add("POST delete wrong", b.post("/ui/tenants/acme/delete", url.Values{"csrf": {token}, "confirm": {"nope"}}))
	add("POST logout", b.post("/ui/logout", url.Values{"csrf": {token}}))

	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script>|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, x := range rs {
		h := x.r.header
		csp := h.Get("Content-Security-Policy")
		if csp != ui.ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", x.what, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", x.what, h)
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") && inline.MatchString(x.r.body) {
			t.Errorf("%s: inline script or style: %q", x.what, inline.FindString(x.r.body))
		}
	}
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if strings.Contains(ui.ContentSecurityPolicy, "unsafe") {
		t.Error("CSP allows unsafe-*")
	}
}

func TestEdgeRule(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.login()
	token := b.csrf()
	for name, hdr := range map[string]map[string]string{
		"foreign Host":   {"Host": "evil.example"},
		"foreign Origin": {"Origin": "http://evil.example"},
		"null Origin":    {"Origin": "null"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, f.srv.URL+"/ui/tenants",
			strings.NewReader(url.Values{"csrf": {token}, "name": {"Evil"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if _, err := f.v.GetTenant(t.Context(), "evil"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("a refused request created a tenant")
	}
	// Same origin is fine.
	r := b.do(http.MethodPost, "/ui/tenants", url.Values{"csrf": {token}, "name": {"Fine"}}.Encode(), map[string]string{"Origin": f.srv.URL})
	if r.status != http.StatusSeeOther {
		t.Errorf("same origin: %d", r.status)
	}
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t, func(o *ui.Options) { o.SecureCookies = true })
	tk, _, err := f.v.NewUILoginTicket(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r := f.browser(t).get("/ui/login?ticket=" + tk)
	if !strings.Contains(r.header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("Set-Cookie %q: want Secure", r.header.Get("Set-Cookie"))
	}
}
