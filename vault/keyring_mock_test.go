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

// TestSystemKeyringMock uses go-keyring's mock with Config.Keyring nil.
func TestSystemKeyringMock(t *testing.T) {
	keyring.MockInit()
	cfg := testConfig(t)
	cfg.Keyring = nil
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
	cfg2.Keyring = nil
	if _, err := openWith(t.Context(), cfg2, testOptions()); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Open with failing keyring: %v, want ErrNoKey", err)
	}
}

func TestSystemKeyringNotFound(t *testing.T) {
	keyring.MockInit()
	_, err := SystemKeyring{}.Get(keyringService, "absent-"+t.Name())
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, keyring.ErrNotFound) || !keyringNotFound(err) {
		t.Fatalf("Get absent: %v", err)
	}
}
