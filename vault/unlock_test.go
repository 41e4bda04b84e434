package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPassphrase = "correct horse battery staple"

// passphraseVault makes a passphrase vault at cfg.Path (through
// PLEXUS_PASSPHRASE) with every kind of record, closes it and returns the
// check of those records.
func passphraseVault(t *testing.T, cfg Config) func(*testing.T, *Vault) {
	t.Helper()
	c := cfg
	c.Getenv = env{envPassphrase: testPassphrase}.get
	v, err := openWith(t.Context(), c, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	check := everyRecord(t, v)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return check
}

// TestOpenOrLock: which vaults open at once and which wait locked.
func TestOpenOrLock(t *testing.T) {
	noKeyring := func(c *Config) { c.Keyring.(*memKeyring).setErr(errors.New("no keyring here")) }
	tests := []struct {
		name     string
		existing bool // a passphrase vault exists at the path
		lo       LockOptions
		setup    func(c *Config)
		wantLock bool
		wantNew  bool
		wantSrc  KeySource
	}{
		{name: "passphrase vault, nobody to ask", existing: true, wantLock: true},
		{name: "passphrase vault, PLEXUS_PASSPHRASE", existing: true,
			setup: func(c *Config) { c.Getenv = env{envPassphrase: testPassphrase}.get }, wantSrc: KeySourcePassphrase},
		{name: "passphrase vault, wrong PLEXUS_PASSPHRASE", existing: true,
			setup: func(c *Config) { c.Getenv = env{envPassphrase: "not it, not it at all"}.get }, wantLock: true},
		{name: "passphrase vault, terminal", existing: true, setup: func(c *Config) {
			c.Passphrase = func(context.Context, int) (string, error) { return testPassphrase, nil }
		}, wantSrc: KeySourcePassphrase},
		{name: "new vault for the window, no keyring", lo: LockOptions{NewPassphrase: true}, setup: noKeyring,
			wantLock: true, wantNew: true},
		{name: "new vault for the window, keyring", lo: LockOptions{NewPassphrase: true}, wantSrc: KeySourceKeyring},
		{name: "new vault for the window, PLEXUS_MASTER_KEY", lo: LockOptions{NewPassphrase: true}, setup: func(c *Config) {
			noKeyring(c)
			c.Getenv = env{envMasterKey: b64(32, base64.StdEncoding)}.get
		}, wantSrc: KeySourceEnv},
		{name: "new vault, no keyring, not for the window", setup: noKeyring, wantSrc: KeySourceFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tc.existing {
				passphraseVault(t, cfg)
			}
			if tc.setup != nil {
				tc.setup(&cfg)
			}
			v, l, err := openOrLockWith(t.Context(), cfg, tc.lo, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if (v == nil) == (l == nil) {
				t.Fatalf("vault %v, locked %v: want exactly one", v, l)
			}
			if l != nil {
				t.Cleanup(func() { _ = l.Close() })
			} else {
				t.Cleanup(func() { _ = v.Close() })
			}
			if tc.wantLock != (l != nil) {
				t.Fatalf("locked = %v, want %v", l != nil, tc.wantLock)
			}
			if l != nil {
				if l.NewVault() != tc.wantNew {
					t.Fatalf("NewVault = %v", l.NewVault())
				}
				// The locked vault holds the file: nobody else opens it.
				if _, err := openWith(t.Context(), cfg, testOptions()); !errors.Is(err, ErrLocked) {
					t.Fatalf("a second open while locked: %v, want ErrLocked", err)
				}
				return
			}
			if v.KeySource() != tc.wantSrc {
				t.Fatalf("key source %s, want %s", v.KeySource(), tc.wantSrc)
			}
		})
	}
}

// TestUnlock: wrong passphrases are answered after a growing wait, never
// a dead end; the right one opens every record; the locked vault is spent.
func TestUnlock(t *testing.T) {
	cfg := testConfig(t)
	check := passphraseVault(t, cfg)
	logs := &logBuffer{}
	cfg.Logger = logs.logger()
	o := testOptions()
	o.retryDelay = time.Millisecond
	v, l, err := openOrLockWith(t.Context(), cfg, LockOptions{}, o)
	if err != nil || v != nil {
		t.Fatalf("OpenOrLock: %v %v", v, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if _, err := l.Create(t.Context(), testPassphrase); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create on an existing vault: %v", err)
	}
	for i := range 12 { // more than any limit a terminal has
		_, err := l.Unlock(t.Context(), "wrong passphrase number "+string(rune('a'+i)))
		if !errors.Is(err, ErrWrongKey) || strings.Contains(err.Error(), "wrong passphrase number") {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if l.failures != 12 {
		t.Fatalf("failures = %d", l.failures)
	}
	if !strings.Contains(logs.String(), "wait=10ms") || strings.Contains(logs.String(), "wait=11ms") {
		t.Fatalf("the wait does not grow to 10× the base and stop there:\n%s", logs.String())
	}
	// A cancelled request does not wait out the delay.
	o2 := l.p.o
	l.p.o.retryDelay = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Unlock(ctx, "wrong again, and slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled attempt: %v", err)
	}
	l.p.o = o2

	v, err = l.Unlock(t.Context(), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	check(t, v)
	if _, err := l.Unlock(t.Context(), testPassphrase); !errors.Is(err, ErrUnlocked) {
		t.Fatalf("second Unlock: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close after Unlock: %v", err)
	}
	if _, err := v.SchemaVersion(t.Context()); err != nil {
		t.Fatalf("Close after Unlock closed the vault: %v", err)
	}
}

// TestCreate: a new vault waits for its passphrase; a short one is
// refused, a good one makes a passphrase vault that later opens with it.
func TestCreate(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errors.New("no keyring here"))
	_, l, err := openOrLockWith(t.Context(), cfg, LockOptions{NewPassphrase: true}, testOptions())
	if err != nil || l == nil || !l.NewVault() {
		t.Fatalf("OpenOrLock: %v %v", l, err)
	}
	if _, err := l.Unlock(t.Context(), testPassphrase); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Unlock on a new vault: %v", err)
	}
	if _, err := l.Create(t.Context(), "too short"); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "too short") {
		t.Fatalf("short: %v", err)
	}
	v, err := l.Create(t.Context(), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	check := everyRecord(t, v)
	if v.KeySource() != KeySourcePassphrase {
		t.Fatalf("source %s", v.KeySource())
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.Path), KeyFileName)); err == nil {
		t.Fatal("a key file was written")
	}
	if _, err := l.Create(t.Context(), testPassphrase); !errors.Is(err, ErrUnlocked) {
		t.Fatalf("second Create: %v", err)
	}
	_ = v.Close()
	c := cfg
	c.Getenv = env{envPassphrase: testPassphrase}.get
	v2 := openT(t, c)
	check(t, v2)
}

