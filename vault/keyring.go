package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

const (
	keyringService        = "plexus"
	defaultKeyringAccount = "master-key"
	defaultKeyringTimeout = 5 * time.Second
)

// SystemKeyring is the OS keyring (go-keyring: Secret Service, macOS
// Keychain, Windows Credential Manager) with a bound on every call, because a
// locked desktop keyring may block on an unlock prompt. Get returns an error
// wrapping both ErrNotFound and go-keyring's ErrNotFound when the item is
// absent. Open uses it when Config.Keyring is nil.
//
// On Linux and the BSDs the Secret Service is reached over the D-Bus session
// bus, and when no session bus is known godbus "autolaunches" one with
// dbus-launch: that leaves a dbus-daemon (and a gnome-keyring-daemon it
// activates) running after Plexus exits. SystemKeyring never lets that
// happen: without a session bus it answers "unavailable" without calling
// go-keyring at all (see sessionBus).
type SystemKeyring struct {
	// Timeout bounds each call; 0 means 5s. A call that times out keeps
	// running in the background until the keyring answers.
	Timeout time.Duration

	// Tests replace these; nil means the real environment, /run/user/<uid>
	// and go-keyring.
	getenv     func(string) string
	runtimeDir string
	backend    keyringBackend
}

// keyringBackend is go-keyring's package API.
type keyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

type goKeyring struct{}

func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Set(service, user, pw string) error       { return keyring.Set(service, user, pw) }
func (goKeyring) Delete(service, user string) error        { return keyring.Delete(service, user) }

func (k SystemKeyring) be() keyringBackend {
	if k.backend != nil {
		return k.backend
	}
	return goKeyring{}
}

var _ Keyring = SystemKeyring{}

// Get reads an item.
func (k SystemKeyring) Get(service, user string) (string, error) {
	var s string
	err := k.call("get", func() error {
		var err error
		s, err = k.be().Get(service, user)
		return err
	})
	return s, err
}

// Set writes an item.
func (k SystemKeyring) Set(service, user, password string) error {
	return k.call("set", func() error { return k.be().Set(service, user, password) })
}

// Delete removes an item.
func (k SystemKeyring) Delete(service, user string) error {
	return k.call("delete", func() error { return k.be().Delete(service, user) })
}

func (k SystemKeyring) call(op string, fn func() error) error {
	if err := k.sessionBus(); err != nil {
		return fmt.Errorf("keyring %s: %w", op, err)
	}
	d := k.Timeout
	if d <= 0 {
		d = defaultKeyringTimeout
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if errors.Is(err, keyring.ErrNotFound) {
			return fmt.Errorf("keyring %s: %w (%w)", op, ErrNotFound, err)
		}
		if err != nil {
			return fmt.Errorf("keyring %s: %w", op, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("keyring %s: no answer within %s (locked keyring waiting for an unlock prompt?)", op, d)
	}
}

// errNoSessionBus is the "unavailable" answer of SystemKeyring where the
// Secret Service would need a D-Bus session bus and none is known.
var errNoSessionBus = errors.New("no desktop session keyring here (no D-Bus session bus: " +
	"DBUS_SESSION_BUS_ADDRESS is unset and /run/user/<uid>/bus does not exist)")

// sessionBus returns errNoSessionBus when go-keyring would have to
// autolaunch a D-Bus session bus, that is exactly when godbus (v5) finds no
// address itself: DBUS_SESSION_BUS_ADDRESS is unset (or "autolaunch:"),
// /run/user/<uid>/bus does not exist, and /run/user/<uid>/dbus-session does
// not hold an address. The checks mirror godbus's getSessionBusAddress, so
// whenever this returns nil godbus connects to an existing bus (or fails)
// and never runs dbus-launch. Other systems (macOS, Windows) use no D-Bus.
func (k SystemKeyring) sessionBus() error {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return nil
	}
	getenv := k.getenv
	if getenv == nil {
		getenv = os.Getenv // what godbus reads
	}
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	dir := k.runtimeDir
	if dir == "" {
		dir = "/run/user/" + strconv.Itoa(os.Getuid()) // godbus: user.Current().Uid
	}
	// godbus treats any answer but "does not exist" as a bus socket.
	if _, err := os.Stat(filepath.Join(dir, "bus")); !os.IsNotExist(err) {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dbus-session")); err == nil {
		if a, ok := strings.CutPrefix(string(b), "DBUS_SESSION_BUS_ADDRESS="); ok && strings.TrimRight(a, "\r\n") != "" {
			return nil
		}
	}
	return errNoSessionBus
}

// keyringNotFound reports whether a Keyring error means "item absent" (as
// opposed to "keyring unavailable").
func keyringNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, keyring.ErrNotFound)
}
