package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
)

// stdioSession is a running `plexus stdio` with its stdin and stdout.
type stdioSession struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
}

func (in *instance) startStdio(ctx context.Context, tenant string) *stdioSession {
	in.t.Helper()
	cmd := in.command(ctx, "stdio", "--tenant", tenant, "--data", in.dataDir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	s := &stdioSession{t: in.t, in: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	in.t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if in.t.Failed() {
			in.t.Logf("plexus stdio stderr:\n%s", stderr.String())
		}
	})
	return s
}

// call writes one JSON-RPC line and returns the answer with that id.
func (s *stdioSession) call(line string) map[string]any {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
	var sent struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal([]byte(line), &sent)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatal("plexus stdio closed its stdout")
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				s.t.Fatalf("stdout is not JSON-RPC: %q", l)
			}
			if id, _ := json.Marshal(m["id"]); string(id) == string(sent.ID) {
				return m
			}
		case <-timeout:
			s.t.Fatalf("no answer to %s", line)
		}
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestStdioWhileLocked runs the real binary: a passphrase vault, and
// Claude Desktop starts `plexus stdio` with no terminal and no
// PLEXUS_PASSPHRASE. The daemon it starts comes up locked at once (no
// wait for a daemon that never comes), and stdio answers every request
// with "Plexus is locked: open Plexus and enter your passphrase". The
// passphrase is typed in the window's unlock form (signed in through
// `plexus open --print-url`, as the window is), and the very same stdio
// session then works.
func TestStdioWhileLocked(t *testing.T) {
	in := newInstance(t)
	withoutKey := withoutEnv(in.env, "PLEXUS_MASTER_KEY", "PLEXUS_PASSPHRASE")
	in.env = append(withoutKey, "PLEXUS_PASSPHRASE=correct horse battery staple")
	in.serve()
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	in.stopDaemon()
	for i := 0; i < 100 && len(serveProcesses(in.dataDir)) > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	in.env = withoutKey

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	s := in.startStdio(ctx, "acme")
	m := s.call(initializeBody)
	errObj, _ := m["error"].(map[string]any)
	if msg, _ := errObj["message"].(string); msg != daemon.LockedMessage {
		t.Fatalf("initialize while locked: %v", m)
	}
	if d := time.Since(started); d > 20*time.Second {
		t.Errorf("the locked answer took %s", d)
	}
	m = s.call(`{"jsonrpc":"2.0","id":"t2","method":"tools/list"}`)
	if errObj, _ := m["error"].(map[string]any); errObj["message"] != daemon.LockedMessage {
		t.Fatalf("tools/list while locked: %v", m)
	}
	if pids := serveProcesses(in.dataDir); len(pids) != 1 {
		t.Fatalf("%d daemons, want the one locked daemon", len(pids))
	}

	// The window: sign in, see the unlock page, type the passphrase.
	out, stderr, err := in.run("open", "--print-url", "--data", in.dataDir)
	if err != nil {
		t.Fatalf("open --print-url while locked: %v %s", err, stderr)
	}
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) string {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	get(strings.TrimSpace(out))
	page := get(rt.BaseURL() + "/ui/")
	if !strings.Contains(page, "Unlock Plexus") {
		t.Fatalf("the window does not show the unlock page:\n%s", page)
	}
	csrf := csrfField.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no CSRF token on the unlock page")
	}
	resp, err := c.PostForm(rt.BaseURL()+"/ui/unlock", url.Values{"csrf": {csrf[1]}, "passphrase": {"correct horse battery staple"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "You are signed in") {
		t.Fatalf("after unlocking, the window shows %d:\n%s", resp.StatusCode, b)
	}
	if page := get(rt.BaseURL() + "/ui/"); !strings.Contains(page, "<h1>Home</h1>") {
		t.Fatalf("after unlocking and signing in, the window shows:\n%s", page)
	}

	// The same stdio session now reaches the tenant.
	m = s.call(initializeBody)
	if _, ok := m["result"]; !ok {
		t.Fatalf("initialize after unlock: %v", m)
	}
	if _, err := io.WriteString(s.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	m = s.call(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`)
	res, _ := json.Marshal(m["result"])
	if !strings.Contains(string(res), "acme") {
		t.Fatalf("whoami after unlock: %v", m)
	}
}
