package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/vault"
)

// runCLI runs `plexus args…` in-process and returns what main would show:
// stdout, stderr (with main's "plexus: <err>" line) and the exit status.
func runCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Getenv: func(k string) string { return vars[k] },
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Exe:    "/nonexistent/plexus", // nothing here may start a daemon
	}
	err = Run(t.Context(), args, env)
	if err != nil {
		errb.WriteString("plexus: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), ExitCode(err), err
}

// checkNoDoubledPrefix fails when an error repeats a prefix: "plexus:
// plexus: …", "open vault: open vault …", or any "x: x:".
func checkNoDoubledPrefix(t *testing.T, msg string) {
	t.Helper()
	if strings.HasPrefix(strings.ToLower(msg), "plexus") {
		t.Errorf("error starts with plexus again (main adds it): %q", msg)
	}
	parts := strings.Split(msg, ": ")
	for i := 1; i < len(parts); i++ {
		a, b := strings.Fields(parts[i-1]), strings.Fields(parts[i])
		if len(a) > 0 && len(b) > 0 && strings.Join(a[:min(2, len(a))], " ") == strings.Join(b[:min(2, len(b))], " ") {
			t.Errorf("doubled prefix %q in %q", parts[i], msg)
		}
	}
}

// TestCLIUsage runs many invocations: help at every level goes to stdout
// with status 0; a typo gets "did you mean"; a flag error is one line with
// status 2; no error repeats a prefix.
func TestCLIUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args       string
		code       int
		stdout     []string // each must appear in stdout
		stderr     []string // each must appear in stderr ("" = stderr must be empty)
		suggestion string   // "did you mean" must name this
	}{
		// Help at every level: stdout, status 0, nothing on stderr.
		{args: "help", stdout: []string{"Usage:", "serve", "stdio", "admin", "status", "stop", "start a background daemon"}},
		{args: "--help", stdout: []string{"Usage:", "plexus help admin tenant create"}},
		{args: "-h", stdout: []string{"Usage:"}},
		{args: "help help", stdout: []string{"Usage:"}},
		{args: "help serve", stdout: []string{"Usage: plexus serve", "--listen", "--key-file", "plexus.key"}},
		{args: "serve -h", stdout: []string{"Usage: plexus serve", "--data"}},
		{args: "serve --help", stdout: []string{"Usage: plexus serve"}},
		{args: "help stdio", stdout: []string{"Usage: plexus stdio", "--tenant"}},
		{args: "stdio --help", stdout: []string{"Usage: plexus stdio"}},
		{args: "open --help", stdout: []string{"Usage: plexus open"}},
		{args: "status --help", stdout: []string{"Usage: plexus status", "--json", "never"}},
		{args: "help stop", stdout: []string{"Usage: plexus stop", "--timeout"}},
		{args: "version --help", stdout: []string{"Usage: plexus version"}},
		{args: "version", stdout: []string{"plexus " + Version}},
		{args: "--version", stdout: []string{"plexus " + Version}},
		{args: "admin --help", stdout: []string{"Usage: plexus admin", "tenant create", "connections set-api-key"}},
		{args: "admin -h", stdout: []string{"Usage: plexus admin"}},
		{args: "help admin", stdout: []string{"Usage: plexus admin", "ext-oauth create"}},
		{args: "admin help", stdout: []string{"Usage: plexus admin"}},
		{args: "admin tenant --help", stdout: []string{"Usage: plexus admin tenant COMMAND", "tenant rotate-secret"}},
		{args: "admin tenant -h", stdout: []string{"Usage: plexus admin tenant COMMAND"}},
		{args: "admin tenant help", stdout: []string{"Usage: plexus admin tenant COMMAND"}},
		{args: "admin help tenant", stdout: []string{"Usage: plexus admin tenant COMMAND"}},
		{args: "help admin tenant", stdout: []string{"Usage: plexus admin tenant COMMAND"}},
		{args: "admin tenant create --help", stdout: []string{"Usage: plexus admin tenant create --entity-id ID --name NAME", "--entity-id string", "--json"}},
		{args: "admin tenant create -h", stdout: []string{"Usage: plexus admin tenant create"}},
		{args: "help admin tenant create", stdout: []string{"Usage: plexus admin tenant create"}},
		{args: "admin tenant show acme --help", stdout: []string{"Usage: plexus admin tenant show"}},
		{args: "admin ext-oauth create --help", stdout: []string{"--authorization-url U", "--client-secret string"}},
		{args: "admin tools enable --help", stdout: []string{"Usage: plexus admin tools enable|disable", "--tool-set"}},
		{args: "admin connections set-api-key -h", stdout: []string{"--api-key", "--user"}},

		// Unknown commands: one line, did you mean, where to look.
		{args: "sevre", code: 2, stderr: []string{`unknown command "sevre"`, "Run 'plexus help'"}, suggestion: "serve"},
		{args: "stauts", code: 2, stderr: []string{`unknown command "stauts"`}, suggestion: "status"},
		{args: "stpo", code: 2, suggestion: "stop"},
		{args: "frobnicate", code: 2, stderr: []string{`unknown command "frobnicate".`, "Run 'plexus help'"}},
		{args: "help sevre", code: 2, suggestion: "serve"},
		{args: "admin tenat list", code: 2, stderr: []string{"admin: unknown command", "plexus admin --help"}, suggestion: "tenant"},
		{args: "admin tenant craete", code: 2, stderr: []string{"admin tenant: unknown command", "plexus admin tenant --help"}, suggestion: "create"},
		{args: "admin tenant lst", code: 2, suggestion: "list"},
		{args: "admin tokens list", code: 2, suggestion: "token"},
		{args: "admin", code: 2, stderr: []string{"admin: missing command", "plexus admin --help"}},
		{args: "admin tenant", code: 2, stderr: []string{"admin tenant: missing command", "plexus admin tenant --help"}},

		// Flag mistakes: one line naming the flag and where help is.
		{args: "serve --bogus", code: 2, stderr: []string{"serve: unknown flag --bogus", "(see 'plexus serve --help')"}},
		{args: "serve --dta /tmp/x", code: 2, stderr: []string{"unknown flag --dta"}, suggestion: "--data"},
		{args: "serve --session-ttl soon", code: 2, stderr: []string{`invalid value "soon" for flag --session-ttl`}},
		{args: "serve --data", code: 2, stderr: []string{"flag needs an argument: --data"}},
		{args: "serve extra", code: 2, stderr: []string{`serve: unexpected argument "extra"`}},
		{args: "stdio --tenat acme", code: 2, suggestion: "--tenant"},
		{args: "stdio", code: 2, stderr: []string{"--tenant is required"}},
		{args: "status --jsno", code: 2, suggestion: "--json"},
		{args: "stop --timeout -1s", code: 2, stderr: []string{"--timeout must be positive"}},
		{args: "open --bogus", code: 2, stderr: []string{"open: unknown flag --bogus"}},
		{args: "version extra", code: 2, stderr: []string{`unexpected argument "extra"`}},
		{args: "admin --bogus tenant list", code: 2, stderr: []string{"admin: unknown flag --bogus"}},
		{args: "admin tenant list --jsn", code: 2, stderr: []string{"admin tenant list: unknown flag --jsn", "plexus admin tenant list --help"}, suggestion: "--json"},
		{args: "admin tenant create --entity-id", code: 2, stderr: []string{"flag needs an argument: --entity-id"}},
		{args: "admin tenant show", code: 2, stderr: []string{"--entity-id is required"}},
		{args: "--data /tmp/x serve", code: 2, stderr: []string{"unknown flag --data", "flags follow the command"}},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			stdout, stderr, code, err := runCLI(t, map[string]string{"PLEXUS_DATA_DIR": dir}, strings.Fields(tc.args)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (err %v)\nstdout: %s\nstderr: %s", code, tc.code, err, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("stderr should be empty, got %q", stderr)
			}
			if tc.code != 0 {
				if stdout != "" {
					t.Errorf("a mistake printed to stdout: %q", stdout)
				}
				if n := strings.Count(strings.TrimRight(stderr, "\n"), "\n"); n != 0 {
					t.Errorf("a mistake printed %d lines, want 1:\n%s", n+1, stderr)
				}
				if strings.Contains(stderr, "Flags:") || strings.Contains(stderr, "Usage") {
					t.Errorf("a mistake printed the usage: %s", stderr)
				}
				checkNoDoubledPrefix(t, err.Error())
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, stderr)
				}
			}
			if tc.suggestion != "" && !strings.Contains(stderr, "did you mean "+tc.suggestion) &&
				!strings.Contains(stderr, `did you mean "`+tc.suggestion+`"`) {
				t.Errorf("no suggestion of %s: %s", tc.suggestion, stderr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%q created the data directory", tc.args)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	opts := []string{"serve", "stdio", "admin", "status", "stop", "open", "version", "help"}
	for _, tc := range []struct{ in, want string }{
		{"serve", "serve"}, {"sevre", "serve"}, {"SERVE", "serve"}, {"srve", "serve"}, {"serv", "serve"},
		{"statsu", "status"}, {"stp", "stop"}, {"opne", "open"}, {"vers", "version"},
		{"x", ""}, {"", ""}, {"zzzzzz", ""}, {"st", ""}, {"administrator", ""},
	} {
		if got := suggest(tc.in, opts); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if d := editDistance("ab", "ba"); d != 1 {
		t.Errorf("a swap costs %d, want 1", d)
	}
}

// FuzzParseFlags feeds arbitrary command lines to the flag handling every
// command shares: it never panics, help is only -h/--help, and every
// mistake is one line that names the command and never starts with plexus.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"", "--help", "-h", "--data\x00x", "--dta\x00x", "--session-ttl\x00soon", "--json=maybe",
		"---x", "-", "--", "--data", "-data=x\x00extra", "--\x00--help", "--tenant=\x00\n", "--é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.String("data", "", "data directory")
		fs.Bool("json", false, "print JSON")
		fs.Duration("session-ttl", 0, "idle time")
		var out bytes.Buffer
		env := Env{Stdout: &out, Stderr: io.Discard}
		err := parseFlags(fs, args, env, "serve", commandHelp(fs, "plexus serve", ""))
		switch {
		case err == nil:
			if out.Len() != 0 {
				t.Fatalf("parsed and printed %q", out.String())
			}
		case errors.Is(err, flag.ErrHelp):
			if !strings.Contains(out.String(), "Usage: plexus serve") {
				t.Fatalf("help printed %q", out.String())
			}
		default:
			msg := err.Error()
			if !errors.Is(err, ErrUsage) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "serve: ") || out.Len() != 0 {
				t.Fatalf("mistake reported as %q (usage %v, stdout %q)", msg, errors.Is(err, ErrUsage), out.String())
			}
		}
	})
}

