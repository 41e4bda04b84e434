package main

// Integration tests of the command line itself, with the real binary: help
// and mistakes, plexus status and plexus stop, a fresh machine without a
// keyring or a terminal, the data directory's permissions, and no stray
// D-Bus processes.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// exitCode is the exit status of a finished command (0 for nil).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	return -1
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		drop := false
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// serveLogs returns what the last serve logged up to "Plexus serving" (its
// output is copied through a pipe, so it may trail readiness a little).
func (in *instance) serveLogs() string {
	for i := 0; i < 100 && !strings.Contains(in.logs.String(), "Plexus serving"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return in.logs.String()
}

// TestCLIBinaryUsage runs the real binary: help at every level on stdout
// with status 0; mistakes as one "plexus: …" line with status 2; failures
// without doubled prefixes.
func TestCLIBinaryUsage(t *testing.T) {
	in := newInstance(t)
	tests := []struct {
		args   string
		code   int
		stdout string // must appear in stdout
		stderr string // must appear in stderr
	}{
		{"help", 0, "Usage:", ""},
		{"--help", 0, "plexus help admin tenant create", ""},
		{"help admin", 0, "Usage: plexus admin", ""},
		{"admin --help", 0, "Usage: plexus admin", ""},
		{"admin tenant --help", 0, "Usage: plexus admin tenant COMMAND", ""},
		{"admin tenant create --help", 0, "--entity-id", ""},
		{"serve -h", 0, "Usage: plexus serve", ""},
		{"status --help", 0, "Usage: plexus status", ""},
		{"stop --help", 0, "Usage: plexus stop", ""},
		{"stdio --help", 0, "Usage: plexus stdio", ""},
		{"sevre", 2, "", `plexus: unknown command "sevre"; did you mean "serve"? Run 'plexus help'`},
		{"admin tenant craete", 2, "", `did you mean "create"?`},
		{"serve --dta x", 2, "", "plexus: serve: unknown flag --dta; did you mean --data? (see 'plexus serve --help')"},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			stdout, stderr, err := in.run(strings.Fields(tc.args)...)
			if code := exitCode(err); code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stdout %q / stderr %q; want %q / %q", stdout, stderr, tc.stdout, tc.stderr)
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("help wrote to stderr: %q", stderr)
			}
			if tc.code != 0 && (stdout != "" || strings.Count(stderr, "\n") != 1) {
				t.Errorf("a mistake should be one line on stderr: stdout %q, stderr %q", stdout, stderr)
			}
		})
	}

	// Failures the daemon reports: one "plexus:" and no "open vault: open vault".
	keyFile := filepath.Join(t.TempDir(), "loose.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("A", 43)+"=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(keyFile, 0o644)
	in.env = withoutEnv(in.env, "PLEXUS_MASTER_KEY")
	_, stderr, err := in.run("serve", "--data", in.dataDir, "--key-file", keyFile)
	if exitCode(err) != 1 || !strings.Contains(stderr, "plexus: open vault ") || !strings.Contains(stderr, "chmod 600") {
		t.Fatalf("serve with a loose key file: %v\n%s", err, stderr)
	}
	for _, double := range []string{"plexus: plexus", "open vault: open vault"} {
		if strings.Contains(stderr, double) {
			t.Errorf("doubled prefix %q in %q", double, stderr)
		}
	}
}

