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

// LogFileName is the file in the data directory that a daemon started by
// EnsureDaemon writes its stdout and stderr to (appended).
const LogFileName = "plexus.log"

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
	Args    []string // default: serve --data DataDir
	Env     []string // the daemon's environment; nil inherits this process's
	// Timeout bounds the wait for a started daemon to answer; default 15s.
	Timeout time.Duration
	Logger  *slog.Logger // default: discard

	// onSpawn, if set, is told about every process started (tests kill them).
	onSpawn func(*os.Process)
}

// EnsureDaemon returns the runtime of a live daemon for o.DataDir, starting
// one when none answers. A started daemon is detached (its own session or
// process group), reads /dev/null and appends its output to
// DataDir/plexus.log, and outlives the caller.
//
// The daemon itself guarantees a single instance per data directory (it
// takes the bbolt lock before it binds or writes the runtime file), so
// concurrent callers may each start one: the extras exit at once (status
// ExitAlreadyRunning) and every caller ends up with the runtime of the one
// that won. A daemon that fails to start (no master key, port taken) ends
// the wait at once; that error, like a timeout, names the log file and
// quotes what the daemons started by this call wrote to it.
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
		return Runtime{}, fmt.Errorf("ensure plexus daemon: no executable to start one: %w", err)
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return Runtime{}, fmt.Errorf("ensure plexus daemon: %w", err)
	}
	o.DataDir = dir
	if o.Args == nil {
		o.Args = []string{"serve", "--data", dir}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultEnsureTimeout
	}
	logPath := filepath.Join(dir, LogFileName)

	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	log.Info("Starting plexus daemon", "exe", o.Exe, "dataDir", dir, "logFile", logPath)
	c, err := spawn(o, logPath)
	if err != nil {
		return Runtime{}, err
	}
	logStart := c.logStart // a timeout quotes all this call's daemons wrote
	spawns, lastSpawn := 1, time.Now()
	delay := 20 * time.Millisecond
	for {
		r, err := liveRuntime(wait, dir)
		if err == nil {
			log.Info("Plexus daemon is ready", "pid", r.PID, "addr", r.Addr)
			return r, nil
		}
		select {
		case <-wait.Done():
			if ctx.Err() != nil {
				return Runtime{}, fmt.Errorf("wait for plexus daemon: %w", ctx.Err())
			}
			return Runtime{}, fmt.Errorf("plexus daemon did not become ready within %s (%w); its log %s ends with:\n%s",
				timeout, err, logPath, logSince(logPath, logStart, tailLines))
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)

		select {
		case <-c.done:
			if c.code != ExitAlreadyRunning && c.code != 0 {
				if r, err := liveRuntime(wait, dir); err == nil {
					return r, nil
				}
				return Runtime{}, fmt.Errorf("plexus daemon could not start (%s); its log %s says:\n%s",
					c.state, logPath, logSince(logPath, c.logStart, tailLines))
			}
			if spawns >= maxSpawns || time.Since(lastSpawn) < respawnGap {
				continue
			}
			log.Info("Started daemon exited before another answered; starting again", "attempt", spawns+1)
			if c, err = spawn(o, logPath); err != nil {
				return Runtime{}, err
			}
			spawns, lastSpawn = spawns+1, time.Now()
		default:
		}
	}
}

// child is a started daemon process.
type child struct {
	logStart int64         // size of the log file before it started
	done     chan struct{} // closed when it has exited
	code     int           // its exit status, once done (-1: killed by a signal)
	state    string        // how it ended, once done ("exit status 1")
}

// liveRuntime reads the runtime file in dataDir and pings its daemon.
func liveRuntime(ctx context.Context, dataDir string) (Runtime, error) {
	r, err := ReadRuntime(dataDir)
	if err != nil {
		return Runtime{}, err
	}
	if err := Ping(ctx, r); err != nil {
		return Runtime{}, err
	}
	return r, nil
}

// spawn starts o.Exe detached, with its output appended to logPath. The
// child's done channel is closed when the process exits; the process is
// reaped so a daemon that loses the start race does not linger as a zombie
// under a long-lived caller.
func spawn(o EnsureOptions, logPath string) (*child, error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("start plexus daemon: %w", err)
	}
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start plexus daemon: open log: %w", err)
	}
	defer lf.Close() // the child has its own copy

	// Not CommandContext: the daemon must outlive ctx and this process.
	cmd := exec.Command(o.Exe, o.Args...)
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Env = o.Env
	cmd.SysProcAttr = detachedAttr()
	c := &child{logStart: logSize(logPath), done: make(chan struct{})}
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
// byte offset from (what the daemons started by one call wrote), or a note
// saying why it could not be read.
func logSince(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	const maxTail = 16 << 10
	if fi, err := f.Stat(); err == nil {
		start := max(from, fi.Size()-maxTail)
		if start > fi.Size() { // truncated meanwhile
			start = 0
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Sprintf("(cannot read log: %v)", err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTail))
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\r\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "(log is empty)"
	}
	return strings.Join(lines, "\n")
}