// TestUseKeyFile: a person who declines a passphrase gets the generated
// key file, as a vault nobody could ask does.
func TestUseKeyFile(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errors.New("no keyring here"))
	_, l, err := openOrLockWith(t.Context(), cfg, LockOptions{NewPassphrase: true}, testOptions())
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	v, err := l.UseKeyFile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if ki := v.KeyInfo(); ki.Source != KeySourceFile || !ki.Generated {
		t.Fatalf("KeyInfo %+v", ki)
	}
}

// TestLockedLogin: while locked, the admin UI's login works from memory:
// a ticket works once, expires, and none survives the unlock.
func TestLockedLogin(t *testing.T) {
	cfg := testConfig(t)
	passphraseVault(t, cfg)
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Now = clk.Now
	_, l, err := openOrLockWith(t.Context(), cfg, LockOptions{}, testOptions())
	if err != nil || l == nil {
		t.Fatal(l, err)
	}
	defer l.Close()
	ctx := t.Context()
	k1, err := l.UISessionKeys(ctx)
	if err != nil || len(k1.Hash) != uiHashKeyLen || len(k1.Block) != uiBlockKeyLen {
		t.Fatalf("keys: %v", err)
	}
	if k2, _ := l.UISessionKeys(ctx); string(k2.Hash) != string(k1.Hash) {
		t.Fatal("session keys changed between calls")
	}
	if k3, _ := l.RotateUISessionKeys(ctx); string(k3.Hash) == string(k1.Hash) {
		t.Fatal("rotate kept the keys")
	}
	tk, _, err := l.NewUILoginTicket(ctx, 0)
	if err != nil || ValidUILoginTicket(tk) != nil {
		t.Fatalf("ticket: %v", err)
	}
	if err := l.TakeUILoginTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := l.TakeUILoginTicket(ctx, tk); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	old, _, _ := l.NewUILoginTicket(ctx, 0)
	clk.Add(2 * time.Minute)
	if err := l.TakeUILoginTicket(ctx, old); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	for range maxPendingUITickets + 3 {
		if _, _, err := l.NewUILoginTicket(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.tickets); n > maxPendingUITickets {
		t.Fatalf("%d tickets pending", n)
	}
	pending, _, _ := l.NewUILoginTicket(ctx, 0)
	v, err := l.Unlock(ctx, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := l.TakeUILoginTicket(ctx, pending); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a locked ticket outlived the unlock: %v", err)
	}
	if err := v.TakeUILoginTicket(ctx, pending); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a locked ticket works on the vault: %v", err)
	}
}
