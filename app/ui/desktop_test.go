package ui_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// desktopFixture is the UI over a vault opened with kr (a keyring that
// fails makes a key-file vault), with the admin operations for key moves
// and a temp folder as the user's config folder.
func desktopFixture(t *testing.T, kr *vaulttest.Keyring) (*fixture, string) {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	f := &fixture{clock: clk, logs: &syncBuffer{}}
	f.v = vaulttest.Open(t, vault.Config{Now: clk.Now, Keyring: kr})
	cfgDir := t.TempDir()
	f.ops = adminops.New(f.v, adminops.Options{})
	h, err := ui.New(t.Context(), ui.Options{
		Ops:   f.ops,
		Login: f.v,
		Keys:  f.ops,
		Info: func() ui.DaemonInfo {
			return ui.DaemonInfo{Version: "9.9.9", Addr: "127.0.0.1:8765", DataDir: "/data/plexus", StartedAt: clk.Now(), Key: f.v.KeyInfo()}
		},
		StdioCommand:  []string{"/opt/plexus/bin/plexus", "stdio"},
		UserConfigDir: func() (string, error) { return cfgDir, nil },
		Logger:        slog.New(slog.NewTextHandler(f.logs, nil)),
		Now:           clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "personal", Name: "Personal"}); err != nil {
		t.Fatal(err)
	}
	return f, filepath.Join(cfgDir, "Claude", "claude_desktop_config.json")
}

// TestConnectClaudeDesktop: Home's button writes Claude Desktop's
// settings file, only on a POST with the CSRF token, says which file in
// the home folder it changes, and shows the file's state next to it.
func TestConnectClaudeDesktop(t *testing.T) {
	f, path := desktopFixture(t, vaulttest.NewKeyring())
	b := f.browser(t)
	b.login()
	home := b.get("/ui/").body
	for _, want := range []string{"Not connected", `action="/ui/claude-desktop"`, `name="tenant" value="personal"`,
		"in your home folder on this computer", path, "Plexus creates Claude Desktop’s settings file", "Add it by hand instead"} {
		if !strings.Contains(home, want) {
			t.Errorf("Home lacks %q", want)
		}
	}
	csrf := b.csrf()
	if r := b.post("/ui/claude-desktop", url.Values{"tenant": {"personal"}}); r.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", r.status)
	}
	if r := b.do(http.MethodGet, "/ui/claude-desktop?tenant=personal", "", nil); r.status == http.StatusSeeOther {
		t.Fatal("a GET connected")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file was written without a valid form: %v", err)
	}
	if r := b.post("/ui/claude-desktop", url.Values{"csrf": {csrf}, "tenant": {"nosuch"}}); r.status != http.StatusSeeOther {
		t.Fatalf("unknown tenant: %d", r.status)
	}
	if !strings.Contains(b.get("/ui/").body, "That tenant no longer exists") {
		t.Fatal("no flash for an unknown tenant")
	}
	r := b.post("/ui/claude-desktop", url.Values{"csrf": {csrf}, "tenant": {"personal"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/#connect" {
		t.Fatalf("connect: %d %v", r.status, r.header)
	}
	home = b.get("/ui/").body
	if !strings.Contains(home, "Connected. Restart Claude Desktop.") || !strings.Contains(home, `data-claude-state="connected"`) {
		t.Fatalf("Home after connecting:\n%s", home)
	}
	var doc struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	raw, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("the file: %v %s", err, raw)
	}
	e := doc.MCPServers["plexus"]
	if e.Command != "/opt/plexus/bin/plexus" || strings.Join(e.Args, " ") != "stdio --tenant personal" {
		t.Fatalf("entry %+v", e)
	}
	if r := b.post("/ui/claude-desktop", url.Values{"csrf": {csrf}, "tenant": {"personal"}}); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if !strings.Contains(b.get("/ui/").body, "already uses Plexus") {
		t.Fatal("a second connect did not say it was already connected")
	}
}

