package main

// Integration tests: they build the real plexus binary once, start it on
// temporary data directories (127.0.0.1 only, port 0) and drive it the way
// users and MCP clients do: over HTTP, through `plexus stdio`, and with the
// admin CLI. Every process started here is stopped by its pid in t.Cleanup.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
)

var plexusBin string

func TestMain(m *testing.M) {
	upstreamtest.Main() // the test binary as a stdio upstream (integration_upstream_test.go)
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "plexus-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plexusBin = filepath.Join(dir, "plexus")
	build := exec.Command("go", "build", "-o", plexusBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plexus:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one data directory with its master key, as a user has.
type instance struct {
	t       *testing.T
	dataDir string
	env     []string
	logs    *syncBuffer // stdout and stderr of the last serve
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	if plexusBin == "" {
		t.Skip("integration tests need the binary (not built with -short)")
	}
	key := make([]byte, 32)
	rand.Read(key)
	dir := t.TempDir()
	env := append(os.Environ(),
		"PLEXUS_MASTER_KEY="+base64.StdEncoding.EncodeToString(key),
		"PLEXUS_LISTEN=127.0.0.1:0",
		"PLEXUS_DATA_DIR="+dir,
		// No session bus: the keyring is unavailable and no dbus-launch
		// is autostarted behind our back.
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"),
		"ADMIN_API_KEY=",
	)
	in := &instance{t: t, dataDir: dir, env: env}
	// Whatever daemon ends up serving this directory (started by a test
	// or by `plexus stdio`) is stopped at the end.
	t.Cleanup(in.stopDaemon)
	return in
}

// command returns an exec.Cmd for plexus with the instance's environment.
func (in *instance) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, plexusBin, args...)
	cmd.Env = in.env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a plexus command to completion and returns its stdout.
func (in *instance) run(args ...string) (string, string, error) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := in.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// serve starts `plexus serve` and waits until it is ready.
func (in *instance) serve(args ...string) (*exec.Cmd, localclient.Runtime) {
	in.t.Helper()
	cmd := in.command(context.Background(), append([]string{"serve", "--data", in.dataDir}, args...)...)
	logs := &syncBuffer{}
	in.logs = logs
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	in.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			in.t.Fatalf("plexus serve exited early: %s", logs.String())
		default:
		}
		rt, err := localclient.ReadRuntime(in.dataDir)
		if err == nil && rt.PID == cmd.Process.Pid && get(rt.BaseURL()+"/readyz") == http.StatusOK {
			return cmd, rt
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.t.Fatalf("plexus serve not ready after 30s: %s", logs.String())
	return nil, localclient.Runtime{}
}

// stopDaemon stops the daemon named by the runtime file, if any.
func (in *instance) stopDaemon() {
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil || rt.PID <= 0 {
		return
	}
	p, err := os.FindProcess(rt.PID)
	if err != nil {
		return
	}
	p.Signal(syscall.SIGTERM)
	for i := 0; i < 100 && processAlive(rt.PID); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if processAlive(rt.PID) {
		p.Kill()
	}
}

func processAlive(pid int) bool {
	// A zombie (exited, not yet reaped by its parent) counts as dead.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// serveProcesses lists live `plexus serve` processes for dataDir.
func serveProcesses(dataDir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == plexusBin && args[1] == "serve" && strings.Contains(string(b), dataDir) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rpc posts one JSON-RPC message and returns the status, the session id
// header and the decoded JSON-RPC reply (SSE or JSON).
func rpc(t *testing.T, url string, hdr map[string]string, body string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, line := range strings.Split(string(raw), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, `"id"`) {
				raw = []byte(data)
			}
		}
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), m
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"it","version":"1"}}}`

func whoamiLegacy(t *testing.T, url, token, sid string) (int, map[string]any) {
	t.Helper()
	hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	status, _, m := rpc(t, url, hdr, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`)
	return status, whoamiResult(m)
}

// whoamiResult decodes plexus_whoami's JSON text from a tools/call reply.
func whoamiResult(m map[string]any) map[string]any {
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		return nil
	}
	text, _ := content[0].(map[string]any)["text"].(string)
	var out map[string]any
	json.Unmarshal([]byte(text), &out)
	return out
}

