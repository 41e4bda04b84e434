package main

// Binary-level tests of the daemon's identity (issues 9 and 13): clients
// talk only to the daemon they mean, even right after a crash; a bridge
// survives the daemon's death; a background daemon inherits no client
// secrets and writes its own log.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// fixedPort makes every daemon of in listen on one port (as the default
// 127.0.0.1:8765 does), so a daemon started after a crash takes the dead
// one's address: the case where a stale runtime file points at a live
// process.
func (in *instance) fixedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	in.setEnv("PLEXUS_LISTEN", addr)
	return addr
}

// setEnv sets (or, with value "", removes) a variable of in's environment.
func (in *instance) setEnv(key, value string) {
	env := make([]string, 0, len(in.env)+1)
	for _, kv := range in.env {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	if value != "" {
		env = append(env, key+"="+value)
	}
	in.env = env
}

// killDaemon kill -9s the daemon named by the runtime file (only a plexus
// serve of this test's binary and data directory) and waits until it is
// gone. It returns the dead daemon's pid.
func (in *instance) killDaemon(t *testing.T) int {
	t.Helper()
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil {
		t.Fatalf("no daemon to kill: %v", err)
	}
	ours := false
	for _, pid := range serveProcesses(in.dataDir) {
		ours = ours || pid == rt.PID
	}
	if !ours {
		t.Fatalf("runtime pid %d is not a plexus serve of this test", rt.PID)
	}
	if err := syscall.Kill(rt.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && processAlive(rt.PID); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(rt.PID) {
		t.Fatalf("daemon %d still alive after kill -9", rt.PID)
	}
	// The leader thread shows as a zombie while the others are still
	// exiting; the sockets close with the last one.
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", rt.Addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	return rt.PID
}

// callWhoami calls plexus_whoami through c and returns its answer.
func callWhoami(ctx context.Context, c *client.Client) (map[string]any, error) {
	call := mcp.CallToolRequest{}
	call.Params.Name = "plexus_whoami"
	res, err := c.CallTool(ctx, call)
	if err != nil {
		return nil, err
	}
	if res.IsError || len(res.Content) == 0 {
		return nil, fmt.Errorf("whoami answered an error: %v", res.Content)
	}
	text, _ := res.Content[0].(mcp.TextContent)
	var who map[string]any
	if err := json.Unmarshal([]byte(text.Text), &who); err != nil {
		return nil, fmt.Errorf("whoami answer %q: %w", text.Text, err)
	}
	if who["tenant"] != "acme" {
		return nil, fmt.Errorf("whoami = %v, want tenant acme", who)
	}
	return who, nil
}

// bridgeOnce is what Claude Desktop does at launch: start `plexus stdio`,
// initialize, call a tool, close.
func (in *instance) bridgeOnce(ctx context.Context) (err error) {
	var stderr syncBuffer
	c, err := client.NewStdioMCPClientWithOptions(plexusBin, in.env, []string{"stdio", "--tenant", "acme", "--data", in.dataDir},
		transport.WithCommandStderrWriter(&stderr))
	if err != nil {
		return err
	}
	defer c.Close()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\nbridge stderr: %s", err, stderr.String())
		}
	}()
	if _, err := c.Initialize(ctx, initializeRequest()); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if _, err := callWhoami(ctx, c); err != nil {
		return fmt.Errorf("whoami: %w", err)
	}
	return nil
}