// TestFreshMachineKeyFile: no keyring, no key given and no terminal (a
// server, a container, CI): plexus serve starts anyway with a generated key
// in <data dir>/plexus.key, says so in one warning line without D-Bus
// jargon, plexus status shows the key source, and later starts open the
// vault the same way.
func TestFreshMachineKeyFile(t *testing.T) {
	in := newInstance(t)
	in.env = withoutEnv(in.env, "PLEXUS_MASTER_KEY", "PLEXUS_PASSPHRASE")
	in.dataDir = filepath.Join(in.dataDir, "fresh") // not there yet, as on a new machine
	cmd, _ := in.serve()
	logs := in.serveLogs()
	var warns []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level=WARN") {
			warns = append(warns, l)
		}
	}
	keyFile := filepath.Join(in.dataDir, "plexus.key")
	if len(warns) != 1 || !strings.Contains(warns[0], keyFile) || !strings.Contains(warns[0], "PLEXUS_MASTER_KEY") ||
		!strings.Contains(warns[0], "OS keyring") || !strings.Contains(warns[0], "passphrase") {
		t.Fatalf("want one warning naming the key file and the stronger options, got:\n%s", logs)
	}
	for _, jargon := range []string{"D-Bus", "dbus", "org.freedesktop", "Secret Service"} {
		if strings.Contains(logs, jargon) {
			t.Errorf("the log speaks of %q:\n%s", jargon, logs)
		}
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}
	out, _, err := in.run("status", "--data", in.dataDir)
	for _, want := range []string{"running (pid " + strconv.Itoa(cmd.Process.Pid), "key file " + keyFile, "Warning:", "1 (acme)"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("status lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, stderr, err := in.run("stop", "--data", in.dataDir)
	if err != nil || !strings.Contains(out, "Plexus stopped") {
		t.Fatalf("stop: %v %q %q", err, out, stderr)
	}
	if processAlive(cmd.Process.Pid) {
		t.Fatal("plexus stop returned while the daemon still runs")
	}
	out, _, _ = in.run("stop", "--data", in.dataDir)
	if strings.TrimSpace(out) != "Plexus is not running." {
		t.Errorf("second stop: %q", out)
	}
	out, _, _ = in.run("status", "--json", "--data", in.dataDir)
	var rep struct {
		Daemon struct{ Running bool }
		Key    struct{ Source, File string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Daemon.Running || rep.Key.Source != "file" || rep.Key.File != keyFile {
		t.Errorf("status --json when stopped: %v %s", err, out)
	}

	// Later starts open the vault from its recorded key file, quietly.
	in.serve()
	if strings.Contains(in.serveLogs(), "level=WARN") {
		t.Errorf("second start warned again:\n%s", in.logs.String())
	}
	if out, _, err := in.run("admin", "--data", in.dataDir, "tenant", "list"); err != nil || !strings.Contains(out, "acme") {
		t.Errorf("tenants after restart: %v\n%s", err, out)
	}
}

// TestDataDirPermissions: a data directory open to other users is
// tightened when it holds only Plexus files, refused otherwise.
func TestDataDirPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix modes")
	}
	in := newInstance(t)
	if err := os.Chmod(in.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	in.serve()
	if fi, _ := os.Stat(in.dataDir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %#o after serve, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(in.serveLogs(), "Data directory was open to other users") {
		t.Errorf("no warning:\n%s", in.logs.String())
	}
	in.stopDaemon()

	other := newInstance(t)
	if err := os.WriteFile(filepath.Join(other.dataDir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(other.dataDir, 0o755)
	_, stderr, err := other.run("serve", "--data", other.dataDir)
	if exitCode(err) != 1 || !strings.Contains(stderr, "chmod 700") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("serve on a shared directory: %v\n%s", err, stderr)
	}
	if fi, _ := os.Stat(other.dataDir); fi.Mode().Perm() != 0o755 {
		t.Errorf("a refused directory was changed to %#o", fi.Mode().Perm())
	}
}

// proc is one entry of /proc.
type proc struct {
	pid, ppid, sid int
	comm           string
}

// processes lists /proc (Linux).
func processes() map[int]proc {
	out := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(string(b[close+1:])) // state ppid pgrp session …
		if len(f) < 4 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		sid, _ := strconv.Atoi(f[3])
		out[pid] = proc{pid: pid, ppid: ppid, sid: sid, comm: string(b[open+1 : close])}
	}
	return out
}

// strays returns the D-Bus or keyring daemons that are new since before
// and lead back to this test: its marker in their environment, its session,
// or a parent chain to it.
func strays(before map[int]proc, marker string) []proc {
	now := processes()
	me := os.Getpid()
	var out []proc
	for pid, p := range now {
		if _, old := before[pid]; old {
			continue
		}
		switch p.comm {
		case "dbus-daemon", "dbus-launch", "gnome-keyring-d", "gnome-keyring-daemon":
		default:
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		ours := bytes.Contains(env, []byte(marker)) || p.sid == now[me].sid
		for q, i := p, 0; !ours && q.ppid > 1 && i < 64; q, i = now[q.ppid], i+1 {
			ours = q.ppid == me
		}
		if ours && processAlive(pid) {
			out = append(out, p)
		}
	}
	return out
}

// TestNoStrayDBusProcesses: on a machine without a session bus, go-keyring
// (through godbus) would autolaunch dbus-launch, leaving a dbus-daemon and
// a gnome-keyring-daemon behind after Plexus exits. Plexus must leave no
// process behind: not on a new vault, not with an explicit key, not on a
// failed start, not through a background daemon.
func TestNoStrayDBusProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("D-Bus autolaunch is a Linux/BSD matter; this test reads /proc")
	}
	if _, err := exec.LookPath("dbus-launch"); err != nil {
		t.Skip("dbus-launch is not installed (Debian: dbus-x11), so nothing could be autolaunched here; CI installs it")
	}
	bus := fmt.Sprintf("/run/user/%d/bus", os.Getuid())
	if _, err := os.Stat(bus); err == nil {
		t.Skipf("a session bus exists at %s: godbus would use it and autolaunch nothing", bus)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	marker := "PLEXUS_STRAY_TEST=" + hex.EncodeToString(rnd[:])
	before := processes()
	t.Cleanup(func() {
		// Whatever this test caused to be launched is stopped, by pid.
		for _, p := range strays(before, marker) {
			if pr, err := os.FindProcess(p.pid); err == nil {
				pr.Signal(syscall.SIGTERM)
			}
		}
	})

	in := newInstance(t)
	noBus := slices.Clip(append(withoutEnv(in.env, "DBUS_SESSION_BUS_ADDRESS", "PLEXUS_MASTER_KEY", "PLEXUS_PASSPHRASE"), marker))
	masterKey := ""
	for _, kv := range in.env {
		if k, ok := strings.CutPrefix(kv, "PLEXUS_MASTER_KEY="); ok {
			masterKey = k
		}
	}
	steps := []struct {
		name string
		env  []string
		run  func(in *instance)
	}{
		{"new vault without a key (key file)", noBus, func(in *instance) { in.serve(); in.stopDaemon() }},
		{"existing vault, recorded key file", noBus, func(in *instance) { in.serve(); in.stopDaemon() }},
		{"explicit PLEXUS_MASTER_KEY", append(noBus, "PLEXUS_MASTER_KEY="+masterKey), func(in *instance) {
			in.dataDir = filepath.Join(in.t.TempDir(), "explicit")
			in.serve()
			in.stopDaemon()
		}},
		{"failed start (wrong PLEXUS_MASTER_KEY for an env vault)", append(noBus, "PLEXUS_MASTER_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), func(in *instance) {
			in.dataDir = filepath.Join(filepath.Dir(in.dataDir), "explicit")
			if _, stderr, err := in.run("serve", "--data", in.dataDir); exitCode(err) != 1 || !strings.Contains(stderr, "does not open") {
				in.t.Errorf("serve with a wrong key: %v %s", err, stderr)
			}
		}},
		{"background daemon through admin, then plexus stop", noBus, func(in *instance) {
			in.dataDir = filepath.Join(in.t.TempDir(), "bg")
			if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "list"); err != nil {
				in.t.Error(err, stderr)
			}
			if _, stderr, err := in.run("stop", "--data", in.dataDir); err != nil {
				in.t.Error(err, stderr)
			}
		}},
		{"status", noBus, func(in *instance) { in.run("status", "--data", in.dataDir) }},
	}
	for _, st := range steps {
		in.env = st.env
		start := time.Now()
		st.run(in)
		t.Logf("%s: %v", st.name, time.Since(start))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		for ctx.Err() == nil && len(strays(before, marker)) == 0 {
			time.Sleep(100 * time.Millisecond) // autolaunched daemons may take a moment
		}
		cancel()
		if s := strays(before, marker); len(s) > 0 {
			t.Fatalf("after %q, processes left behind: %+v", st.name, s)
		}
		if _, err := localclient.ReadRuntime(in.dataDir); err == nil && st.name != "status" {
			t.Errorf("after %q a daemon still runs", st.name)
		}
	}
}

// TestStopHungDaemon: a daemon that holds the vault but does not answer is
// not reported as "not running"; stop says how to end it.
func TestStopHungDaemon(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGSTOP")
	}
	in := newInstance(t)
	cmd, _ := in.serve()
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT) })
	_, stderr, err := in.run("stop", "--data", in.dataDir)
	if exitCode(err) != 1 || !strings.Contains(stderr, "does not answer") || !strings.Contains(stderr, "kill "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("stop of a hung daemon: %v %q", err, stderr)
	}
	out, _, err := in.run("status", "--data", in.dataDir)
	if err != nil || !strings.Contains(out, "not answering (pid "+strconv.Itoa(cmd.Process.Pid)) || !strings.Contains(out, "does not answer") {
		t.Errorf("status of a hung daemon: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	if out, stderr, err := in.run("stop", "--data", in.dataDir); err != nil || !strings.Contains(out, "Plexus stopped") {
		t.Errorf("stop after SIGCONT: %v %q %q", err, out, stderr)
	}
}
