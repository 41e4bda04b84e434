// Package localclient finds and talks to the local plexus daemon: it reads
// and writes the runtime file (pid, address, instance id, local admin
// token) that `plexus serve` leaves in the data directory, makes the process
// at that address prove it is the daemon that wrote the file before sending
// it anything (identity.go), and starts a detached daemon when none is.
//
// It never opens the vault or the bbolt file (only the daemon does), never
// writes to stdout, never puts the local token in a log line or an error,
// and never sends the token on a connection whose far end has not proved
// that it holds it.
package localclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// RuntimeFileName is the name of the runtime file inside the data directory.
const RuntimeFileName = "plexus.runtime.json"

// maxRuntimeBytes bounds how much of a runtime file is read; a real one is
// a few hundred bytes.
const maxRuntimeBytes = 64 << 10

// pingTimeout bounds one health probe of the daemon.
const pingTimeout = 2 * time.Second

// ErrNoDaemon is returned (wrapped) by ReadRuntime when there is no runtime
// file, that is when no daemon has announced itself in the data directory.
var ErrNoDaemon = errors.New("no plexus daemon is running")

// ErrInsecureRuntime is returned (wrapped) by ReadRuntime on unix when the
// runtime file can be read by users other than its owner: the local token
// in it may have leaked, so it is not used.
var ErrInsecureRuntime = errors.New("runtime file is readable by other users")

// Runtime is the content of the runtime file: how to reach the daemon that
// wrote it. Token is the local admin token; never log it. Instance is a
// random id of this start of the daemon, which it proves together with
// its pid and address (see Ping).
type Runtime struct {
	PID       int       `json:"pid"`
	Addr      string    `json:"addr"` // host:port
	Token     string    `json:"token"`
	Instance  string    `json:"instance,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version"`
}

// BaseURL is the daemon's HTTP base URL, without a trailing slash.
func (r Runtime) BaseURL() string { return "http://" + r.Addr }

// DataDir returns the data directory: $PLEXUS_DATA_DIR when set, else
// <os.UserConfigDir()>/plexus.
func DataDir(getenv func(string) string) (string, error) {
	if getenv != nil {
		if d := getenv("PLEXUS_DATA_DIR"); d != "" {
			return d, nil
		}
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find data directory (set PLEXUS_DATA_DIR or --data): %w", err)
	}
	return filepath.Join(base, "plexus"), nil
}

// RuntimePath is the path of the runtime file in dataDir.
func RuntimePath(dataDir string) string { return filepath.Join(dataDir, RuntimeFileName) }

// WriteRuntime writes the runtime file atomically: a 0600 temporary file in
// the same directory, fsync, then rename over the old one, so a reader sees
// either the old file or the whole new one.
func WriteRuntime(dataDir string, r Runtime) error {
	if err := validateRuntime(r); err != nil {
		return fmt.Errorf("write runtime file: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("write runtime file: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write runtime file: %w", err)
	}
	path := RuntimePath(dataDir)
	f, err := os.CreateTemp(dataDir, RuntimeFileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("write runtime file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("write runtime file %s: %w", path, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write runtime file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write runtime file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write runtime file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write runtime file %s: %w", path, err)
	}
	ok = true
	return nil
}

// ReadRuntime reads the runtime file in dataDir. A missing file gives an
// error wrapping ErrNoDaemon; a malformed one an error naming the file and
// what is wrong with it. On unix a file readable by others gives
// ErrInsecureRuntime. ReadRuntime does not check that the daemon is alive:
// use Ping for that.
func ReadRuntime(dataDir string) (Runtime, error) {
	path := RuntimePath(dataDir)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Runtime{}, fmt.Errorf("%w (no %s)", ErrNoDaemon, path)
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("read runtime file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if err := checkPrivate(fi); err != nil {
			return Runtime{}, fmt.Errorf("runtime file %s: %w; remove it and restart `plexus serve`", path, err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRuntimeBytes+1))
	if err != nil {
		return Runtime{}, fmt.Errorf("read runtime file: %w", err)
	}
	r, err := parseRuntime(data)
	if err != nil {
		return Runtime{}, fmt.Errorf("runtime file %s: %w", path, err)
	}
	return r, nil
}

// parseRuntime decodes and validates the content of a runtime file.
func parseRuntime(data []byte) (Runtime, error) {
	if len(data) > maxRuntimeBytes {
		return Runtime{}, fmt.Errorf("malformed: larger than %d bytes", maxRuntimeBytes)
	}
	var r Runtime
	if err := json.Unmarshal(data, &r); err != nil {
		return Runtime{}, fmt.Errorf("malformed: %w", err)
	}
	if err := validateRuntime(r); err != nil {
		return Runtime{}, fmt.Errorf("malformed: %w", err)
	}
	return r, nil
}

func validateRuntime(r Runtime) error {
	if r.PID <= 0 {
		return fmt.Errorf("pid %d is not a process id", r.PID)
	}
	host, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return fmt.Errorf("addr %q is not host:port", r.Addr)
	}
	if host == "" {
		return fmt.Errorf("addr %q has no host", r.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("addr %q has no valid port", r.Addr)
	}
	if r.Token == "" {
		return errors.New("token is empty")
	}
	return nil
}

// RemoveRuntime removes the runtime file, but only if it still names pid:
// a daemon shutting down must not remove the file of its successor. A
// missing file is not an error.
func RemoveRuntime(dataDir string, pid int) error {
	r, err := ReadRuntime(dataDir)
	switch {
	case errors.Is(err, ErrNoDaemon):
		return nil
	case err != nil:
		// Not provably ours: leave it for whoever wrote it.
		return fmt.Errorf("remove runtime file: %w", err)
	case r.PID != pid:
		return nil
	}
	if err := os.Remove(RuntimePath(dataDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove runtime file: %w", err)
	}
	return nil
}

// Ping checks that the daemon described by r is alive and is the one that
// wrote r: on a new connection to r.Addr it sends a random challenge, which
// the daemon must answer with a MAC keyed by r.Token over its instance id,
// pid, address and the challenge (see identity.go), within a short timeout.
// The token itself is never sent. A process that answers but cannot prove
// it gives an error matching ErrImpostor (an *ImpostorError naming, where
// the OS tells, the process that holds the address). After a nil error,
// r.PID is the daemon's pid.
func Ping(ctx context.Context, r Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := ping(ctx, r); err != nil {
		return withOwner(err)
	}
	return nil
}

// ping is Ping without the look-up of the process holding the address.
func ping(ctx context.Context, r Runtime) error {
	conn, err := dialVerified(ctx, r)
	if err != nil {
		if errors.Is(err, ErrImpostor) {
			return err
		}
		return fmt.Errorf("ping plexus daemon at %s: %w", r.Addr, err)
	}
	return conn.Close()
}