// TestCrashSoak is issue 9's acceptance test: 15 rounds of kill -9 of the
// daemon (which always comes back on the same port), each followed by 5
// Claude-style bridges (initialize + tools/call plexus_whoami) and 5 admin
// commands started at once, plus a call through one bridge that lives
// through all 15 crashes. Zero failures: nobody talks to a daemon it did
// not mean (the old code sent the dead daemon's token to the new one and
// failed with 401s), and the long-lived bridge recovers every time.
func TestCrashSoak(t *testing.T) {
	in := newInstance(t)
	in.fixedPort(t)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	long := in.stdioClient(ctx, t, "acme")
	if _, err := callWhoami(ctx, long); err != nil {
		t.Fatal(err)
	}

	const rounds, bridges, admins = 15, 5, 5
	start := time.Now()
	var failures []string
	for round := 1; round <= rounds; round++ {
		in.killDaemon(t)
		var (
			mu   sync.Mutex
			errs []string
			wg   sync.WaitGroup
		)
		fail := func(what string, err error) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf("round %d, %s: %v", round, what, err))
			mu.Unlock()
		}
		octx, ocancel := context.WithTimeout(ctx, 90*time.Second)
		for i := range bridges {
			wg.Go(func() {
				if err := in.bridgeOnce(octx); err != nil {
					fail(fmt.Sprintf("bridge %d", i), err)
				}
			})
		}
		for i := range admins {
			wg.Go(func() {
				out, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "list")
				if err == nil && !strings.Contains(out, "acme") {
					err = fmt.Errorf("output %q lacks acme", out)
				}
				if err != nil {
					fail(fmt.Sprintf("admin %d", i), fmt.Errorf("%w: %s", err, stderr))
				}
			})
		}
		wg.Go(func() {
			if _, err := callWhoami(octx, long); err != nil {
				fail("long-lived bridge", err)
			}
		})
		wg.Wait()
		ocancel()
		failures = append(failures, errs...)
	}
	t.Logf("%d rounds of kill -9 + %d bridges + %d admin commands + 1 long-lived call: %d failures in %v",
		rounds, bridges, admins, len(failures), time.Since(start).Round(time.Millisecond))
	for _, f := range failures {
		t.Error(f)
	}
	// Daemons that lost a start race exit within the vault's lock timeout.
	var pids []int
	for i := 0; i < 100; i++ {
		if pids = serveProcesses(in.dataDir); len(pids) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(pids) != 1 {
		t.Errorf("%d daemons serve the data directory after the soak (pids %v), want 1", len(pids), pids)
	}
}

// TestStdioSurvivesDaemonDeath (issue 9 item 3): the daemon is killed
// (kill -9) or stopped (SIGTERM) mid-session; the client's next call
// through the same bridge succeeds, in a new session on a new daemon.
func TestStdioSurvivesDaemonDeath(t *testing.T) {
	in := newInstance(t)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := in.stdioClient(ctx, t, "acme")
	who, err := callWhoami(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"kill -9", "SIGTERM"} {
		old, _ := localclient.ReadRuntime(in.dataDir)
		if how == "kill -9" {
			in.killDaemon(t)
		} else {
			in.stopDaemon()
		}
		after, err := callWhoami(ctx, c)
		if err != nil {
			t.Fatalf("call after %s: %v", how, err)
		}
		rt, err := localclient.ReadRuntime(in.dataDir)
		if err != nil || rt.PID == old.PID {
			t.Fatalf("after %s: runtime %+v (%v), want a new daemon", how, rt.PID, err)
		}
		if after["session_fingerprint"] == who["session_fingerprint"] || after["session_fingerprint"] == nil {
			t.Errorf("after %s the call ran in the old session", how)
		}
		who = after
	}
}