func TestServeLifecycle(t *testing.T) {
	in := newInstance(t)
	cmd, rt := in.serve()

	info, err := os.Stat(localclient.RuntimePath(in.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("runtime file mode = %v, want 0600", info.Mode().Perm())
	}
	if rt.Token == "" || rt.PID != cmd.Process.Pid {
		t.Errorf("runtime file = pid %d token set %v; want pid %d and a token", rt.PID, rt.Token != "", cmd.Process.Pid)
	}
	if got := get(rt.BaseURL() + "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz = %d", got)
	}

	t.Run("second serve exits at once naming the daemon", func(t *testing.T) {
		start := time.Now()
		_, stderr, err := in.run("serve", "--data", in.dataDir)
		if err == nil {
			t.Fatal("second serve succeeded")
		}
		if !strings.Contains(stderr, "already running") || !strings.Contains(stderr, strconv.Itoa(rt.PID)) {
			t.Errorf("stderr = %q, want it to say already running and name pid %d", stderr, rt.PID)
		}
		// The status tells a starter (plexus stdio) that it lost a race,
		// not that the daemon cannot start.
		if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != localclient.ExitAlreadyRunning {
			t.Errorf("second serve: %v, want exit status %d", err, localclient.ExitAlreadyRunning)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("second serve took %v to give up", d)
		}
	})

	t.Run("SIGTERM stops cleanly and removes the runtime file", func(t *testing.T) {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() {
			for i := 0; i < 300 && processAlive(cmd.Process.Pid); i++ {
				time.Sleep(50 * time.Millisecond)
			}
			done <- nil
		}()
		<-done
		if processAlive(cmd.Process.Pid) {
			t.Fatal("daemon still running 15s after SIGTERM")
		}
		if _, err := os.Stat(localclient.RuntimePath(in.dataDir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("runtime file still there after shutdown: %v", err)
		}
	})
}

func TestServeRefusesNonLoopback(t *testing.T) {
	in := newInstance(t)
	_, stderr, err := in.run("serve", "--data", in.dataDir, "--listen", "0.0.0.0:0")
	if err == nil || !strings.Contains(stderr, "loopback") {
		t.Fatalf("serve on 0.0.0.0: err=%v stderr=%q; want a refusal mentioning loopback", err, stderr)
	}
}

func TestTenantsAndMCPOverHTTP(t *testing.T) {
	in := newInstance(t)
	_, rt := in.serve()

	out, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme Inc.")
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "acme") {
		t.Errorf("tenant create output = %q", out)
	}
	if _, _, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "beta", "--name", "Beta"); err != nil {
		t.Fatal(err)
	}
	out, _, err = in.run("admin", "--data", in.dataDir, "tenant", "list")
	if err != nil || !strings.Contains(out, "Acme Inc.") || !strings.Contains(out, "beta") {
		t.Fatalf("tenant list = %q, %v", out, err)
	}
	_, stderr, err = in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "API", "--name", "x")
	if err == nil || !strings.Contains(stderr, "API") {
		t.Errorf("bad tenant id accepted or unclear: %v %q", err, stderr)
	}

	acme := rt.BaseURL() + "/acme/mcp"
	t.Run("legacy session as guest", func(t *testing.T) {
		status, sid, m := rpc(t, acme, nil, initializeBody)
		if status != http.StatusOK || sid == "" {
			t.Fatalf("initialize: %d sid=%q %v", status, sid, m)
		}
		status, who := whoamiLegacy(t, acme, "", sid)
		if status != http.StatusOK || who["tenant"] != "acme" || who["session_fingerprint"] != tools.SessionFingerprint(sid) || who["guest"] != true {
			t.Fatalf("whoami = %d %v", status, who)
		}
	})
	t.Run("modern stateless request", func(t *testing.T) {
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
		hdr := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "plexus_whoami"}
		status, _, m := rpc(t, acme, hdr, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},`+meta+`}}`)
		who := whoamiResult(m)
		if status != http.StatusOK || who["tenant"] != "acme" || who["protocol"] != "2026-07-28" {
			t.Fatalf("modern whoami = %d %v", status, m)
		}
	})
	t.Run("unknown tenant is a 404 naming it", func(t *testing.T) {
		status, _, m := rpc(t, rt.BaseURL()+"/nosuch/mcp", nil, initializeBody)
		if status != http.StatusNotFound || !strings.Contains(fmt.Sprint(m["error"]), "nosuch") {
			t.Fatalf("unknown tenant: %d %v", status, m)
		}
	})
	t.Run("foreign Host and Origin are refused", func(t *testing.T) {
		for name, hdr := range map[string]map[string]string{
			"host":   {"Host": "evil.example"},
			"origin": {"Origin": "http://evil.example"},
		} {
			req, _ := http.NewRequest(http.MethodPost, acme, strings.NewReader(initializeBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			if h, ok := hdr["Host"]; ok {
				req.Host = h
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
			}
		}
	})
	t.Run("register-user token acts as the user and only on its tenant", func(t *testing.T) {
		out, _, err := in.run("admin", "--data", in.dataDir, "--json", "tenant", "rotate-secret", "--entity-id", "acme")
		if err != nil {
			t.Fatal(err)
		}
		var rot map[string]any
		if err := json.Unmarshal([]byte(out), &rot); err != nil {
			t.Fatalf("rotate-secret --json output %q: %v", out, err)
		}
		secret, _ := rot["host_app_secret"].(string)
		if secret == "" {
			t.Fatalf("no host_app_secret in %v", rot)
		}
		req, _ := http.NewRequest(http.MethodPost, rt.BaseURL()+"/acme/plexus-auth/register-user", strings.NewReader(`{"user_id_from_host_app":"alice@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Host-App-Secret", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var reg map[string]string
		json.NewDecoder(resp.Body).Decode(&reg)
		resp.Body.Close()
		token := reg["plexus_user_auth_token"]
		if resp.StatusCode != http.StatusOK || token == "" || reg["persistent_user_id"] == "" {
			t.Fatalf("register-user: %d %v", resp.StatusCode, reg)
		}
		auth := map[string]string{"Authorization": "Bearer " + token}
		_, sid, _ := rpc(t, acme, auth, initializeBody)
		status, who := whoamiLegacy(t, acme, token, sid)
		if status != http.StatusOK || who["user"] != reg["persistent_user_id"] {
			t.Fatalf("whoami with user token = %d %v, want user %s", status, who, reg["persistent_user_id"])
		}
		status, _, _ = rpc(t, rt.BaseURL()+"/beta/mcp", auth, initializeBody)
		if status != http.StatusUnauthorized {
			t.Errorf("acme token on beta: status %d, want 401", status)
		}
	})
}

