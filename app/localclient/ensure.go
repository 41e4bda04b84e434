package localclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// LogFileName is the daemon's own log in the data directory: a daemon
// started by EnsureDaemon is told to write it (serve --log-file), and
// rotates it.
const LogFileName = "plexus.log"

// StderrFileName is the file in the data directory that receives the
// stdout and stderr of a daemon started by EnsureDaemon (appended): what it
// says before its log is open (no master key, port taken) and crash
// traces. EnsureDaemon quotes it when a start fails.
const StderrFileName = "plexus.stderr.log"

const (
	defaultEnsureTimeout = 15 * time.Second
	// maxSpawns bounds how often one EnsureDaemon call starts a daemon. A
	// spawned daemon that exits at once (another one holds the data
	// directory, or one was just shutting down) is started again, a little
	// later, at most this many times in total.
	maxSpawns = 3
	// respawnGap is the least time between two spawns by one call.
	respawnGap = time.Second
	// tailLines is how many lines of the log a start-up failure quotes.
	tailLines = 10
	// maxStderrFile is the size past which StderrFileName is moved to
	// StderrFileName+".1" before a daemon is started.
	maxStderrFile = 1 << 20
)

// ExitAlreadyRunning is the exit status of `plexus serve` when another
// daemon holds the data directory. For EnsureDaemon it means a start race
// lost (or a daemon still shutting down), not a failure: any other non-zero
// status ends the wait at once with the daemon's own words.
const ExitAlreadyRunning = 3

// EnsureOptions configures EnsureDaemon.
type EnsureOptions struct {
	DataDir string   // required
	Exe     string   // the plexus binary; required when a daemon must be started
	Args    []string // default: serve --data DataDir --log-file DataDir/plexus.log [--ask-in-window]
	// ForWindow starts the daemon for the desktop window (plexus open):
	// with the default Args it adds --ask-in-window, so a new vault with no
	// OS keyring waits for a passphrase chosen in the window.
	ForWindow bool
	// Env is the started daemon's whole environment, used as given; nil
	// means DaemonEnv(os.Environ()): the daemon's configuration and the OS
	// variables it needs, never the client's own secrets.
	Env []string
	// Timeout bounds the wait for a started daemon to answer; default 15s.
	Timeout time.Duration
	Logger  *slog.Logger // default: discard

	// onSpawn, if set, is told about every process started (tests kill them).
	onSpawn func(*os.Process)
}

