//go:build keyring_integration

package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// TestKeyringIntegrationSecretService runs against the real OS keyring
// (Secret Service on Linux). CI runs it deliberately, under
// dbus-run-session with an unlocked gnome-keyring, so an unavailable keyring
// is a failure, not a skip.
func TestKeyringIntegrationSecretService(t *testing.T) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	account := "itest-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		if err := keyring.Delete(keyringService, account); err != nil && !errors.Is(err, keyring.ErrNotFound) && !t.Failed() {
			t.Errorf("cleanup: delete keyring item: %v", err)
		}
	})
	// Probe first so an unavailable keyring fails with a clear cause.
	if _, err := (SystemKeyring{}).Get(keyringService, account); !keyringNotFound(err) {
		t.Fatalf("OS keyring unavailable (run under dbus-run-session with an unlocked gnome-keyring): %v", err)
	}
	cfg := Config{
		Path:           filepath.Join(t.TempDir(), "plexus.db"),
		LockTimeout:    time.Second,
		KeyringAccount: account,
		Getenv:         func(string) string { return "" }, // no env fallback may hide a keyring failure
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	ctx := context.Background()
	v, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open with the real keyring: %v", err)
	}
	if v.KeySource() != KeySourceKeyring {
		t.Fatalf("KeySource = %q, want keyring", v.KeySource())
	}
	stored, err := keyring.Get(keyringService, account)
	if err != nil {
		t.Fatalf("master key not in the keyring: %v", err)
	}
	if k, err := parseMasterKey(stored); err != nil || len(k) != masterKeyLen {
		t.Fatalf("keyring item is not a 32-byte key: %v", err)
	}
	if _, err := v.CreateTenant(ctx, Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	sealed, err := v.Seal("x", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	v2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen with the real keyring: %v", err)
	}
	defer v2.Close()
	if _, err := v2.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("tenant after reopen: %v", err)
	}
	if _, err := v2.Unseal("x", sealed); err != nil {
		t.Fatalf("reopen used another key: %v", err)
	}
	if again, _ := keyring.Get(keyringService, account); again != stored {
		t.Fatal("reopen replaced the keyring item")
	}
}