func TestSessionsAndTenantsSurviveKill9(t *testing.T) {
	in := newInstance(t)
	cmd, rt := in.serve()
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	url := rt.BaseURL() + "/acme/mcp"
	_, sid, _ := rpc(t, url, nil, initializeBody)
	if status, _ := whoamiLegacy(t, url, "", sid); status != http.StatusOK {
		t.Fatalf("whoami before kill: %d", status)
	}

	cmd.Process.Kill() // kill -9: no clean shutdown
	for i := 0; i < 100 && processAlive(cmd.Process.Pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	_, rt2 := in.serve()
	url = rt2.BaseURL() + "/acme/mcp"
	status, who := whoamiLegacy(t, url, "", sid)
	if status != http.StatusOK || who["session_fingerprint"] != tools.SessionFingerprint(sid) {
		t.Fatalf("old session after kill -9 and restart: %d %v", status, who)
	}
	status, _ = whoamiLegacy(t, url, "", "no-such-session-00000000")
	if status != http.StatusNotFound {
		t.Errorf("unknown session id: status %d, want 404", status)
	}
}

// initializeRequest is a 2025-11-25 initialize from client "it".
func initializeRequest() mcp.InitializeRequest {
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = "2025-11-25"
	req.Params.ClientInfo = mcp.Implementation{Name: "it", Version: "1"}
	return req
}

// stdioClient runs `plexus stdio --tenant tenant` as an MCP client would
// (closed at cleanup) and initializes it.
func (in *instance) stdioClient(ctx context.Context, t *testing.T, tenant string) *client.Client {
	t.Helper()
	c, err := client.NewStdioMCPClient(plexusBin, in.env, "stdio", "--tenant", tenant, "--data", in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Initialize(ctx, initializeRequest()); err != nil {
		t.Fatal("initialize through stdio:", err)
	}
	return c
}

func TestStdioBridge(t *testing.T) {
	in := newInstance(t)
	// No daemon yet: the first `plexus stdio` starts one. Create the
	// tenant through the CLI, which also starts it if needed.
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := in.stdioClient(ctx, t, "acme")
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tool := range tools.Tools {
		found = found || tool.Name == "plexus_whoami"
	}
	if !found {
		t.Fatalf("plexus_whoami not listed: %v", tools.Tools)
	}
	call := mcp.CallToolRequest{}
	call.Params.Name = "plexus_whoami"
	res, err := c.CallTool(ctx, call)
	if err != nil || res.IsError || len(res.Content) == 0 {
		t.Fatalf("call whoami: %v %v", err, res)
	}
	var who map[string]any
	json.Unmarshal([]byte(res.Content[0].(mcp.TextContent).Text), &who)
	if who["tenant"] != "acme" || who["guest"] == true || who["user"] == "" {
		t.Errorf("whoami through stdio = %v, want the tenant's local owner", who)
	}

	t.Run("unknown tenant gives a JSON-RPC error, not a hang", func(t *testing.T) {
		c2, err := client.NewStdioMCPClient(plexusBin, in.env, "stdio", "--tenant", "nosuch", "--data", in.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err = c2.Initialize(ctx, initializeRequest())
		if err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Fatalf("initialize on unknown tenant: %v, want an error naming it", err)
		}
	})
}

// TestStdioWithoutMasterKey: when the daemon cannot get the vault's master
// key (a vault made with PLEXUS_MASTER_KEY, which is no longer set) it
// cannot start; plexus stdio says why in one JSON-RPC error (the daemon's
// own message, once) instead of retrying until a timeout. (A passphrase
// vault starts locked instead: TestStdioWhileLocked.)
func TestStdioWithoutMasterKey(t *testing.T) {
	in := newInstance(t)
	env := make([]string, 0, len(in.env))
	for _, kv := range in.env {
		if !strings.HasPrefix(kv, "PLEXUS_MASTER_KEY=") && !strings.HasPrefix(kv, "PLEXUS_PASSPHRASE=") {
			env = append(env, kv)
		}
	}
	first, _ := in.serve()
	first.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 300 && processAlive(first.Process.Pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	in.env = env
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := in.command(ctx, "stdio", "--tenant", "acme", "--data", in.dataDir)
	cmd.Stdin = strings.NewReader(initializeBody + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	var m struct {
		ID    int `json:"id"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON-RPC answer: %q (stderr %s)", out, stderr.String())
	}
	msg := m.Error.Message
	for _, want := range []string{"could not start", "no master key available", "PLEXUS_MASTER_KEY", localclient.StderrFileName} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if n := strings.Count(msg, "no master key available"); n != 1 {
		t.Errorf("the daemon's message appears %d times, want once: %q", n, msg)
	}
}

func TestFiveBridgesStartOneDaemon(t *testing.T) {
	in := newInstance(t)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	in.stopDaemon()
	for i := 0; i < 100 && len(serveProcesses(in.dataDir)) > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := client.NewStdioMCPClient(plexusBin, in.env, "stdio", "--tenant", "acme", "--data", in.dataDir)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := c.Initialize(ctx, initializeRequest()); err != nil {
				errs <- fmt.Errorf("initialize: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Losing serves exit at once; give them a moment.
	var pids []int
	for i := 0; i < 100; i++ {
		if pids = serveProcesses(in.dataDir); len(pids) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(pids) != 1 {
		t.Fatalf("%d daemons serve %s (pids %v), want exactly 1", len(pids), in.dataDir, pids)
	}
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil || rt.PID != pids[0] {
		t.Errorf("runtime file pid %d (%v), live daemon %d", rt.PID, err, pids[0])
	}
}

// syncBuffer is a bytes.Buffer safe for a process's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
