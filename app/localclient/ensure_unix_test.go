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
	case "lose":
		// As a daemon that finds the data directory taken.
		fmt.Fprintln(os.Stderr, "fake daemon: already running")
		os.Exit(ExitAlreadyRunning)
	case "env":
		// Writes its environment to DIR/env and exits as a lost race.
		env := filepath.Join(dataArg(os.Args[1:]), "env") // whole or not at all: the test polls for it
		_ = os.WriteFile(env+".tmp", []byte(strings.Join(os.Environ(), "\n")), 0o600)
		_ = os.Rename(env+".tmp", env)
		os.Exit(ExitAlreadyRunning)
	case "hang":
		// Starts, says so, and never becomes ready (until DIR/stop).
		fmt.Fprintln(os.Stderr, "fake daemon hanging")
		for range 600 {
			if _, err := os.Stat(filepath.Join(dataArg(os.Args[1:]), "stop")); err == nil {
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
// ExitAlreadyRunning ("already running"), serves /healthz on 127.0.0.1:0
// with the identity proof, records its pid in DIR/served, writes the
// runtime file, and exits when DIR/stop appears or after 30s.
// dataArg returns the value of --data in args.
func dataArg(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--data" {
			return args[i+1]
		}
	}
	return ""
}

func fakeDaemon(args []string) int {
	dir := dataArg(args)
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
	rt := Runtime{PID: os.Getpid(), Addr: ln.Addr().String(), Token: "fake-token", Instance: NewInstanceID(), StartedAt: time.Now().UTC(), Version: "fake"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", proveHandler(rt, nil))
	go http.Serve(ln, mux)
	served, err := os.OpenFile(filepath.Join(dir, "served"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		fmt.Fprintln(served, os.Getpid())
		served.Close()
	}
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
	if data, err := os.ReadFile(filepath.Join(h.dir, StderrFileName)); err != nil || !strings.Contains(string(data), "fake daemon serving") {
		t.Fatalf("daemon output not in %s: %q, %v", StderrFileName, data, err)
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
	logPath := filepath.Join(h.dir, StderrFileName)
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
	for _, want := range []string{"did not become ready within 1.5s", filepath.Join(h.dir, StderrFileName), "fake daemon hanging"} {
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

// TestEnsureDaemonWaitsForTheNewDaemon is the crash race of issue 9: the
// runtime file is stale (its daemon was killed), a new daemon already holds
// the same port but has not written its runtime file yet. EnsureDaemon
// must not take the newcomer for the old daemon (and send it the dead
// daemon's token for the rest of its life): it reads the file again until
// the new daemon's runtime appears, and returns that.
func TestEnsureDaemonWaitsForTheNewDaemon(t *testing.T) {
	h := newEnsureHarness(t)
	addr := freeAddr(t)
	stale := Runtime{PID: 999999, Addr: addr, Token: "plxl_dead-daemons-token", Instance: NewInstanceID()}
	if err := WriteRuntime(h.dir, stale); err != nil {
		t.Fatal(err)
	}
	fresh := Runtime{PID: os.Getpid(), Addr: addr, Token: testToken, Instance: NewInstanceID(), Version: "new"}
	rec := &reqLog{}
	startOn(t, addr, proveHandler(fresh, rec))
	go func() {
		time.Sleep(700 * time.Millisecond) // still opening its vault
		_ = WriteRuntime(h.dir, fresh)
	}()
	got, err := EnsureDaemon(t.Context(), h.options("lose"))
	if err != nil {
		t.Fatalf("EnsureDaemon: %v", err)
	}
	if got.Token != fresh.Token || got.Instance != fresh.Instance {
		t.Fatalf("EnsureDaemon returned the stale runtime (instance %s), want the new daemon's (%s)", got.Instance, fresh.Instance)
	}
	rec.assertOnlyChallenges(t, stale.Token, fresh.Token)
}

// TestEnsureDaemonReportsImpostor: when a process that is not the daemon
// holds the runtime file's address (here with the file's own pid, as when
// a dead daemon's pid is reused), EnsureDaemon says plainly that another
// process holds the port, whether or not it can start a daemon of its own,
// and the process never gets the token.
func TestEnsureDaemonReportsImpostor(t *testing.T) {
	for _, mode := range []string{"fail", "lose", "noexe"} {
		t.Run(mode, func(t *testing.T) {
			h := newEnsureHarness(t)
			rec := &reqLog{}
			ts := startOn(t, "", rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"status":"ok"}`))
			})))
			rt := Runtime{PID: os.Getpid(), Addr: ts.Listener.Addr().String(), Token: testToken, Instance: NewInstanceID()}
			if err := WriteRuntime(h.dir, rt); err != nil {
				t.Fatal(err)
			}
			o := h.options(mode)
			o.Timeout = 1500 * time.Millisecond
			if mode == "noexe" {
				o.Exe = ""
			}
			_, err := EnsureDaemon(t.Context(), o)
			if !errors.Is(err, ErrImpostor) {
				t.Fatalf("EnsureDaemon = %v, want ErrImpostor", err)
			}
			for _, want := range []string{"another process (pid " + strconv.Itoa(os.Getpid()), rt.Addr, "nothing was sent"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if mode == "fail" && !strings.Contains(err.Error(), "boom") {
				t.Errorf("error %q does not quote why the new daemon could not start", err)
			}
			rec.assertOnlyChallenges(t, testToken)
		})
	}
}

// TestEnsureDaemonEnvironment: a daemon started in the background gets
// the daemon's configuration but not the starting command's secrets, and
// is told to write its own log.
func TestEnsureDaemonEnvironment(t *testing.T) {
	h := newEnsureHarness(t)
	t.Setenv(fakeDaemonEnv, "env")
	t.Setenv("PLEXUS_API_KEY", "sk-typed-for-set-api-key")
	t.Setenv("PLEXUS_CLIENT_SECRET", "client-secret-for-ext-oauth")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unrelated-cloud-secret")
	t.Setenv("PLEXUS_MASTER_KEY", "master-key-the-daemon-needs")
	t.Setenv("ADMIN_API_KEY", "admin-key-the-daemon-needs")
	t.Setenv("HOST_APP_REGISTRATION_SECRET", "host-secret-the-daemon-needs")
	o := h.options("env")
	o.Env = nil // the default: DaemonEnv(os.Environ())
	o.Timeout = 500 * time.Millisecond
	if _, err := EnsureDaemon(t.Context(), o); err == nil {
		t.Fatal("EnsureDaemon succeeded with a daemon that never serves")
	}
	// The fake daemon writes its environment as it starts, which on a
	// loaded machine may be after EnsureDaemon gave up on it.
	var data []byte
	var err error
	for i := 0; i < 200; i++ {
		if data, err = os.ReadFile(filepath.Join(h.dir, "env")); err == nil && len(data) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	for _, gone := range []string{"sk-typed-for-set-api-key", "client-secret-for-ext-oauth", "unrelated-cloud-secret"} {
		if strings.Contains(env, gone) {
			t.Errorf("the daemon inherited a secret it does not need (%d bytes)", len(gone))
		}
	}
	for _, kept := range []string{"PLEXUS_MASTER_KEY=", "ADMIN_API_KEY=", "HOST_APP_REGISTRATION_SECRET=", "PATH=", "HOME="} {
		if !strings.Contains(env, kept) {
			t.Errorf("the daemon lacks %s", kept)
		}
	}
}

func TestEnsureDaemonArgs(t *testing.T) {
	h := newEnsureHarness(t)
	o := h.options("hang")
	o.Timeout = 300 * time.Millisecond
	_, _ = EnsureDaemon(t.Context(), o)
	p := h.spawned()[0]
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid))
	if err != nil {
		t.Skip("no /proc here")
	}
	want := strings.Join([]string{"serve", "--data", h.dir, "--log-file", filepath.Join(h.dir, LogFileName)}, "\x00")
	if !strings.Contains(string(cmdline), want) {
		t.Fatalf("daemon command line %q, want it to contain %q", cmdline, want)
	}
}

// TestEnsureDaemonOlderDaemon: a daemon of an older plexus (its runtime
// file has no instance id, it answers /healthz without a proof) holds the
// data directory: EnsureDaemon says so at once instead of waiting, and
// sends it nothing.
func TestEnsureDaemonOlderDaemon(t *testing.T) {
	h := newEnsureHarness(t)
	rec := &reqLog{}
	ts := startOn(t, "", rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	})))
	if err := WriteRuntime(h.dir, Runtime{PID: os.Getpid(), Addr: ts.Listener.Addr().String(), Token: testToken}); err != nil {
		t.Fatal(err)
	}
	o := h.options("lose")
	o.Timeout = time.Minute
	start := time.Now()
	_, err := EnsureDaemon(t.Context(), o)
	if ie, ok := errors.AsType[*ImpostorError](err); !ok || !ie.Older || !strings.Contains(err.Error(), "older plexus") {
		t.Fatalf("EnsureDaemon = %v, want an error about an older daemon", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v, want an answer as soon as the new daemon lost", d)
	}
	rec.assertOnlyChallenges(t, testToken)
}
