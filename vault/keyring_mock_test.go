//go:build !keyring_integration

package vault

// These tests swap go-keyring's global provider for its mock, which cannot
// be undone; the keyring_integration build leaves them out so the real
// Secret Service test really talks to the Secret Service.

import (
	"errors"
	"testing"

	"github.com/zalando/go-keyring"
)

// withBus is a SystemKeyring that believes a session bus exists (the mock
// provider then answers; no D-Bus is used).
var withBus = SystemKeyring{getenv: env{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}.get}

// TestSystemKeyringMock uses go-keyring's mock through SystemKeyring.
func TestSystemKeyringMock(t *testing.T) {
	keyring.MockInit()
	cfg := testConfig(t)
	cfg.Keyring = withBus
	cfg.KeyringAccount = "test-" + t.Name()
	v := openT(t, cfg)
	if v.KeySource() != KeySourceKeyring {
		t.Fatalf("KeySource = %q", v.KeySource())
	}
	if s, err := keyring.Get(keyringService, cfg.KeyringAccount); err != nil || len(s) == 0 {
		t.Fatalf("key not in keyring: %v", err)
	}
	_ = v.Close()
	openT(t, cfg)

	// Unavailable keyring through the same path.
	keyring.MockInitWithError(errNoDBus)
	t.Cleanup(keyring.MockInit)
	cfg2 := testConfig(t)
	cfg2.Keyring = withBus
	v2 := openT(t, cfg2)
	if v2.KeySource() != KeySourceFile {
		t.Fatalf("Open with failing keyring: key source %q, want the generated key file", v2.KeySource())
	}
}

func TestSystemKeyringNotFound(t *testing.T) {
	keyring.MockInit()
	_, err := withBus.Get(keyringService, "absent-"+t.Name())
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, keyring.ErrNotFound) || !keyringNotFound(err) {
		t.Fatalf("Get absent: %v", err)
	}
}
