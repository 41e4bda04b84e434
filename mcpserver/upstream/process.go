package upstream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// GuardCommand is the hidden subcommand of the plexus binary that runs a
// stdio upstream under guard (RunGuard): `plexus __upstream-guard --
// COMMAND ARGS…`. The daemon passes it the read end of a pipe as file
// descriptor 3.
const GuardCommand = "__upstream-guard"

// stopGrace is how long a stopping upstream gets between SIGTERM and
// SIGKILL.
const stopGrace = 2 * time.Second

// spawnSpec is how to start a stdio upstream.
type spawnSpec struct {
	Path string
	Args []string
	Env  []string
	// Guard, when set, is the guard command (argv prefix): the upstream is
	// started as Guard... -- Path Args...
	Guard []string
	// Stderr reads the process's stderr until it ends (in a goroutine of
	// its own).
	Stderr func(io.Reader)
}

// process is a started stdio upstream.
type process struct {
	cmd      *exec.Cmd
	stdin    *os.File
	stdout   *os.File
	lifeline *os.File // write end of the guard's pipe; nil without a guard
	guarded  bool
	exited   chan struct{}
	// stderrDone is closed once the process's stderr has been read to its
	// end.
	stderrDone chan struct{}
	exitErr    error // set before exited is closed
}

// pid is the process id (of the guard, when guarded).
func (p *process) pid() int { return p.cmd.Process.Pid }

// spawn starts spec's command with its stdin and stdout as pipes to the
// caller, in a process group of its own.
func spawn(spec spawnSpec) (_ *process, err error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	outR, outW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	name, args := spec.Path, spec.Args
	var lifeR, lifeW *os.File
	if len(spec.Guard) > 0 {
		if lifeR, lifeW, err = pipe(); err != nil {
			closeAll()
			return nil, fmt.Errorf("guard pipe: %w", err)
		}
		name = spec.Guard[0]
		args = append(append(append([]string{}, spec.Guard[1:]...), "--", spec.Path), spec.Args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never the daemon's environment
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if lifeR != nil {
		cmd.ExtraFiles = []*os.File{lifeR}
	}
	cmd.SysProcAttr = procAttr(lifeR != nil)
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("start %s: %w", spec.Path, startError(err))
	}
	// The child has its copies; the daemon keeps only its own ends.
	for _, f := range []*os.File{inR, outW, errW, lifeR} {
		if f != nil {
			_ = f.Close()
		}
	}
	p := &process{cmd: cmd, stdin: inW, stdout: outR, lifeline: lifeW, guarded: lifeW != nil,
		exited: make(chan struct{}), stderrDone: make(chan struct{})}
	read := spec.Stderr
	if read == nil {
		read = func(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
	}
	go func() {
		read(errR)
		_ = errR.Close()
		close(p.stderrDone)
	}()
	go func() {
		p.exitErr = cmd.Wait()
		if !p.guarded {
			killGroup(p.pid(), true) // what the upstream left behind in its group
		}
		if p.lifeline != nil {
			_ = p.lifeline.Close()
		}
		close(p.exited)
	}()
	return p, nil
}

// startError strips exec's wrapping of a missing program to one clear
// sentence, with the fix: an app started from a desktop menu often has a
// shorter PATH than a terminal, so a full path is what works.
func startError(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		path := os.Getenv("PATH")
		if len(path) > 200 {
			path = path[:200] + "…"
		}
		name := "it"
		if ee, ok := errors.AsType[*exec.Error](err); ok {
			name = ee.Name
		}
		return fmt.Errorf("command not found on PATH (%s): give its full path, as `command -v %s` prints it in a terminal: %w", path, name, err)
	}
	return err
}

// stop ends the process: its stdin is closed (a well-behaved MCP server
// exits then), the guard is told through its pipe (it sends the group
// SIGTERM, then SIGKILL after a grace period), and whatever is left after
// that is killed. It returns once the process has exited or after about
// 3*grace.
func (p *process) stop(grace time.Duration) {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return
	case <-time.After(grace / 4):
	}
	if p.guarded {
		_ = p.lifeline.Close()
	} else {
		killGroup(p.pid(), false)
	}
	select {
	case <-p.exited:
		return
	case <-time.After(grace + grace/2):
	}
	killGroup(p.pid(), true)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
}