// TestAskNewPassphrase: a new passphrase is typed twice, must be long
// enough, and Enter alone declines.
func TestAskNewPassphrase(t *testing.T) {
	long := strings.Repeat("x", vault.MinPassphraseLen)
	tests := []struct {
		name    string
		typed   []string
		want    string
		wantErr bool
		wantOut []string
	}{
		{"typed twice", []string{long, long}, long, false, []string{"at least 12", "plexus.key"}},
		{"declined", []string{""}, "", false, nil},
		{"too short, then good", []string{"short", long, long}, long, false, []string{"use at least 12"}},
		{"differ, then good", []string{long, long + "y", long, long}, long, false, []string{"differ"}},
		{"never agreeing", []string{long, "a", long, "b", long, "c"}, "", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			read := func(string) (string, error) {
				if i >= len(tc.typed) {
					t.Fatalf("asked %d times, more than typed", i+1)
				}
				i++
				return tc.typed[i-1], nil
			}
			var w bytes.Buffer
			got, err := askNewPassphrase(read, "/data/plexus.key", &w)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
			for _, s := range tc.wantOut {
				if !strings.Contains(w.String(), s) {
					t.Errorf("output lacks %q: %s", s, w.String())
				}
			}
			if strings.Contains(w.String(), long) {
				t.Error("the passphrase was echoed")
			}
		})
	}
}

