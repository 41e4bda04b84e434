package vault

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
)

// fakeBackend stands in for go-keyring and counts the calls reaching it.
type fakeBackend struct{ calls atomic.Int32 }

func (b *fakeBackend) Get(string, string) (string, error) {
	b.calls.Add(1)
	return "", ErrNotFound
}
func (b *fakeBackend) Set(string, string, string) error { b.calls.Add(1); return nil }
func (b *fakeBackend) Delete(string, string) error      { b.calls.Add(1); return nil }

// TestSystemKeyringNoAutolaunch: without a known session bus, SystemKeyring
// never calls go-keyring (whose godbus would run dbus-launch and leave a
// dbus-daemon and a gnome-keyring-daemon behind); with one, it does.
func TestSystemKeyringNoAutolaunch(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		t.Skip("no D-Bus keyring on " + runtime.GOOS)
	}
	tests := []struct {
		name       string
		addr       string            // DBUS_SESSION_BUS_ADDRESS
		files      map[string]string // in the fake /run/user/<uid>
		wantCalled bool
	}{
		{name: "no bus at all", wantCalled: false},
		{name: "autolaunch address", addr: "autolaunch:", wantCalled: false},
		{name: "address set", addr: "unix:path=/run/user/0/bus", wantCalled: true},
		{name: "address of a missing socket", addr: "unix:path=/nonexistent", wantCalled: true},
		{name: "runtime dir bus socket", files: map[string]string{"bus": ""}, wantCalled: true},
		{name: "dbus-session file", files: map[string]string{"dbus-session": "DBUS_SESSION_BUS_ADDRESS=unix:abstract=/tmp/x\n"}, wantCalled: true},
		{name: "dbus-session file, empty address", files: map[string]string{"dbus-session": "DBUS_SESSION_BUS_ADDRESS=\n"}, wantCalled: false},
		{name: "dbus-session file, other content", files: map[string]string{"dbus-session": "garbage"}, wantCalled: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			be := &fakeBackend{}
			kr := SystemKeyring{getenv: env{"DBUS_SESSION_BUS_ADDRESS": tc.addr}.get, runtimeDir: dir, backend: be}
			_, getErr := kr.Get(keyringService, "probe")
			setErr := kr.Set(keyringService, "probe", "x")
			delErr := kr.Delete(keyringService, "probe")
			if called := be.calls.Load() > 0; called != tc.wantCalled {
				t.Fatalf("go-keyring called %d times, want called=%v", be.calls.Load(), tc.wantCalled)
			}
			if tc.wantCalled {
				if !keyringNotFound(getErr) || setErr != nil || delErr != nil {
					t.Fatalf("backend answers not passed on: %v, %v, %v", getErr, setErr, delErr)
				}
				return
			}
			for _, err := range []error{getErr, setErr, delErr} {
				if !errors.Is(err, errNoSessionBus) || keyringNotFound(err) {
					t.Fatalf("err = %v, want the unavailable errNoSessionBus", err)
				}
			}
		})
	}

	// Through Open: a new vault on such a machine, no key given, no
	// terminal: the keyring is never called and the vault uses a key file.
	be := &fakeBackend{}
	cfg := testConfig(t)
	cfg.Keyring = SystemKeyring{getenv: env{}.get, runtimeDir: t.TempDir(), backend: be}
	v := openT(t, cfg)
	if be.calls.Load() != 0 || v.KeySource() != KeySourceFile {
		t.Fatalf("keyring calls %d, key source %q; want 0 and file", be.calls.Load(), v.KeySource())
	}
}
