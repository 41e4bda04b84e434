//go:build !windows

package localclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeDaemonEnv makes the test binary act as a tiny plexus daemon (see
// fakeDaemon) instead of running the tests.
const fakeDaemonEnv = "PLEXUS_TEST_FAKE_DAEMON"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeDaemonEnv) {
	case "":
		os.Exit(m.Run())
	case "fail":
		fmt.Fprintln(os.Stderr, "boom: fake daemon refuses to start")
		os.Exit(1)
	case "hang":
		// Starts, says so, and never becomes ready (until DIR/stop).
		fmt.Fprintln(os.Stderr, "fake daemon hanging")
		for range 600 {
			if _, err := os.Stat(filepath.Join(os.Args[len(os.Args)-1], "stop")); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		os.Exit(0)
	default:
		os.Exit(fakeDaemon(os.Args[1:]))
	}
}

// fakeDaemon behaves like `plexus serve --data DIR` as far as EnsureDaemon
// can tell: it takes an exclusive lock on the data directory or exits
// ExitAlreadyRunning ("already running"), serves /healthz on 127.0.0.1:0, records its pid in
// DIR/served, writes the runtime file, and exits when DIR/stop appears or
// after 30s.
func fakeDaemon(args []string) int {
	var dir string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--data" {
			dir = args[i+1]
		}
	}
	if len(args) == 0 || args[0] != "serve" || dir == "" {
		fmt.Fprintln(os.Stderr, "fake daemon: want serve --data DIR, got", args)
		return 2
	}
	lock, err := os.OpenFile(filepath.Join(dir, "fake.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake daemon:", err)
		return 1
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintln(os.Stderr, "fake daemon: already running")
		return ExitAlreadyRunning
	}
	// Widen the race window so concurrent starters really overlap.
	time.Sleep(200 * time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake daemon:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	go http.Serve(ln, mux)
	served, err := os.OpenFile(filepath.Join(dir, "served"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		fmt.Fprintln(served, os.Getpid())
		served.Close()
	}
	rt := Runtime{PID: os.Getpid(), Addr: ln.Addr().String(), Token: "fake-token", StartedAt: time.Now().UTC(), Version: "fake"}
	if err := WriteRuntime(dir, rt); err != nil {
		fmt.Fprintln(os.Stderr, "fake daemon:", err)
		return 1
	}
	defer RemoveRuntime(dir, rt.PID)
	fmt.Fprintln(os.Stderr, "fake daemon serving", rt.Addr)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}

// ensureHarness starts fake daemons through EnsureDaemon and stops every
// process it started when the test ends.
type ensureHarness struct {
	dir   string
	mu    sync.Mutex
	procs []*os.Process
}

func newEnsureHarness(t *testing.T) *ensureHarness {
	t.Helper()
	h := &ensureHarness{dir: t.TempDir()}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(h.dir, "stop"), nil, 0o600)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, p := range h.procs {
			_ = p.Kill() // safe after exit: the process was reaped by its own pid handle
		}
	})
	return h
}

func (h *ensureHarness) options(mode string) EnsureOptions {
	exe, _ := os.Executable()
	return EnsureOptions{
		DataDir: h.dir,
		Exe:     exe,
		Env:     append(os.Environ(), fakeDaemonEnv+"="+mode),
		Timeout: 10 * time.Second,
		onSpawn: func(p *os.Process) {
			h.mu.Lock()
			h.procs = append(h.procs, p)
			h.mu.Unlock()
		},
	}
}

func (h *ensureHarness) spawned() []*os.Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*os.Process(nil), h.procs...)
}

func (h *ensureHarness) servedPIDs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(h.dir, "served"))
	if err != nil {
		t.Fatalf("read served: %v", err)
	}
	return strings.Fields(string(data))
}

