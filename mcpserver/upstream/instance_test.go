//go:build unix

package upstream

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
)

// testInstance is an Instance of the test upstream under the guard, with
// env added to its base environment; it is closed by t.Cleanup.
func testInstance(t *testing.T, mod func(*Config), env ...string) *Instance {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Name: "test", Transport: TransportStdio, Command: exe, Args: []string{testUpstreamCmd},
		Guard: []string{exe, GuardCommand},
		Prepare: func(context.Context) (Launch, error) {
			return Launch{Env: mergeEnv(BaseEnv(os.Getenv), env...)}, nil
		},
		StartTimeout: 20 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	in := New(cfg)
	t.Cleanup(in.Close)
	return in
}

func mustCall(t *testing.T, in *Instance, tool string, args map[string]any) string {
	t.Helper()
	s, err := callText(t.Context(), in, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return s
}

func pidOf(t *testing.T, in *Instance) int {
	t.Helper()
	p, err := strconv.Atoi(mustCall(t, in, "pid", nil))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInstanceStartsLazilyAndSharesOneProcess: nothing runs before the
// first call; then one process serves every call, concurrent ones too,
// and the catalog holds the upstream's tools, resources, templates and
// prompts.
func TestInstanceStartsLazilyAndSharesOneProcess(t *testing.T) {
	var catalogs atomic.Int32
	in := testInstance(t, func(c *Config) { c.OnCatalog = func(Catalog) { catalogs.Add(1) } })
	if st := in.Status(); st.State != StateStopped || st.PID != 0 {
		t.Fatalf("before use: %+v", st)
	}
	first := pidOf(t, in)
	var wg sync.WaitGroup
	pids := make([]int, 20)
	for i := range pids {
		wg.Go(func() { pids[i], _ = strconv.Atoi(mustCall(t, in, "pid", nil)) })
	}
	wg.Wait()
	for _, p := range pids {
		if p != first {
			t.Fatalf("calls ran in processes %v, want all in %d", pids, first)
		}
	}
	if got := mustCall(t, in, "echo", map[string]any{"message": "hi"}); got != "hi" {
		t.Fatalf("echo = %q", got)
	}
	st := in.Status()
	if st.State != StateRunning || st.Starts != 1 || st.PID == 0 || st.Protocol != mcp.LATEST_LEGACY_PROTOCOL_VERSION {
		t.Fatalf("status %+v", st)
	}
	cat, ok := in.Catalog()
	if !ok || catalogs.Load() != 1 {
		t.Fatalf("catalog known %v, told %d times", ok, catalogs.Load())
	}
	if !slices.ContainsFunc(cat.Tools, func(x mcp.Tool) bool { return x.Name == "echo" }) ||
		len(cat.Resources) != 1 || len(cat.Templates) != 1 || len(cat.Prompts) != 1 {
		t.Fatalf("catalog: %d tools, %d resources, %d templates, %d prompts", len(cat.Tools), len(cat.Resources), len(cat.Templates), len(cat.Prompts))
	}
}

// TestInstanceEnvironment: a stdio upstream gets the minimal base
// environment and its declared variables; the daemon's PLEXUS_ secrets
// do not reach it, and an injected secret is in its environment but not
// in any argument list, and is masked in the log when the upstream
// prints it.
func TestInstanceEnvironment(t *testing.T) {
	t.Setenv("PLEXUS_MASTER_KEY", "master-key-canary-0000")
	t.Setenv("ADMIN_API_KEY", "admin-key-canary-0000")
	const secret = "sk-upstream-canary-7781"
	in := testInstance(t, func(c *Config) {
		c.Prepare = func(context.Context) (Launch, error) {
			return Launch{Env: mergeEnv(BaseEnv(os.Getenv), "TEST_SECRET="+secret), Secrets: []string{secret}}, nil
		}
	})
	env := mustCall(t, in, "env", nil)
	for _, leak := range []string{"master-key-canary", "admin-key-canary", "PLEXUS_"} {
		if strings.Contains(env, leak) {
			t.Errorf("upstream environment contains %q:\n%s", leak, env)
		}
	}
	// The key is there (by its SHA-256) and never comes back, in a result
	// or in an upstream's error message.
	if !strings.Contains(env, "TEST_SECRET=[redacted]") || strings.Contains(env, secret) || !strings.Contains(env, "PATH=") {
		t.Errorf("upstream environment lacks TEST_SECRET or PATH, or shows the key:\n%s", env)
	}
	sum := sha256.Sum256([]byte(secret))
	if got := mustCall(t, in, "env_sha256", map[string]any{"name": "TEST_SECRET"}); got != hex.EncodeToString(sum[:]) {
		t.Errorf("TEST_SECRET has another value (sha256 %s)", got)
	}
	if got := mustCall(t, in, "echo", map[string]any{"message": "you sent " + secret}); got != "you sent [redacted]" {
		t.Errorf("echoed: %q", got)
	}
	if _, err := callText(t.Context(), in, "rpc_error", map[string]any{"detail": "key " + secret}); err == nil ||
		strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "key [redacted]") {
		t.Errorf("the upstream's error: %v", err)
	}
	pid := pidOf(t, in)
	for _, p := range []int{pid, in.Status().PID} {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err == nil && strings.Contains(string(cmdline), secret) {
			t.Errorf("secret in the argument list of pid %d", p)
		}
	}
	mustCall(t, in, "stderr", map[string]any{"lines": 1})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(in.Log().Tail("stderr", 5), "secret is") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	tail := in.Log().Tail("stderr", 5)
	if strings.Contains(tail, secret) || !strings.Contains(tail, "secret is [redacted]") {
		t.Fatalf("log tail: %q", tail)
	}
	// A log message that quotes it reaches the caller redacted.
	var got []any
	var mu sync.Mutex
	req := mcp.CallToolRequest{}
	req.Params.Name = "log"
	req.Params.Arguments = map[string]any{"message": "using " + secret}
	if _, err := in.CallTool(t.Context(), req, Sink{Log: func(m mcp.LoggingMessageNotificationParams) {
		mu.Lock()
		got = append(got, m.Data)
		mu.Unlock()
	}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || strings.Contains(fmt.Sprint(got[0]), secret) || !strings.Contains(fmt.Sprint(got[0]), "[redacted]") {
		t.Errorf("log message forwarded as %q", got)
	}
}

// TestInstanceCrashRestartsWithBackoff: a process that dies is started
// again (while in use) after a backoff that doubles.
func TestInstanceCrashRestartsWithBackoff(t *testing.T) {
	in := testInstance(t, nil)
	first := pidOf(t, in)
	if _, err := callText(t.Context(), in, "crash", nil); err == nil {
		t.Fatal("crash returned")
	}
	waitState(t, in, StateBackoff)
	st := in.Status()
	if st.Failures != 1 || !strings.Contains(st.LastError, "exit") {
		t.Fatalf("after crash: %+v", st)
	}
	firstWait := time.Until(st.NextStart)
	// Restarted on its own (it was in use), in a new process.
	waitState(t, in, StateRunning)
	second := in.Status().PID
	if second == 0 || second == first {
		t.Fatalf("pid %d after restart, first %d", second, first)
	}
	if _, err := callText(t.Context(), in, "crash", nil); err == nil {
		t.Fatal("crash returned")
	}
	waitState(t, in, StateBackoff)
	st = in.Status()
	if secondWait := time.Until(st.NextStart); secondWait <= firstWait {
		t.Fatalf("backoff did not grow: %s then %s", firstWait, secondWait)
	}
	// A call during the backoff waits for the restart.
	if got := mustCall(t, in, "echo", map[string]any{"message": "back"}); got != "back" {
		t.Fatalf("echo after crash = %q", got)
	}
	if st := in.Status(); st.Starts != 3 || st.Failures != 2 {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(in.Log().Tail("", 40), "crashing on purpose") {
		t.Fatalf("log lacks the upstream's stderr:\n%s", in.Log().Tail("", 40))
	}
	waitGone(t, 5*time.Second, first)
}

func waitState(t *testing.T, in *Instance, want State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for in.Status().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", in.Status().State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInstanceHangTimesOut: a call to an upstream that stopped answering
// fails after the call timeout; the upstream, silent to a ping too, is
// killed and restarted, and another upstream answers all along.
func TestInstanceHangTimesOut(t *testing.T) {
	hung := testInstance(t, func(c *Config) { c.CallTimeout = 500 * time.Millisecond })
	other := testInstance(t, nil)
	frozen := pidOf(t, hung)
	mustCall(t, other, "echo", map[string]any{"message": "x"})

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := callText(t.Context(), hung, "freeze", nil)
		done <- err
	}()
	// Meanwhile the other upstream is not held up.
	for range 20 {
		callStart := time.Now()
		mustCall(t, other, "echo", map[string]any{"message": "x"})
		if d := time.Since(callStart); d > 2*time.Second {
			t.Fatalf("a call to another upstream took %s while one hung", d)
		}
	}
	err := <-done
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("call to a hung upstream: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timed out after %s", d)
	}
	waitState(t, hung, StateRunning)
	deadline := time.Now().Add(15 * time.Second)
	for hung.Status().Failures == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	waitState(t, hung, StateRunning)
	if p := pidOf(t, hung); p == frozen {
		t.Fatal("hung process still serving")
	}
	waitGone(t, 5*time.Second, frozen)
}

// TestInstanceCloseStopsEverything: Close stops the upstream and what it
// started (its process group), and later calls fail with ErrClosed.
func TestInstanceCloseStopsEverything(t *testing.T) {
	in := testInstance(t, nil)
	pid := pidOf(t, in)
	guard := in.Status().PID
	child, err := strconv.Atoi(mustCall(t, in, "spawn", nil))
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	waitGone(t, 5*time.Second, pid, guard, child)
	if _, err := callText(t.Context(), in, "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}

// TestInstanceWithoutGuard: without a guard the upstream still runs in a
// group of its own that Close stops.
func TestInstanceWithoutGuard(t *testing.T) {
	in := testInstance(t, func(c *Config) { c.Guard = nil })
	pid := pidOf(t, in)
	if in.Status().PID != pid {
		t.Fatalf("status pid %d, upstream %d", in.Status().PID, pid)
	}
	child, _ := strconv.Atoi(mustCall(t, in, "spawn", nil))
	in.Close()
	waitGone(t, 5*time.Second, pid, child)
}

// TestInstanceIdleStop: after IdleTimeout without calls the process stops;
// the next call starts it again.
func TestInstanceIdleStop(t *testing.T) {
	in := testInstance(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	pid := pidOf(t, in)
	waitState(t, in, StateStopped)
	waitGone(t, 5*time.Second, pid)
	if p := pidOf(t, in); p == pid {
		t.Fatal("same pid after idle stop")
	}
}

// TestInstanceNotifications: progress reaches the call that asked for it
// (under the caller's own token), log messages reach the calls in flight
// and the log, and results and tool errors pass unchanged.
func TestInstanceNotifications(t *testing.T) {
	in := testInstance(t, nil)
	var mu sync.Mutex
	var progress []mcp.ProgressNotificationParams
	var logs []mcp.LoggingMessageNotificationParams
	sink := Sink{
		Progress: func(p mcp.ProgressNotificationParams) { mu.Lock(); progress = append(progress, p); mu.Unlock() },
		Log:      func(m mcp.LoggingMessageNotificationParams) { mu.Lock(); logs = append(logs, m); mu.Unlock() },
		Key:      "session-1",
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "progress"
	req.Params.Arguments = map[string]any{"steps": 3}
	req.Params.Meta = &mcp.Meta{ProgressToken: "client-token-1"}
	res, err := in.CallTool(t.Context(), req, sink)
	if err != nil || res.Content[0].(mcp.TextContent).Text != "done 3" {
		t.Fatalf("progress call: %v %+v", err, res)
	}
	mu.Lock()
	if len(progress) != 3 || progress[2].Progress != 3 || progress[2].Total != 3 || progress[2].Message != "step 3" {
		t.Fatalf("progress = %+v", progress)
	}
	mu.Unlock()
	// No token asked: none sent upstream, none routed.
	req.Params.Meta = nil
	if _, err := in.CallTool(t.Context(), req, sink); err != nil {
		t.Fatal(err)
	}
	req = mcp.CallToolRequest{}
	req.Params.Name = "log"
	req.Params.Arguments = map[string]any{"message": "careful"}
	if _, err := in.CallTool(t.Context(), req, sink); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(progress) != 3 || len(logs) != 1 || logs[0].Level != mcp.LoggingLevelWarning || logs[0].Data != "careful" {
		t.Fatalf("progress %d, logs %+v", len(progress), logs)
	}
	mu.Unlock()
	if !strings.Contains(in.Log().Tail("notification", 1), "warning: test: careful") {
		t.Fatalf("log: %q", in.Log().Tail("", 5))
	}
	// A log message belongs to no call: with another person's call in
	// flight it reaches neither (it could tell one what the other asked);
	// with only the same person's calls, each of their sessions gets it.
	var other []mcp.LoggingMessageNotificationParams
	otherSink := Sink{Log: func(m mcp.LoggingMessageNotificationParams) { mu.Lock(); other = append(other, m); mu.Unlock() },
		Key: "session-2", Owner: "user bob"}
	sink.Owner = "user alice"
	// wait puts a call through s in flight (and returns once it is) until
	// stop.
	wait := func(s Sink) (stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		w := mcp.CallToolRequest{}
		w.Params.Name = "wait"
		w.Params.Arguments = map[string]any{"mark": filepath.Join(t.TempDir(), "mark")}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = in.CallTool(ctx, w, s)
		}()
		for i := 0; ; i++ {
			in.callsMu.Lock()
			n := len(in.calls)
			in.callsMu.Unlock()
			if n == 1 {
				break
			}
			if i == 500 {
				t.Fatalf("%s's call never started", s.Owner)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return func() { cancel(); <-done }
	}
	stopWaiting := wait(otherSink)
	req.Params.Arguments = map[string]any{"message": "alice's secret plan"}
	if _, err := in.CallTool(t.Context(), req, sink); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(logs) != 1 || len(other) != 0 {
		t.Errorf("with two people's calls in flight: alice got %d, bob got %d", len(logs)-1, len(other))
	}
	mu.Unlock()
	if !strings.Contains(in.Log().Tail("notification", 1), "alice's secret plan") {
		t.Errorf("the message is not in the upstream's log: %q", in.Log().Tail("", 3))
	}
	stopWaiting()
	otherSink.Owner = "user alice" // the same person in another session
	stopWaiting = wait(otherSink)
	defer stopWaiting()
	req.Params.Arguments = map[string]any{"message": "again"}
	if _, err := in.CallTool(t.Context(), req, sink); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(logs) != 2 || len(other) != 1 {
		t.Errorf("with one person's calls in flight: %d and %d messages, want 1 each", len(logs)-1, len(other))
	}
	mu.Unlock()
	req.Params.Name = "fail"
	res, err = in.CallTool(t.Context(), req, Sink{})
	if err != nil || !res.IsError {
		t.Fatalf("tool error: %v %+v", err, res)
	}
	req.Params.Name = "no-such-tool"
	if _, err := in.CallTool(t.Context(), req, Sink{}); err == nil || isTransportError(err) {
		t.Fatalf("unknown tool: %v", err)
	}
	if in.Status().State != StateRunning {
		t.Fatal("a JSON-RPC error took the upstream down")
	}
}

// TestInstanceCancellation: a call whose context ends is cancelled at
// the upstream too (notifications/cancelled over stdio).
func TestInstanceCancellation(t *testing.T) {
	in := testInstance(t, nil)
	mustCall(t, in, "echo", map[string]any{"message": "started"})
	mark := filepath.Join(t.TempDir(), "mark")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	if _, err := callText(ctx, in, "wait", map[string]any{"mark": mark}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(mark); err == nil && string(b) == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upstream's handler was not cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustCall(t, in, "echo", map[string]any{"message": "still fine"})
}

// TestInstanceListChanged: an upstream's list_changed makes the Instance
// read its items again and report them.
func TestInstanceListChanged(t *testing.T) {
	got := make(chan Catalog, 4)
	in := testInstance(t, func(c *Config) { c.OnCatalog = func(cat Catalog) { got <- cat } })
	mustCall(t, in, "add_tool", map[string]any{"name": "brand_new"})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case cat := <-got:
			if slices.ContainsFunc(cat.Tools, func(x mcp.Tool) bool { return x.Name == "brand_new" }) {
				return
			}
		case <-deadline:
			t.Fatal("no catalog with the new tool")
		}
	}
}

// TestInstanceStartFailure: a command that does not exist fails the call
// with ErrUnavailable naming it; a Prepare error is returned as is and
// costs no backoff.
func TestInstanceStartFailure(t *testing.T) {
	in := testInstance(t, func(c *Config) { c.Command = "/nonexistent/plexus-upstream"; c.Guard = nil })
	_, err := callText(t.Context(), in, "echo", nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "/nonexistent/plexus-upstream") {
		t.Fatalf("err = %v", err)
	}
	// A bare name not on PATH (an app started from a menu has a short
	// one): the message gives the fix.
	for _, guarded := range []bool{false, true} {
		notOnPath := testInstance(t, func(c *Config) {
			c.Command = "plexus-no-such-command"
			if !guarded {
				c.Guard = nil
			}
		})
		if _, err := callText(t.Context(), notOnPath, "echo", nil); err == nil ||
			!strings.Contains(err.Error(), "give its full path, as `command -v plexus-no-such-command` prints it") {
			t.Fatalf("not on PATH (guarded %v): %v", guarded, err)
		}
	}
	if st := in.Status(); st.State != StateBackoff || st.Failures != 1 {
		t.Fatalf("status %+v", st)
	}
	missing := errors.New("no key")
	in2 := testInstance(t, func(c *Config) {
		c.Prepare = func(context.Context) (Launch, error) { return Launch{}, missing }
	})
	if _, err := callText(t.Context(), in2, "echo", nil); !errors.Is(err, missing) {
		t.Fatalf("prepare error: %v", err)
	}
	if st := in2.Status(); st.State != StateStopped || st.Failures != 0 {
		t.Fatalf("status after prepare error %+v", st)
	}
	// An HTTP upstream that does not answer: one sentence, not the
	// transports' stacked wrappings.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	in3 := New(Config{Name: "down", Transport: TransportHTTP, URL: "http://" + addr + "/mcp", StartTimeout: 5 * time.Second,
		Prepare: func(context.Context) (Launch, error) { return Launch{HTTPClient: &http.Client{}}, nil }})
	t.Cleanup(in3.Close)
	_, err = callText(t.Context(), in3, "echo", nil)
	want := "could not reach http://" + addr + "/mcp: dial tcp " + addr + ": connect: connection refused"
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "failed to send request") {
		t.Fatalf("err = %v\nwant it to say %q", err, want)
	}
	if _, ok := errors.AsType[*url.Error](err); !ok {
		t.Errorf("the original error is not kept: %v", err)
	}
	if st := in3.Status(); !strings.Contains(st.LastError, want) {
		t.Errorf("status says %q", st.LastError)
	}
}

// TestGuardKillsGroupWhenDaemonDies: kill -9 of the process that started
// an upstream (a stand-in daemon) leaves no process behind: the guard
// sees its pipe close and kills the upstream and what the upstream
// started.
func TestGuardKillsGroupWhenDaemonDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, fakeDaemonCmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	var pids []int
	select {
	case l := <-line:
		f := strings.Fields(l)
		if len(f) != 4 || f[0] != "PIDS" {
			t.Fatalf("fake daemon said %q", l)
		}
		for _, s := range f[1:] {
			p, _ := strconv.Atoi(s)
			pids = append(pids, p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fake daemon did not start its upstream")
	}
	for _, p := range pids {
		if !alive(p) {
			t.Fatalf("pid %d not running before the kill", p)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, 10*time.Second, pids...)
}

// TestInstanceCloseDuringHungStart: an upstream that never answers its
// handshake is stopped at once by Close (removed, changed, shutdown), not
// when its start times out.
func TestInstanceCloseDuringHungStart(t *testing.T) {
	in := testInstance(t, func(c *Config) {
		c.Args = []string{upstreamtest.SleeperCmd} // never speaks
		c.StartTimeout = time.Minute
	})
	started := make(chan error, 1)
	go func() { started <- in.Start(context.Background()) }()
	waitState(t, in, StateStarting)
	time.Sleep(300 * time.Millisecond) // the process is up, waiting
	began := time.Now()
	in.Close()
	if d := time.Since(began); d > 15*time.Second {
		t.Fatalf("Close took %s during a hung start", d)
	}
	if err := <-started; !errors.Is(err, ErrClosed) {
		t.Fatalf("Start: %v", err)
	}
}
