package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// fakeUnlocker records what the forms asked for.
type fakeUnlocker struct {
	mu       sync.Mutex
	isNew    bool
	want     string
	calls    []string
	keyFiles int
}

func (f *fakeUnlocker) NewVault() bool { return f.isNew }

func (f *fakeUnlocker) Unlock(_ context.Context, p string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "unlock")
	if p != f.want {
		return "", vault.ErrWrongKey
	}
	return "/ui/login?ticket=plxt_next", nil
}

func (f *fakeUnlocker) Create(_ context.Context, p string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "create:"+p)
	return "/ui/login?ticket=plxt_next", nil
}

func (f *fakeUnlocker) UseKeyFile(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyFiles++
	return "/ui/login?ticket=plxt_next", nil
}

// lockedFixture serves the locked UI over a real Locked vault's login.
func lockedFixture(t *testing.T, u *fakeUnlocker) (*fixture, *vault.Locked) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plexus.db")
	pv := vaulttest.Open(t, vault.Config{Path: path, Getenv: func(k string) string {
		return map[string]string{"PLEXUS_PASSPHRASE": "correct horse battery staple"}[k]
	}})
	if err := pv.Close(); err != nil {
		t.Fatal(err)
	}
	_, l, err := vault.OpenOrLock(t.Context(), vault.Config{Path: path, Keyring: vaulttest.NewKeyring(),
		Getenv: func(string) string { return "" }}, vault.LockOptions{})
	if err != nil || l == nil {
		t.Fatalf("OpenOrLock: %v %v", l, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	h, err := ui.NewLocked(t.Context(), ui.LockedOptions{Login: l, Unlocker: u, VaultFile: path,
		KeyFile: filepath.Join(dir, vault.KeyFileName)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{logs: &syncBuffer{}}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f, l
}

func lockedLogin(t *testing.T, b *browser, l *vault.Locked) string {
	t.Helper()
	tk, _, err := l.NewUILoginTicket(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.get("/ui/login?ticket=" + tk); r.status != http.StatusOK {
		t.Fatalf("login: %d", r.status)
	}
	r := b.get("/ui/")
	if r.status != http.StatusOK {
		t.Fatalf("unlock page: %d\n%s", r.status, r.body)
	}
	return r.body
}

// TestUnlockPage: the locked UI's one page and its form: CSRF, plain
// errors that never echo the passphrase, and on success the full UI's
// sign-in link.
func TestUnlockPage(t *testing.T) {
	u := &fakeUnlocker{want: "correct horse battery staple"}
	f, l := lockedFixture(t, u)
	b := f.browser(t)
	if r := b.get("/ui/"); r.status != http.StatusForbidden || !strings.Contains(r.body, "plexus open") {
		t.Fatalf("without signing in: %d", r.status)
	}
	page := lockedLogin(t, b, l)
	for _, want := range []string{"<h1>Unlock Plexus</h1>", `action="/ui/unlock"`, `type="password"`,
		`autocomplete="current-password"`, "Forgot your passphrase?", "plexus.db", "wait until Plexus is unlocked"} {
		if !strings.Contains(page, want) {
			t.Errorf("unlock page lacks %q", want)
		}
	}
	csrf := b.csrf()
	for _, path := range []string{"/ui/unlock", "/ui/setup", "/ui/setup/key-file"} {
		if r := b.post(path, url.Values{"passphrase": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("%s without CSRF: %d", path, r.status)
		}
		if r := b.post(path, url.Values{"csrf": {"forged-token-forged-token-forged-1"}, "passphrase": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("%s with a wrong CSRF token: %d", path, r.status)
		}
	}
	if len(u.calls) != 0 || u.keyFiles != 0 {
		t.Fatalf("forms without CSRF reached the vault: %v %d", u.calls, u.keyFiles)
	}
	tests := []struct {
		pass, want string
		status     int
	}{
		{"", "Type the passphrase.", http.StatusUnprocessableEntity},
		{strings.Repeat("x", 1025), "Use at most 1024 characters.", http.StatusUnprocessableEntity},
		{"secret-typo-here", "does not open Plexus", http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		r := b.post("/ui/unlock", url.Values{"csrf": {csrf}, "passphrase": {tc.pass}})
		if r.status != tc.status || !strings.Contains(r.body, tc.want) || (tc.pass != "" && strings.Contains(r.body, tc.pass)) {
			t.Errorf("unlock %q: %d, want %d and %q", tc.pass[:min(len(tc.pass), 20)], r.status, tc.status, tc.want)
		}
		if !strings.Contains(r.body, `aria-invalid="true"`) {
			t.Errorf("unlock %q: the field is not marked invalid", tc.want)
		}
	}
	r := b.post("/ui/unlock", url.Values{"csrf": {csrf}, "passphrase": {"correct horse battery staple"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/login?ticket=plxt_next" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("unlock: %d %v", r.status, r.header)
	}
	// A new vault's forms are not this page's.
	for _, path := range []string{"/ui/setup", "/ui/setup/key-file"} {
		if r := b.post(path, url.Values{"csrf": {csrf}, "passphrase": {"twelve chars"}, "confirm": {"twelve chars"}}); r.status != http.StatusSeeOther ||
			r.header.Get("Location") != "/ui/" {
			t.Errorf("%s on an existing vault: %d %q", path, r.status, r.header.Get("Location"))
		}
	}
	if len(u.calls) != 2 || u.keyFiles != 0 { // the wrong and the right passphrase
		t.Errorf("a new vault's forms reached an existing one: %v %d", u.calls, u.keyFiles)
	}
	if r := b.get("/ui/tenants"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/" {
		t.Errorf("other pages while locked: %d %q", r.status, r.header.Get("Location"))
	}
}

// TestChoosePassphrasePage: a new vault's passphrase is typed twice, at
// least vault.MinPassphraseLen characters; or the person keeps a key file.
func TestChoosePassphrasePage(t *testing.T) {
	u := &fakeUnlocker{isNew: true}
	f, l := lockedFixture(t, u)
	b := f.browser(t)
	page := lockedLogin(t, b, l)
	for _, want := range []string{"<h1>Choose a passphrase</h1>", `action="/ui/setup"`, `autocomplete="new-password"`,
		`minlength="12"`, "Type it again", "Rather not use a passphrase?", `action="/ui/setup/key-file"`, "plexus.key"} {
		if !strings.Contains(page, want) {
			t.Errorf("setup page lacks %q", want)
		}
	}
	csrf := b.csrf()
	tests := []struct{ p, again, want string }{
		{"", "", "Type the passphrase."},
		{"eleven char", "eleven char", "Use at least 12 characters; this one has 11."},
		{"twelve chars", "twelve chars!", "The two passphrases differ."},
	}
	for _, tc := range tests {
		r := b.post("/ui/setup", url.Values{"csrf": {csrf}, "passphrase": {tc.p}, "confirm": {tc.again}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.want) || (tc.p != "" && strings.Contains(r.body, tc.p)) {
			t.Errorf("setup %q/%q: %d\n%s", tc.p, tc.again, r.status, r.body)
		}
	}
	if len(u.calls) != 0 {
		t.Fatalf("refused forms reached the vault: %v", u.calls)
	}
	r := b.post("/ui/setup", url.Values{"csrf": {csrf}, "passphrase": {"twelve chars"}, "confirm": {"twelve chars"}})
	if r.status != http.StatusSeeOther || len(u.calls) != 1 || u.calls[0] != "create:twelve chars" {
		t.Fatalf("setup: %d %v", r.status, u.calls)
	}
	r = b.post("/ui/setup/key-file", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || u.keyFiles != 1 {
		t.Fatalf("key file: %d %d", r.status, u.keyFiles)
	}
}
