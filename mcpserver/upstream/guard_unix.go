//go:build unix

package upstream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// guardGrace is how long the guard waits between SIGTERM and SIGKILL.
const guardGrace = 2 * time.Second

// RunGuard is the guard of one stdio upstream (GuardCommand): args are
// "--", the command and its arguments. It runs the command in its own
// process group (the daemon started the guard as that group's leader),
// with the guard's stdin, stdout, stderr and environment, and reads file
// descriptor 3, a pipe whose write end only the daemon holds. When that
// pipe closes (the daemon stops the upstream, or the daemon died, even by
// kill -9) or the guard gets SIGTERM, it sends SIGTERM to the whole group,
// and SIGKILL two seconds later. When the command exits by itself, the
// guard writes its exit status to stderr and kills what is left of the
// group (itself included): nothing the upstream started survives it.
//
// It returns the exit code for the guard's own process, but in practice
// ends by killing its group.
func RunGuard(args []string) int {
	if len(args) < 2 || args[0] != "--" {
		fmt.Fprintln(os.Stderr, "plexus upstream guard: usage: plexus "+GuardCommand+" -- COMMAND [ARGS...] (run by the daemon, not by hand)")
		return 2
	}
	life := os.NewFile(3, "lifeline")
	if life == nil {
		fmt.Fprintln(os.Stderr, "plexus upstream guard: no lifeline pipe on fd 3 (run by the daemon, not by hand)")
		return 2
	}
	if syscall.Getpgrp() != syscall.Getpid() {
		// Killing "the group" would reach whoever started this by hand.
		fmt.Fprintln(os.Stderr, "plexus upstream guard: must lead its own process group (run by the daemon, not by hand)")
		return 2
	}
	syscall.CloseOnExec(3) // the upstream gets no copy
	// Catch (not ignore: ignored signals stay ignored across exec) the
	// signals that would otherwise end the guard before the group.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)

	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "plexus upstream guard: cannot start %s: %v\n", args[1], startError(err))
		return 127
	}
	// The upstream holds the pipes now; the guard needs none of them.
	_ = os.Stdin.Close()
	_ = os.Stdout.Close()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lifeGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, life)
		close(lifeGone)
	}()
	group := -syscall.Getpgrp()
	select {
	case err := <-exited:
		reportExit(err)
		_ = syscall.Kill(group, syscall.SIGKILL)
		return exitCode(err)
	case <-lifeGone:
	case <-sigs:
	}
	_ = syscall.Kill(group, syscall.SIGTERM) // the guard catches its own
	select {
	case err := <-exited:
		_ = syscall.Kill(group, syscall.SIGKILL)
		return exitCode(err)
	case <-time.After(guardGrace):
	}
	_ = syscall.Kill(group, syscall.SIGKILL)
	return 137
}

func reportExit(err error) {
	if err == nil {
		fmt.Fprintln(os.Stderr, "plexus upstream guard: the upstream exited (status 0)")
		return
	}
	fmt.Fprintf(os.Stderr, "plexus upstream guard: the upstream exited: %v\n", err)
}

func exitCode(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}