// TestStatusAndStop runs a daemon in this process and drives it with
// plexus status and plexus stop; neither starts a daemon.
func TestStatusAndStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	vars := map[string]string{"PLEXUS_DATA_DIR": dir}

	// Nothing yet: status says so and creates nothing.
	out, _, code, err := runCLI(t, vars, "status")
	if code != 0 || !strings.Contains(out, "not running") || !strings.Contains(out, "none yet") || !strings.Contains(out, "Tenants:     0") {
		t.Fatalf("status of nothing: %d %v\n%s", code, err, out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("status created the data directory")
	}
	if out, _, code, _ := runCLI(t, vars, "stop"); code != 0 || strings.TrimSpace(out) != "Plexus is not running." {
		t.Fatalf("stop of nothing: %d %q", code, out)
	}

	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Config{
			DataDir: dir, Listen: "127.0.0.1:0", Version: "test-version",
			Vault:  vault.Config{Getenv: func(k string) string { return map[string]string{"PLEXUS_MASTER_KEY": key}[k] }},
			Logger: slog.New(slog.DiscardHandler),
			Ready:  func(rt localclient.Runtime) { ready <- rt },
		})
	}()
	var rt localclient.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
	c := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	for _, id := range []string{"beta", "acme"} {
		if _, _, err := c.CreateTenant(t.Context(), id, id); err != nil {
			t.Fatal(err)
		}
	}

	out, _, code, err = runCLI(t, vars, "status")
	for _, want := range []string{"running (pid", rt.BaseURL(), "test-version", "PLEXUS_MASTER_KEY", "2 (acme, beta)", dir} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q (exit %d, %v):\n%s", want, code, err, out)
		}
	}
	out, _, _, _ = runCLI(t, vars, "status", "--json")
	var rep StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v: %s", err, out)
	}
	if !rep.Daemon.Running || rep.Daemon.PID != os.Getpid() || rep.Key == nil || rep.Key.Source != string(vault.KeySourceEnv) ||
		rep.Tenants == nil || rep.Tenants.Count != 2 || rep.KeyWarning != "" {
		t.Errorf("status --json = %+v", rep)
	}
	if strings.Contains(out, rt.Token) {
		t.Error("status shows the local token")
	}

	out, _, code, err = runCLI(t, vars, "stop")
	if code != 0 || !strings.Contains(out, "Plexus stopped") {
		t.Fatalf("stop: %d %v %q", code, err, out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stop returned but the daemon still runs")
	}
	if _, err := localclient.ReadRuntime(dir); !errors.Is(err, localclient.ErrNoDaemon) {
		t.Errorf("runtime file after stop: %v", err)
	}

	// Stopped: status reads the vault file itself.
	out, _, _, _ = runCLI(t, vars, "status", "--json")
	rep = StatusReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Daemon.Running || !rep.VaultExists || rep.Key == nil || rep.Key.Source != string(vault.KeySourceEnv) || rep.Tenants.Count != 2 {
		t.Errorf("status --json when stopped = %+v", rep)
	}
	out, _, _, _ = runCLI(t, vars, "stop", "--json")
	if !strings.Contains(out, `"was_running":false`) {
		t.Errorf("stop --json of nothing: %s", out)
	}
}
