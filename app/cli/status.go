package cli

// plexus status and plexus stop: both find the daemon through the runtime
// file and never start one.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/vault"
)

// StatusReport is what `plexus status --json` prints.
type StatusReport struct {
	Daemon      DaemonStatus `json:"daemon"`
	DataDir     string       `json:"data_dir"`
	VaultExists bool         `json:"vault_exists"`
	// Key is where the vault's master key is kept (nil: no vault yet, or
	// not readable now); KeyWarning advises when that is a plain file.
	Key        *apiv1.KeyInfo       `json:"key"`
	KeyWarning string               `json:"key_warning,omitempty"`
	Tenants    *apiv1.TenantSummary `json:"tenants"` // nil: not readable now
	Note       string               `json:"note,omitempty"`
}

// DaemonStatus says whether a daemon serves the data directory.
type DaemonStatus struct {
	Running       bool      `json:"running"` // false with a pid: it holds the vault but does not answer
	PID           int       `json:"pid,omitempty"`
	URL           string    `json:"url,omitempty"`
	Version       string    `json:"version,omitempty"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	UptimeSeconds int64     `json:"uptime_seconds,omitempty"`
}

const statusHelp = `Show whether the daemon runs (pid, address, version, uptime), the data
directory, where the vault's master key is kept, and the tenants. It never
starts a daemon: when none runs it reads the vault file without its key.`

// Status runs `plexus status`.
func Status(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, env, "status", commandHelp(fs, "plexus status [--data DIR] [--json]", statusHelp)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("status: unexpected argument %q (see 'plexus status --help')", fs.Arg(0))
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return err
	}
	rep, err := status(ctx, dir)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(env.Stdout, rep)
	return nil
}

// status asks the running daemon, or reads the vault file when none runs.
func status(ctx context.Context, dir string) (StatusReport, error) {
	rep := StatusReport{DataDir: absDir(dir)}
	rt, running, err := liveDaemon(ctx, dir)
	if err != nil {
		return rep, err
	}
	if running {
		c := provedClient(rt)
		st, err := c.Status(ctx)
		rep.Daemon = DaemonStatus{Running: true, PID: rt.PID, URL: rt.BaseURL(), Version: rt.Version, StartedAt: rt.StartedAt}
		if !rt.StartedAt.IsZero() {
			rep.Daemon.UptimeSeconds = int64(time.Since(rt.StartedAt) / time.Second)
		}
		var ae *localclient.APIError
		switch {
		case err == nil:
			key := st.Key
			rep.VaultExists, rep.Key, rep.KeyWarning, rep.Tenants = true, &key, st.KeyWarning, &st.Tenants
			rep.Daemon.Version, rep.Daemon.UptimeSeconds = st.Version, st.UptimeSeconds
			if st.DataDir != "" {
				rep.DataDir = st.DataDir
			}
			return rep, nil
		case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusNotImplemented):
			rep.VaultExists = true
			rep.Note = "this daemon is older than this plexus and does not report its key source"
			return rep, nil
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return rep, fmt.Errorf("the daemon at %s refused the runtime file's token (is another program on that address?)", rt.BaseURL())
		default:
			return rep, err
		}
	}
	info, err := vault.Inspect(ctx, filepath.Join(dir, daemon.DBFileName), 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rep.Tenants = &apiv1.TenantSummary{IDs: []string{}}
	case errors.Is(err, vault.ErrLocked):
		rep.VaultExists = true
		rep.Note = "the vault is in use by a process that does not answer (a daemon starting, stopping or hung?)"
		if rt.PID > 0 {
			rep.Daemon.PID, rep.Daemon.URL = rt.PID, rt.BaseURL()
		}
	case err != nil:
		return rep, err
	default:
		rep.VaultExists = true
		if info.Key.Source != "" {
			rep.Key = &apiv1.KeyInfo{Source: string(info.Key.Source), File: info.Key.File}
			rep.KeyWarning = info.Key.Warning()
		}
		ids := info.TenantIDs
		if ids == nil {
			ids = []string{}
		}
		rep.Tenants = &apiv1.TenantSummary{Count: len(ids), IDs: ids}
	}
	return rep, nil
}

// liveDaemon reads the runtime file and pings the daemon it names. A
// missing file, or a daemon that does not answer, is "not running" (rt is
// then what the file said, if anything).
func liveDaemon(ctx context.Context, dir string) (localclient.Runtime, bool, error) {
	rt, err := localclient.ReadRuntime(dir)
	if errors.Is(err, localclient.ErrNoDaemon) {
		return rt, false, nil
	}
	if err != nil {
		return rt, false, err
	}
	if localclient.Ping(ctx, rt) != nil {
		return rt, false, nil
	}
	return rt, true, nil
}

func printStatus(w io.Writer, r StatusReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Daemon.Running {
		d := fmt.Sprintf("running (pid %d, %s", r.Daemon.PID, r.Daemon.URL)
		if r.Daemon.Version != "" {
			d += ", version " + r.Daemon.Version
		}
		if !r.Daemon.StartedAt.IsZero() {
			d += ", up " + (time.Duration(r.Daemon.UptimeSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "Daemon:\t%s)\n", d)
	} else if r.Daemon.PID > 0 {
		fmt.Fprintf(tw, "Daemon:\tnot answering (pid %d, %s)\n", r.Daemon.PID, r.Daemon.URL)
	} else {
		fmt.Fprintf(tw, "Daemon:\tnot running (plexus serve runs it here; admin commands start it in the background)\n")
	}
	fmt.Fprintf(tw, "Data dir:\t%s\n", r.DataDir)
	switch {
	case r.Key != nil:
		fmt.Fprintf(tw, "Key source:\t%s\n", describeKey(*r.Key))
		if r.KeyWarning != "" {
			fmt.Fprintf(tw, "\tWarning: %s\n", r.KeyWarning)
		}
	case !r.VaultExists:
		fmt.Fprintf(tw, "Key source:\tnone yet (chosen when the daemon first starts)\n")
	default:
		fmt.Fprintf(tw, "Key source:\tunknown\n")
	}
	if r.Tenants != nil {
		fmt.Fprintf(tw, "Tenants:\t%s\n", describeTenants(*r.Tenants))
	} else {
		fmt.Fprintf(tw, "Tenants:\tunknown\n")
	}
	if r.Note != "" {
		fmt.Fprintf(tw, "Note:\t%s\n", r.Note)
	}
	tw.Flush()
}

func describeKey(k apiv1.KeyInfo) string {
	switch vault.KeySource(k.Source) {
	case vault.KeySourceKeyring:
		return "OS keyring"
	case vault.KeySourceEnv:
		return "PLEXUS_MASTER_KEY"
	case vault.KeySourcePassphrase:
		return "passphrase (PLEXUS_PASSPHRASE or typed)"
	case vault.KeySourceFile:
		if k.File == "" {
			return "key file (pass --key-file)"
		}
		return "key file " + k.File
	}
	return string(k.Source)
}

// describeTenants is "2 (acme, beta)", at most 20 ids.
func describeTenants(t apiv1.TenantSummary) string {
	if t.Count == 0 {
		return "0"
	}
	ids := t.IDs
	more := ""
	if len(ids) > 20 {
		ids, more = ids[:20], fmt.Sprintf(", … %d more", len(t.IDs)-20)
	}
	return fmt.Sprintf("%d (%s%s)", t.Count, strings.Join(ids, ", "), more)
}

func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}

const stopHelp = `Stop the daemon that serves the data directory: it finishes in-flight
requests, closes the vault and exits. Waits until it is gone (at most
--timeout). Says "Plexus is not running" when there is none.`

// Stop runs `plexus stop`.
func Stop(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the daemon to exit")
	if err := parseFlags(fs, args, env, "stop", commandHelp(fs, "plexus stop [--data DIR] [--json]", stopHelp)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("stop: unexpected argument %q (see 'plexus stop --help')", fs.Arg(0))
	}
	if *timeout <= 0 {
		return usageError("stop: --timeout must be positive")
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return err
	}
	out := func(stopped bool, pid int, text string) error {
		if *asJSON {
			return json.NewEncoder(env.Stdout).Encode(map[string]any{"was_running": stopped, "stopped": stopped, "pid": pid})
		}
		fmt.Fprintln(env.Stdout, text)
		return nil
	}
	rt, running, err := liveDaemon(ctx, dir)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if !running {
		// A daemon that holds the vault but does not answer is not "not running".
		_, err := vault.Inspect(ctx, filepath.Join(dir, daemon.DBFileName), 0)
		if errors.Is(err, vault.ErrLocked) {
			msg := "a process holds the vault but does not answer; if a daemon is hung, stop it with kill"
			if rt.PID > 0 {
				msg = fmt.Sprintf("the daemon (pid %d, %s) holds the vault but does not answer; if it is hung, stop it with: kill %d",
					rt.PID, rt.BaseURL(), rt.PID)
			}
			return fmt.Errorf("stop: %s", msg)
		}
		return out(false, 0, "Plexus is not running.")
	}
	c := provedClient(rt)
	if err := c.Shutdown(ctx); err != nil {
		var ae *localclient.APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusNotImplemented) {
			return fmt.Errorf("stop: the daemon (pid %d, version %s) has no stop endpoint; stop it with: kill %d", rt.PID, rt.Version, rt.PID)
		}
		return fmt.Errorf("stop: %w", err)
	}
	if err := waitGone(ctx, dir, rt, *timeout); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return out(true, rt.PID, fmt.Sprintf("Plexus stopped (pid %d).", rt.PID))
}

// waitGone waits until the daemon rt no longer answers, its runtime file is
// gone (or names another daemon) and its process has exited.
func waitGone(ctx context.Context, dir string, rt localclient.Runtime, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		if gone(ctx, dir, rt) {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the daemon (pid %d) is still running after %s; its log is %s", rt.PID, timeout,
					filepath.Join(dir, localclient.LogFileName))
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

func gone(ctx context.Context, dir string, rt localclient.Runtime) bool {
	// A daemon running inside this very process (tests) cannot exit.
	if rt.PID != os.Getpid() && !processGone(rt.PID) {
		return false
	}
	if cur, err := localclient.ReadRuntime(dir); err == nil && cur.PID == rt.PID {
		return false
	}
	return localclient.Ping(ctx, rt) != nil
}

// provedClient is the admin client of the daemon rt describes, which must
// prove itself on every connection before the token is sent (the same
// transport `plexus admin` uses), with a short timeout: status and stop
// only ask small questions.
func provedClient(rt localclient.Runtime) *localclient.Client {
	c := localclient.NewClient(rt)
	c.HTTP.Timeout = 10 * time.Second
	return c
}