// TestClaudeDesktopStates: another program's entry under Plexus's name,
// other servers kept, a file with comments refused (and said why).
func TestClaudeDesktopStates(t *testing.T) {
	f, path := desktopFixture(t, vaulttest.NewKeyring())
	b := f.browser(t)
	b.login()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	other := `{"mcpServers":{"fs":{"command":"npx","args":["fs"]},"plexus":{"command":"/old/plexus","args":["stdio"]}},"theme":"dark"}`
	if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	home := b.get("/ui/").body
	if !strings.Contains(home, "Entry differs") || !strings.Contains(home, "Update Claude Desktop’s entry") {
		t.Fatalf("differs:\n%s", home)
	}
	csrf := b.csrf()
	b.post("/ui/claude-desktop", url.Values{"csrf": {csrf}, "tenant": {"personal"}})
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"npx"`) || !strings.Contains(string(raw), `"theme": "dark"`) || strings.Contains(string(raw), "/old/plexus") {
		t.Fatalf("after updating:\n%s", raw)
	}
	if backups, _ := filepath.Glob(path + ".plexus-backup-*"); len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}

	commented := "{\n  // mine\n  \"mcpServers\": {}\n}\n"
	if err := os.WriteFile(path, []byte(commented), 0o600); err != nil {
		t.Fatal(err)
	}
	home = b.get("/ui/").body
	for _, want := range []string{"Cannot read settings", "comments", "Edit Config", `<details class="disclosure" open>`} {
		if !strings.Contains(home, want) {
			t.Errorf("unreadable file: Home lacks %q", want)
		}
	}
	if strings.Contains(home, `action="/ui/claude-desktop"`) {
		t.Error("a Connect button for a file Plexus will not change")
	}
	b.post("/ui/claude-desktop", url.Values{"csrf": {csrf}, "tenant": {"personal"}})
	if !strings.Contains(b.get("/ui/").body, "Plexus did not change Claude Desktop") {
		t.Error("no flash for a refused file")
	}
	if raw, _ := os.ReadFile(path); string(raw) != commented {
		t.Fatal("a file with comments was changed")
	}
}

// TestKeyMoveToKeyring: a key-file vault on a machine whose keyring now
// answers: Home offers the move; the POST needs the CSRF token; after it
// the key is in the keyring and the file is gone.
func TestKeyMoveToKeyring(t *testing.T) {
	kr := vaulttest.NewKeyring()
	kr.Err = errors.New("no keyring yet")
	f, _ := desktopFixture(t, kr)
	keyFile := f.v.KeyInfo().File
	kr.Err = nil
	b := f.browser(t)
	b.login()
	home := b.get("/ui/").body
	for _, want := range []string{"Move the key to your keyring", `action="/ui/key/keyring"`, "<summary>Protect with a passphrase</summary>"} {
		if !strings.Contains(home, want) {
			t.Errorf("Home lacks %q", want)
		}
	}
	csrf := b.csrf()
	if r := b.post("/ui/key/keyring", nil); r.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", r.status)
	}
	if f.v.KeySource() != vault.KeySourceFile {
		t.Fatal("moved without CSRF")
	}
	if r := b.post("/ui/key/keyring", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("move: %d", r.status)
	}
	home = b.get("/ui/").body
	if !strings.Contains(home, "The key is now in your system keyring, and the key file is deleted.") || !strings.Contains(home, "System keyring") {
		t.Fatalf("Home after the move:\n%s", home)
	}
	if strings.Contains(home, `action="/ui/key/keyring"`) {
		t.Fatal("the move is still offered")
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the key file is still there")
	}
}

// TestKeyMoveToPassphrase: with no keyring, Home offers a passphrase
// (typed twice); errors show under the fields and never echo it.
func TestKeyMoveToPassphrase(t *testing.T) {
	kr := vaulttest.NewKeyring()
	kr.Err = errors.New("no keyring here")
	f, _ := desktopFixture(t, kr)
	b := f.browser(t)
	b.login()
	home := b.get("/ui/").body
	if !strings.Contains(home, "<summary>Protect with a passphrase</summary>") || strings.Contains(home, `action="/ui/key/keyring"`) {
		t.Fatalf("Home without a keyring:\n%s", home)
	}
	csrf := b.csrf()
	if r := b.post("/ui/key/passphrase", url.Values{"passphrase": {"correct horse battery staple"}, "confirm": {"correct horse battery staple"}}); r.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", r.status)
	}
	tests := []struct{ p, again, want string }{
		{"eleven char", "eleven char", "Use at least 12 characters; this one has 11."},
		{"correct horse battery staple", "correct horse battery stapl", "The two passphrases differ."},
	}
	for _, tc := range tests {
		r := b.post("/ui/key/passphrase", url.Values{"csrf": {csrf}, "passphrase": {tc.p}, "confirm": {tc.again}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.want) || strings.Contains(r.body, tc.p) ||
			!strings.Contains(r.body, "<h1>Home</h1>") || !strings.Contains(r.body, `<details class="disclosure" open>`) {
			t.Errorf("%q: %d", tc.want, r.status)
		}
	}
	if f.v.KeySource() != vault.KeySourceFile {
		t.Fatal("a refused form moved the key")
	}
	r := b.post("/ui/key/passphrase", url.Values{"csrf": {csrf}, "passphrase": {"correct horse battery staple"}, "confirm": {"correct horse battery staple"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("protect: %d", r.status)
	}
	home = b.get("/ui/").body
	if !strings.Contains(home, "protected by your passphrase") || !strings.Contains(home, "Your passphrase") || strings.Contains(home, `action="/ui/key/passphrase`) {
		t.Fatalf("Home after protecting:\n%s", home)
	}
}