func TestEnsureDaemonStartsAndReuses(t *testing.T) {
	h := newEnsureHarness(t)
	ctx := t.Context()
	r, err := EnsureDaemon(ctx, h.options("serve"))
	if err != nil {
		t.Fatalf("EnsureDaemon: %v", err)
	}
	if err := Ping(ctx, r); err != nil {
		t.Fatalf("started daemon does not answer: %v", err)
	}
	if len(h.spawned()) != 1 {
		t.Fatalf("spawned %d processes, want 1", len(h.spawned()))
	}
	// A second call finds the live daemon and starts nothing, even with no
	// executable to start.
	o := h.options("serve")
	o.Exe = ""
	r2, err := EnsureDaemon(ctx, o)
	if err != nil {
		t.Fatalf("EnsureDaemon with a live daemon: %v", err)
	}
	if r2 != r {
		t.Fatalf("second EnsureDaemon = %+v, want %+v", r2, r)
	}
	if data, err := os.ReadFile(filepath.Join(h.dir, LogFileName)); err != nil || !strings.Contains(string(data), "fake daemon serving") {
		t.Fatalf("daemon output not in %s: %q, %v", LogFileName, data, err)
	}
}

func TestEnsureDaemonConcurrent(t *testing.T) {
	h := newEnsureHarness(t)
	ctx := t.Context()
	const n = 5
	var wg sync.WaitGroup
	results := make([]Runtime, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = EnsureDaemon(ctx, h.options("serve")) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("EnsureDaemon #%d: %v", i, err)
		}
		if results[i] != results[0] {
			t.Fatalf("EnsureDaemon #%d = %+v, #0 = %+v; want the same daemon", i, results[i], results[0])
		}
	}
	winner := results[0].PID
	if got := h.servedPIDs(t); len(got) != 1 || got[0] != strconv.Itoa(winner) {
		t.Fatalf("daemons that served: %v, want exactly [%d]", got, winner)
	}
	// Every other process started must have exited; the winner lives.
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range h.spawned() {
		if p.Pid == winner {
			continue
		}
		for alive(p.Pid) {
			if time.Now().After(deadline) {
				t.Fatalf("losing daemon %d still running", p.Pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !alive(winner) {
		t.Fatalf("winning daemon %d is gone", winner)
	}
	if err := Ping(ctx, results[0]); err != nil {
		t.Fatalf("winning daemon does not answer: %v", err)
	}
}

// alive reports whether pid names a running (not yet reaped) process.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestEnsureDaemonFailureQuotesLog: a daemon that cannot start (exit
// status 1, as for a missing master key) ends the wait at once, without
// retries, and the error quotes what it wrote, not older log lines.
func TestEnsureDaemonFailureQuotesLog(t *testing.T) {
	h := newEnsureHarness(t)
	logPath := filepath.Join(h.dir, LogFileName)
	if err := os.WriteFile(logPath, []byte("an older run's line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := h.options("fail")
	o.Timeout = time.Minute // the failure, not the timeout, must end the wait
	_, err := EnsureDaemon(t.Context(), o)
	if err == nil {
		t.Fatal("EnsureDaemon succeeded with a daemon that cannot start")
	}
	for _, want := range []string{"could not start (exit status 1)", logPath, "boom: fake daemon refuses to start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "older run") || strings.Count(err.Error(), "boom") != 1 {
		t.Errorf("error quotes more than this start's output: %q", err)
	}
	if n := len(h.spawned()); n != 1 {
		t.Errorf("spawned %d times, want 1 (a failure is not a lost race)", n)
	}
}

// TestEnsureDaemonTimeoutQuotesLog: a daemon that starts but never answers
// gives a timeout error quoting its output.
func TestEnsureDaemonTimeoutQuotesLog(t *testing.T) {
	h := newEnsureHarness(t)
	o := h.options("hang")
	o.Timeout = 1500 * time.Millisecond
	_, err := EnsureDaemon(t.Context(), o)
	if err == nil {
		t.Fatal("EnsureDaemon succeeded with a daemon that never answers")
	}
	for _, want := range []string{"did not become ready within 1.5s", filepath.Join(h.dir, LogFileName), "fake daemon hanging"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEnsureDaemonErrors(t *testing.T) {
	tests := []struct {
		name string
		o    EnsureOptions
		want string
	}{
		{"no data dir", EnsureOptions{}, "no data directory"},
		{"no exe", EnsureOptions{DataDir: t.TempDir()}, "no executable"},
		{"bad exe", EnsureOptions{DataDir: t.TempDir(), Exe: filepath.Join(t.TempDir(), "missing")}, "start plexus daemon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EnsureDaemon(t.Context(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
