package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const testPassphrase = "correct horse battery staple"

// startDaemon runs the daemon on dir until the test ends.
func startDaemon(t *testing.T, cfg Config) localclient.Runtime {
	t.Helper()
	rt, _ := startStoppableDaemon(t, cfg)
	return rt
}

// startStoppableDaemon is startDaemon that also returns stop, which ends
// the daemon and waits for it (the test's cleanup does too, if stop was
// not called).
func startStoppableDaemon(t *testing.T, cfg Config) (localclient.Runtime, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	cfg.Listen = "127.0.0.1:0"
	cfg.Version = "test"
	cfg.Ready = func(rt localclient.Runtime) { ready <- rt }
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	go func() { done <- Run(ctx, cfg) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	t.Cleanup(stop)
	select {
	case rt := <-ready:
		return rt, stop
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
	return localclient.Runtime{}, stop
}

// makePassphraseVault creates a passphrase vault with tenant acme in dir.
func makePassphraseVault(t *testing.T, dir string) {
	t.Helper()
	v, err := vault.Open(t.Context(), vault.Config{
		Path:    filepath.Join(dir, DBFileName),
		Keyring: vaulttest.NewKeyring(),
		Getenv:  func(k string) string { return map[string]string{"PLEXUS_PASSPHRASE": testPassphrase}[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
}

// client is a cookie-keeping HTTP client that does not follow redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	last string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path, body string, hdr map[string]string) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.last = string(b)
	return resp.StatusCode, resp.Header, string(b)
}

func (c *client) form(path string, v url.Values) (int, http.Header, string) {
	c.t.Helper()
	return c.do(http.MethodPost, path, v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) csrf() string {
	c.t.Helper()
	m := csrfRE.FindStringSubmatch(c.last)
	if m == nil {
		c.t.Fatalf("no CSRF token on the page:\n%s", c.last)
	}
	return m[1]
}

// signIn signs the client in through the admin API's login ticket, as
// the window does, and returns the page it lands on.
func (c *client) signIn(rt localclient.Runtime) string {
	c.t.Helper()
	lc := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	u, err := lc.LoginURL(c.t.Context())
	if err != nil {
		c.t.Fatalf("login link: %v", err)
	}
	if st, _, body := c.do(http.MethodGet, strings.TrimPrefix(u, rt.BaseURL()), "", nil); st != http.StatusOK {
		c.t.Fatalf("login: %d %s", st, body)
	}
	st, _, body := c.do(http.MethodGet, "/ui/", "", nil)
	if st != http.StatusOK {
		c.t.Fatalf("/ui/: %d %s", st, body)
	}
	return body
}

const initialize = `{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

var mcpHeaders = map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

// TestLockedDaemon: a passphrase vault with nobody to type the
// passphrase starts locked: identity proof, sign-in and the unlock page
// work; MCP gets a JSON-RPC error saying what to do; the admin API only
// signs in and stops. A wrong passphrase is answered (later) with the
// page again; the right one switches the daemon to its full self on the
// same address and token, and signs the window in to it.
func TestLockedDaemon(t *testing.T) {
	dir := t.TempDir()
	makePassphraseVault(t, dir)
	rt := startDaemon(t, Config{DataDir: dir, Vault: vault.Config{
		Keyring: vaulttest.NewKeyring(), Getenv: func(string) string { return "" }}})

	// EnsureDaemon finds it at once: the identity is proved.
	ectx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := localclient.EnsureDaemon(ectx, localclient.EnsureOptions{DataDir: dir}); err != nil || got.PID != rt.PID {
		t.Fatalf("EnsureDaemon on a locked daemon: %+v %v", got, err)
	}

	c := newClient(t, rt.BaseURL())
	st, _, body := c.do(http.MethodPost, "/acme/mcp", initialize, mcpHeaders)
	var rpc struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &rpc); err != nil || st != http.StatusServiceUnavailable ||
		string(rpc.ID) != "7" || rpc.Error.Message != LockedMessage {
		t.Fatalf("MCP while locked: %d %s", st, body)
	}
	if st, _, body := c.do(http.MethodGet, "/readyz", "", nil); st != http.StatusServiceUnavailable || !strings.Contains(body, "locked") {
		t.Fatalf("readyz: %d %s", st, body)
	}
	auth := map[string]string{"Authorization": "Bearer " + rt.Token}
	if st, _, body := c.do(http.MethodGet, "/api/v1/tenants", "", auth); st != http.StatusServiceUnavailable || !strings.Contains(body, LockedMessage) {
		t.Fatalf("admin API while locked: %d %s", st, body)
	}
	if st, _, _ := c.do(http.MethodPost, "/api/v1/ui/login-ticket", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("login ticket without the token: %d", st)
	}
	if st, _, _ := c.do(http.MethodPost, "/api/v1/ui/login-ticket", "", map[string]string{"Authorization": "Bearer plxl_wrong"}); st != http.StatusUnauthorized {
		t.Fatalf("login ticket with a wrong token: %d", st)
	}
	if st, _, _ := c.do(http.MethodGet, "/ui/", "", nil); st != http.StatusForbidden {
		t.Fatalf("unlock page without signing in: %d", st)
	}

	page := c.signIn(rt)
	if !strings.Contains(page, "Unlock Plexus") || !strings.Contains(page, `autocomplete="current-password"`) {
		t.Fatalf("signed-in page while locked:\n%s", page)
	}
	csrf := c.csrf()
	if st, hdr, _ := c.do(http.MethodGet, "/ui/tenants", "", nil); st != http.StatusSeeOther || hdr.Get("Location") != "/ui/" {
		t.Fatalf("another page while locked: %d %s", st, hdr.Get("Location"))
	}
	if st, _, _ := c.form("/ui/unlock", url.Values{"passphrase": {testPassphrase}}); st != http.StatusForbidden {
		t.Fatalf("unlock without CSRF: %d", st)
	}
	if st, _, body := c.form("/ui/unlock", url.Values{"csrf": {csrf}, "passphrase": {"not the passphrase"}}); st != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "does not open Plexus") || strings.Contains(body, "not the passphrase") {
		t.Fatalf("wrong passphrase: %d\n%s", st, body)
	}
	st, hdr, _ := c.form("/ui/unlock", url.Values{"csrf": {csrf}, "passphrase": {testPassphrase}})
	loc := hdr.Get("Location")
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login?ticket=plxt_") || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("unlock: %d %q", st, loc)
	}
	if st, _, _ := c.do(http.MethodGet, loc, "", nil); st != http.StatusOK {
		t.Fatalf("login after unlock: %d", st)
	}
	if st, _, body := c.do(http.MethodGet, "/ui/", "", nil); st != http.StatusOK || !strings.Contains(body, "<h1>Home</h1>") {
		t.Fatalf("home after unlock: %d\n%s", st, body)
	}

	// The same daemon, now whole.
	if st, hdr, body := c.do(http.MethodPost, "/acme/mcp", initialize, map[string]string{
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Authorization": "Bearer " + rt.Token,
	}); st != http.StatusOK || hdr.Get("Mcp-Session-Id") == "" || !strings.Contains(body, `"result"`) {
		t.Fatalf("MCP after unlock: %d %s", st, body)
	}
	if st, _, body := c.do(http.MethodGet, "/api/v1/tenants", "", auth); st != http.StatusOK || !strings.Contains(body, "acme") {
		t.Fatalf("admin API after unlock: %d %s", st, body)
	}
	if st, _, _ := c.do(http.MethodGet, "/readyz", "", nil); st != http.StatusOK {
		t.Fatalf("readyz after unlock: %d", st)
	}
	if got, err := localclient.ReadRuntime(dir); err != nil || got.Token != rt.Token || got.Addr != rt.Addr {
		t.Fatalf("runtime after unlock: %+v %v", got, err)
	}
	// The audit log, which opens with the vault, has both attempts at the
	// unlock page (and never the passphrases).
	st, _, body = c.do(http.MethodGet, "/api/v1/audit?kind=login", "", auth)
	var audit struct {
		Records []struct {
			Action, Outcome, Reason, Actor string
		}
	}
	if err := json.Unmarshal([]byte(body), &audit); err != nil || st != http.StatusOK {
		t.Fatalf("audit log: %d %s", st, body)
	}
	var attempts []string
	for _, r := range audit.Records {
		if r.Action == "unlock_passphrase" && r.Actor == "unlock_page" {
			attempts = append(attempts, r.Outcome+"/"+r.Reason)
		}
	}
	if want := []string{"ok/", "denied/wrong_passphrase"}; !slices.Equal(attempts, want) { // newest first
		t.Errorf("unlock attempts in the audit log: %q, want %q", attempts, want)
	}
	if strings.Contains(body, testPassphrase) || strings.Contains(body, "not the passphrase") {
		t.Error("a passphrase is in the audit log")
	}
}

// TestLockedAttemptsKeptAtStop: a locked daemon stopped before anyone
// unlocks it still writes the unlock page's attempts to the audit log.
func TestLockedAttemptsKeptAtStop(t *testing.T) {
	dir := t.TempDir()
	makePassphraseVault(t, dir)
	rt, stop := startStoppableDaemon(t, Config{DataDir: dir, Vault: vault.Config{
		Keyring: vaulttest.NewKeyring(), Getenv: func(string) string { return "" }}})
	c := newClient(t, rt.BaseURL())
	c.signIn(rt)
	csrf := c.csrf()
	for range 2 {
		if st, _, _ := c.form("/ui/unlock", url.Values{"csrf": {csrf}, "passphrase": {"not the passphrase"}}); st != http.StatusUnprocessableEntity {
			t.Fatalf("wrong passphrase: %d", st)
		}
	}
	stop()
	rec, err := audit.Open(audit.Options{Dir: filepath.Join(dir, ActivityDirName)})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	p, err := rec.Query(t.Context(), audit.Query{Kind: audit.KindLogin})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, r := range p.Calls {
		if r.Action == "unlock_passphrase" && r.Outcome == audit.OutcomeDenied {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d denied unlock attempts in the audit log, want 2: %+v", n, p.Calls)
	}
}

// TestLockedNewVault: the window's daemon with no keyring asks for a
// new passphrase, typed twice.
func TestLockedNewVault(t *testing.T) {
	dir := t.TempDir()
	kr := vaulttest.NewKeyring()
	kr.Err = errors.New("no keyring here")
	rt := startDaemon(t, Config{DataDir: dir, ForWindow: true, Vault: vault.Config{
		Keyring: kr, Getenv: func(string) string { return "" }}})
	c := newClient(t, rt.BaseURL())
	if _, _, body := c.do(http.MethodPost, "/acme/mcp", initialize, mcpHeaders); !strings.Contains(body, NotSetUpMessage) {
		t.Fatalf("MCP before setup: %s", body)
	}
	page := c.signIn(rt)
	if !strings.Contains(page, "Choose a passphrase") || !strings.Contains(page, `autocomplete="new-password"`) {
		t.Fatalf("setup page:\n%s", page)
	}
	csrf := c.csrf()
	for _, tc := range []struct{ p, again, want string }{
		{"short", "short", "Use at least 12 characters"},
		{testPassphrase, testPassphrase + "x", "The two passphrases differ"},
	} {
		st, _, body := c.form("/ui/setup", url.Values{"csrf": {csrf}, "passphrase": {tc.p}, "confirm": {tc.again}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) || strings.Contains(body, testPassphrase) {
			t.Fatalf("setup %q: %d\n%s", tc.want, st, body)
		}
	}
	st, hdr, _ := c.form("/ui/setup", url.Values{"csrf": {csrf}, "passphrase": {testPassphrase}, "confirm": {testPassphrase}})
	if st != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/ui/login?ticket=") {
		t.Fatalf("setup: %d %v", st, hdr)
	}
	c.do(http.MethodGet, hdr.Get("Location"), "", nil)
	if st, _, body := c.do(http.MethodGet, "/ui/", "", nil); st != http.StatusOK || !strings.Contains(body, "Your passphrase") {
		t.Fatalf("home after setup: %d\n%s", st, body)
	}
}

func TestLockedReplies(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, `"id":1`},
		{`{"jsonrpc":"2.0","id":"a","method":"tools/list"}`, `"id":"a"`},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, `"id":null`},
		{`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":2,"method":"b"}]`, `[{"error"`},
		{`not json`, `"id":null`},
		{`{"id":{"x":1}}`, `"id":null`},
		{``, `"id":null`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(lockedReplies([]byte(tc.in), LockedMessage))
		if err != nil || !strings.Contains(string(b), tc.want) || !strings.Contains(string(b), LockedMessage) {
			t.Errorf("%s -> %s (%v), want %s", tc.in, b, err, tc.want)
		}
	}
}

func FuzzLockedReplies(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"x"}`, `[{"id":1},{"id":"2"}]`, `[]`, `{"id":null}`, `[` + strings.Repeat(`{"id":1},`, 200) + `{"id":1}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := json.Marshal(lockedReplies(in, LockedMessage))
		if err != nil || !json.Valid(b) {
			t.Fatalf("invalid answer %s: %v", b, err)
		}
	})
}

// TestLockedConcurrentUnlock: two windows send the passphrase at once:
// both end signed in to the full UI, and the daemon switched once.
func TestLockedConcurrentUnlock(t *testing.T) {
	dir := t.TempDir()
	makePassphraseVault(t, dir)
	rt := startDaemon(t, Config{DataDir: dir, Vault: vault.Config{
		Keyring: vaulttest.NewKeyring(), Getenv: func(string) string { return "" }}})
	clients := []*client{newClient(t, rt.BaseURL()), newClient(t, rt.BaseURL())}
	csrfs := make([]string, len(clients))
	for i, c := range clients {
		c.signIn(rt)
		csrfs[i] = c.csrf()
	}
	locs := make([]string, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, hdr, _ := c.form("/ui/unlock", url.Values{"csrf": {csrfs[i]}, "passphrase": {testPassphrase}})
			locs[i] = hdr.Get("Location")
		}()
	}
	wg.Wait()
	for i, c := range clients {
		if !strings.HasPrefix(locs[i], "/ui/login?ticket=") {
			t.Fatalf("window %d: %q", i, locs[i])
		}
		c.do(http.MethodGet, locs[i], "", nil)
		if st, _, body := c.do(http.MethodGet, "/ui/", "", nil); st != http.StatusOK || !strings.Contains(body, "<h1>Home</h1>") {
			t.Fatalf("window %d after unlock: %d", i, st)
		}
	}
}