// EnsureDaemon returns the runtime of a live daemon for o.DataDir, starting
// one when none answers. "Live" means proved: the process at the runtime
// file's address answered the identity challenge with the file's token
// (see Ping), so the returned runtime is safe to send the token to.
//
// A runtime file whose address does not answer, or answers without the
// proof (a stale file while a new daemon starts on the same port), is read
// again with backoff until the timeout, while a daemon is started. A
// started daemon is detached (its own session or process group), reads
// /dev/null, writes its log to DataDir/plexus.log (rotated) and its stdout
// and stderr to DataDir/plexus.stderr.log, inherits only DaemonEnv of this
// process's environment (unless o.Env says otherwise), and outlives the
// caller.
//
// The daemon itself guarantees a single instance per data directory (it
// takes the bbolt lock before it binds or writes the runtime file), so
// concurrent callers may each start one: the extras exit at once (status
// ExitAlreadyRunning) and every caller ends up with the runtime of the one
// that won. A daemon that fails to start (no master key, port taken) ends
// the wait at once; that error, like a timeout, names the file and quotes
// what the daemons started by this call wrote to it. When a process that is
// not the daemon holds the address, the error matches ErrImpostor and says
// so first.
func EnsureDaemon(ctx context.Context, o EnsureOptions) (Runtime, error) {
	if o.DataDir == "" {
		return Runtime{}, errors.New("ensure plexus daemon: no data directory given")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := liveRuntime(ctx, o.DataDir)
	if err == nil {
		return r, nil
	}
	if errors.Is(err, ErrInsecureRuntime) {
		return Runtime{}, fmt.Errorf("ensure plexus daemon: %w", err)
	}
	if o.Exe == "" {
		return Runtime{}, fmt.Errorf("ensure plexus daemon: no executable to start one: %w", withOwner(err))
	}
	dir, aerr := filepath.Abs(o.DataDir)
	if aerr != nil {
		return Runtime{}, fmt.Errorf("ensure plexus daemon: %w", aerr)
	}
	o.DataDir = dir
	logPath := filepath.Join(dir, LogFileName)
	if o.Args == nil {
		o.Args = []string{"serve", "--data", dir, "--log-file", logPath}
		if o.ForWindow {
			o.Args = append(o.Args, "--ask-in-window")
		}
	}
	if o.Env == nil {
		o.Env = DaemonEnv(os.Environ())
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultEnsureTimeout
	}
	outPath := filepath.Join(dir, StderrFileName)

	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if errors.Is(err, ErrImpostor) {
		log.Warn("The process at the plexus daemon's address did not prove its identity; reading the runtime file again while starting a daemon", "error", err)
	}
	log.Info("Starting plexus daemon", "exe", o.Exe, "dataDir", dir, "logFile", logPath)
	c, serr := spawn(o, outPath, logPath)
	if serr != nil {
		if errors.Is(err, ErrImpostor) {
			return Runtime{}, fmt.Errorf("ensure plexus daemon: %w (and %w)", withOwner(err), serr)
		}
		return Runtime{}, serr
	}
	first := c // a timeout quotes all this call's daemons wrote
	spawns, lastSpawn := 1, time.Now()
	delay := 20 * time.Millisecond
	for {
		r, err = liveRuntime(wait, dir)
		if err == nil {
			log.Info("Plexus daemon is ready", "pid", r.PID, "addr", r.Addr)
			return r, nil
		}
		select {
		case <-wait.Done():
			if ctx.Err() != nil {
				return Runtime{}, fmt.Errorf("wait for plexus daemon: %w", ctx.Err())
			}
			if errors.Is(err, ErrImpostor) {
				return Runtime{}, fmt.Errorf("ensure plexus daemon: %w", withOwner(err))
			}
			return Runtime{}, fmt.Errorf("plexus daemon did not become ready within %s (%w); %s",
				timeout, err, first.quote(tailLines))
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)

		select {
		case <-c.done:
			if c.code != ExitAlreadyRunning && c.code != 0 {
				if r, lerr := liveRuntime(wait, dir); lerr == nil {
					return r, nil
				}
				failed := fmt.Errorf("plexus daemon could not start (%s); %s", c.state, c.quote(tailLines))
				if errors.Is(err, ErrImpostor) {
					return Runtime{}, fmt.Errorf("ensure plexus daemon: %w; %w", withOwner(err), failed)
				}
				return Runtime{}, failed
			}
			if ie, ok := errors.AsType[*ImpostorError](err); ok && ie.Older {
				// The data directory is held by a daemon too old to prove
				// itself: waiting will not change that.
				return Runtime{}, fmt.Errorf("ensure plexus daemon: %w", withOwner(err))
			}
			if spawns >= maxSpawns || time.Since(lastSpawn) < respawnGap {
				continue
			}
			log.Info("Started daemon exited before another answered; starting again", "attempt", spawns+1)
			if c, serr = spawn(o, outPath, logPath); serr != nil {
				return Runtime{}, serr
			}
			spawns, lastSpawn = spawns+1, time.Now()
		default:
		}
	}
}

// child is a started daemon process.
type child struct {
	outPath, logPath string
	outStart         int64         // size of the stderr file before it started
	logStart         int64         // size of the daemon's log before it started
	done             chan struct{} // closed when it has exited
	code             int           // its exit status, once done (-1: killed by a signal)
	state            string        // how it ended, once done ("exit status 1")
}

// quote returns what the daemon (and any started after it by the same
// call) wrote, for an error: its stderr, or, when that is empty, its log.
func (c *child) quote(n int) string {
	if s, ok := logSince(c.outPath, c.outStart, n); ok {
		return fmt.Sprintf("its output %s says:\n%s", c.outPath, s)
	}
	if s, ok := logSince(c.logPath, c.logStart, n); ok {
		return fmt.Sprintf("its output %s is empty; its log %s ends with:\n%s", c.outPath, c.logPath, s)
	}
	return fmt.Sprintf("it wrote nothing to %s or %s", c.outPath, c.logPath)
}

// liveRuntime reads the runtime file in dataDir and makes its daemon prove
// its identity (ping).
func liveRuntime(ctx context.Context, dataDir string) (Runtime, error) {
	r, err := ReadRuntime(dataDir)
	if err != nil {
		return Runtime{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := ping(pctx, r); err != nil {
		return Runtime{}, err
	}
	return r, nil
}

// spawn starts o.Exe detached, with its stdout and stderr appended to
// outPath. The child's done channel is closed when the process exits; the
// process is reaped so a daemon that loses the start race does not linger
// as a zombie under a long-lived caller.
func spawn(o EnsureOptions, outPath, logPath string) (*child, error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start plexus daemon: %w", err)
	}
	if logSize(outPath) > maxStderrFile {
		// Keep one old copy; on Windows a running daemon may hold it open,
		// and then it simply grows a little longer.
		_ = os.Rename(outPath, outPath+".1")
	}
	lf, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start plexus daemon: open %s: %w", outPath, err)
	}
	defer lf.Close() // the child has its own copy

	// Not CommandContext: the daemon must outlive ctx and this process.
	cmd := exec.Command(o.Exe, o.Args...)
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Env = o.Env
	cmd.SysProcAttr = detachedAttr()
	c := &child{outPath: outPath, logPath: logPath, outStart: logSize(outPath), logStart: logSize(logPath), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start plexus daemon %s: %w", o.Exe, err)
	}
	if o.onSpawn != nil {
		o.onSpawn(cmd.Process)
	}
	go func() {
		_ = cmd.Wait()
		c.code, c.state = cmd.ProcessState.ExitCode(), cmd.ProcessState.String()
		close(c.done)
	}()
	return c, nil
}

// logSize is the size of the file at path (0 if it cannot be read).
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns the last n lines written to the file at path after
// byte offset from (what the daemons started by one call wrote), and
// whether there were any; or a note saying why it could not be read.
func logSince(path string, from int64, n int) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err), false
	}
	defer f.Close()
	const maxTail = 16 << 10
	if fi, err := f.Stat(); err == nil {
		start := max(from, fi.Size()-maxTail)
		if start > fi.Size() { // truncated meanwhile
			start = 0
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot read %s: %v)", path, err), false
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTail))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err), false
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\r\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "", false
	}
	return strings.Join(lines, "\n"), true
}
