package adminops_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// settableClock is a clock tests move.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keyFileOps is the operations over a vault whose key went into the
// generated key file (no keyring when it was made).
func keyFileOps(t *testing.T) (*adminops.Service, *vault.Vault, *vaulttest.Keyring, *settableClock) {
	t.Helper()
	kr := vaulttest.NewKeyring()
	kr.Err = errors.New("no keyring here")
	v := vaulttest.Open(t, vault.Config{Keyring: kr})
	clk := &settableClock{t: time.Now()}
	return adminops.New(v, adminops.Options{Now: clk.Now}), v, kr, clk
}

func TestKeyPlace(t *testing.T) {
	s, v, kr, clk := keyFileOps(t)
	kp, err := s.KeyPlace(t.Context())
	if err != nil || !kp.CanMove || !kp.Generated || kp.KeyringAvailable || kp.Source != "file" || kp.File == "" {
		t.Fatalf("KeyPlace: %+v %v", kp, err)
	}
	kr.Err = nil // a keyring appears; the last answer is reused a while
	if kp, _ := s.KeyPlace(t.Context()); kp.KeyringAvailable {
		t.Fatal("the keyring was asked again at once")
	}
	clk.Add(time.Minute)
	if kp, _ := s.KeyPlace(t.Context()); !kp.KeyringAvailable {
		t.Fatal("the keyring was not asked again after a minute")
	}
	m, err := s.MoveKeyToKeyring(t.Context())
	if err != nil || m.Source != "keyring" || m.RemovedFile != kp.File {
		t.Fatalf("move: %+v %v", m, err)
	}
	if _, err := os.Stat(kp.File); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("key file: %v", err)
	}
	if kp, _ := s.KeyPlace(t.Context()); kp.CanMove || kp.Source != "keyring" {
		t.Fatalf("after the move: %+v", kp)
	}
	if _, err := s.MoveKeyToKeyring(t.Context()); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("second move: %v", err)
	}
	if v.KeySource() != vault.KeySourceKeyring {
		t.Fatal(v.KeySource())
	}
}

func TestMoveKeyToKeyringUnavailable(t *testing.T) {
	s, v, _, _ := keyFileOps(t)
	if _, err := s.MoveKeyToKeyring(t.Context()); !errors.Is(err, vault.ErrKeyringUnavailable) {
		t.Fatalf("%v, want ErrKeyringUnavailable", err)
	}
	if v.KeySource() != vault.KeySourceFile {
		t.Fatal("the key moved")
	}
}

func TestProtectWithPassphrase(t *testing.T) {
	s, v, _, _ := keyFileOps(t)
	const pw = "correct horse battery staple"
	tests := []struct {
		req   apiv1.ProtectRequest
		field string
		msg   string
	}{
		{apiv1.ProtectRequest{}, "passphrase", "required"},
		{apiv1.ProtectRequest{Passphrase: "short-pw", Confirm: "short-pw"}, "passphrase", "at least 12"},
		{apiv1.ProtectRequest{Passphrase: strings.Repeat("p", 1025), Confirm: strings.Repeat("p", 1025)}, "passphrase", "at most 1024"},
		{apiv1.ProtectRequest{Passphrase: "\xff\xfe" + pw, Confirm: "\xff\xfe" + pw}, "passphrase", "UTF-8"},
		{apiv1.ProtectRequest{Passphrase: pw, Confirm: pw + "!"}, "confirm", "differ"},
	}
	for _, tc := range tests {
		_, err := s.ProtectWithPassphrase(t.Context(), tc.req)
		fe, ok := errors.AsType[*apiv1.FieldError](err)
		if !ok || fe.Field != tc.field || !strings.Contains(err.Error(), tc.msg) || !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("%q: %v, want field %s (%s)", tc.msg, err, tc.field, tc.msg)
		}
		if err != nil && tc.req.Passphrase != "" && strings.Contains(err.Error(), tc.req.Passphrase) {
			t.Errorf("the error shows the passphrase")
		}
	}
	if v.KeySource() != vault.KeySourceFile {
		t.Fatal("a refused request moved the key")
	}
	m, err := s.ProtectWithPassphrase(t.Context(), apiv1.ProtectRequest{Passphrase: pw, Confirm: pw})
	if err != nil || m.Source != "passphrase" || m.RemovedFile == "" {
		t.Fatalf("protect: %+v %v", m, err)
	}
	if v.KeySource() != vault.KeySourcePassphrase {
		t.Fatal(v.KeySource())
	}
}

func TestKeyMoveUnsupported(t *testing.T) {
	s := adminops.New(noKeys{vaulttest.New(t)}, adminops.Options{})
	if _, err := s.KeyPlace(t.Context()); !errors.Is(err, adminops.ErrUnsupported) {
		t.Fatalf("%v", err)
	}
}

// noKeys is a Store that cannot move keys.
type noKeys struct{ *vault.Vault }

func (noKeys) KeyInfo() {}