// TestStdioExitsWhenTheDaemonCannotComeBack (issue 9 item 3, second
// half): the daemon dies and cannot be started again (here its vault file
// is destroyed), so the bridge answers the call with the reason, then
// exits non-zero with it on stderr, so that the MCP client restarts it.
func TestStdioExitsWhenTheDaemonCannotComeBack(t *testing.T) {
	in := newInstance(t)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := in.command(ctx, "stdio", "--tenant", "acme", "--data", in.dataDir)
	stdin, _ := cmd.StdinPipe()
	stdoutPipe, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := json.NewDecoder(stdoutPipe)
	next := func() map[string]any {
		var m map[string]any
		if err := out.Decode(&m); err != nil {
			t.Fatalf("read the bridge's stdout: %v (stderr: %s)", err, stderr.String())
		}
		return m
	}
	io.WriteString(stdin, initializeBody+"\n")
	next()
	io.WriteString(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")

	// The daemon dies, and its vault cannot be opened again: the new
	// daemon fails at start.
	in.killDaemon(t)
	db := filepath.Join(in.dataDir, "plexus.db")
	if err := os.WriteFile(db, []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`+"\n")
	m := next()
	msg := fmt.Sprint(m["error"])
	if m["id"] != 2.0 || !strings.Contains(msg, "lost the plexus daemon") {
		t.Fatalf("answer = %v, want an error saying the daemon is lost", m)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("bridge exit = %v, want a non-zero status", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the bridge did not exit after giving up")
	}
	if !strings.Contains(stderr.String(), "lost the plexus daemon") {
		t.Errorf("stderr does not say why the bridge exits: %s", stderr.String())
	}
	os.Remove(localclient.RuntimePath(in.dataDir)) // names the dead daemon
}

// TestImpostorOnTheDaemonPort is issue 13's measurement through the
// binary: the daemon crashed, and a process that is not plexus took its
// port and answers /healthz 200 (its runtime file even names this test's
// pid, as with a reused pid). set-api-key must not hand it the local
// token or the key; with the port still taken it says so plainly, and
// with a free port (PLEXUS_LISTEN=127.0.0.1:0) it starts a real daemon
// elsewhere and stores the key there.
func TestImpostorOnTheDaemonPort(t *testing.T) {
	in := newInstance(t)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	real, err := localclient.ReadRuntime(in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	in.killDaemon(t)

	const key = "sk-typed-by-a-person-DO-NOT-LEAK"
	var (
		mu   sync.Mutex
		seen []string
	)
	impostor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %v %s", r.Method, r.RequestURI, r.Header, body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	}))
	impostor.Listener.Close()
	var ln net.Listener
	for range 100 { // the dead daemon's port, as soon as it is free
		if ln, err = net.Listen("tcp", real.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("take the dead daemon's port: %v", err)
	}
	impostor.Listener = ln
	impostor.Start()
	t.Cleanup(impostor.Close)
	stale := real
	stale.PID = os.Getpid() // the dead pid, reused by the impostor
	if err := localclient.WriteRuntime(in.dataDir, stale); err != nil {
		t.Fatal(err)
	}

	setKey := func() (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := in.command(ctx, "admin", "--data", in.dataDir, "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openweathermap")
		cmd.Stdin = strings.NewReader(key + "\n")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	t.Run("port still taken", func(t *testing.T) {
		in.setEnv("PLEXUS_LISTEN", real.Addr)
		out, stderr, err := setKey()
		if err == nil || strings.Contains(out, "Stored") {
			t.Fatalf("set-api-key succeeded against an impostor: %v\n%s", err, out)
		}
		for _, want := range []string{"another process", real.Addr, "nothing was sent"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q: %s", want, stderr)
			}
		}
		if strings.Contains(out+stderr, key) {
			t.Error("the key was printed")
		}
	})
	t.Run("free port: a real daemon starts elsewhere", func(t *testing.T) {
		in.setEnv("PLEXUS_LISTEN", "127.0.0.1:0")
		out, stderr, err := setKey()
		if err != nil || !strings.Contains(out, "Stored") {
			t.Fatalf("set-api-key: %v\nstdout: %s\nstderr: %s", err, out, stderr)
		}
		rt, _ := localclient.ReadRuntime(in.dataDir)
		if rt.Addr == real.Addr {
			t.Fatalf("the new daemon claims the impostor's address")
		}
	})
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, key) || strings.Contains(s, real.Token) || !strings.HasPrefix(s, "GET /healthz?challenge=") {
			t.Errorf("the impostor received more than a challenge: %.80q", s)
		}
	}
}

// TestBackgroundDaemonEnvironmentAndLog (issue 9 items 4 and 10): a daemon
// started by `plexus admin` inherits the daemon's configuration but not the
// command's secrets, and writes its own log (plexus.log, rotated) besides
// plexus.stderr.log.
func TestBackgroundDaemonEnvironmentAndLog(t *testing.T) {
	in := newInstance(t)
	secrets := map[string]string{
		"PLEXUS_API_KEY":        "sk-meant-for-one-set-api-key",
		"PLEXUS_CLIENT_SECRET":  "client-secret-meant-for-ext-oauth",
		"AWS_SECRET_ACCESS_KEY": "unrelated-secret-of-the-users-shell",
	}
	for k, v := range secrets {
		in.setEnv(k, v)
	}
	in.setEnv("HOST_APP_REGISTRATION_SECRET", "host-app-secret-the-daemon-needs")
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "list"); err != nil {
		t.Fatal(err, stderr)
	}
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", rt.PID))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range secrets {
		if strings.Contains(string(environ), v) {
			t.Errorf("the daemon inherited %s", k)
		}
	}
	for _, k := range []string{"PLEXUS_MASTER_KEY=", "PLEXUS_DATA_DIR=", "PLEXUS_LISTEN=", "HOST_APP_REGISTRATION_SECRET="} {
		if !strings.Contains(string(environ), k) {
			t.Errorf("the daemon lacks %s", k)
		}
	}
	logData, err := os.ReadFile(filepath.Join(in.dataDir, localclient.LogFileName))
	if err != nil || !strings.Contains(string(logData), "Plexus serving") {
		t.Fatalf("the daemon's own log %s: %v\n%s", localclient.LogFileName, err, logData)
	}
	if fi, err := os.Stat(filepath.Join(in.dataDir, localclient.LogFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(in.dataDir, localclient.StderrFileName)); err != nil {
		t.Errorf("no %s: %v", localclient.StderrFileName, err)
	}
}
