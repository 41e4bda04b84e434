package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// everyRecord writes one record of every kind that holds something sealed
// or hashed (host-app secret, user token, session value, API key, OAuth
// token set, OAuth client secret, OAuth state with its PKCE verifier,
// consent link, tool settings, the admin UI's session keys) and returns a
// check that reads each of them back through the vault's API.
func everyRecord(t *testing.T, v *Vault) func(t *testing.T, v *Vault) {
	t.Helper()
	ctx := t.Context()
	mustTenant(t, v, "acme")
	const hostSecret = "phs_every-record-host-secret"
	if err := v.SetHostAppSecret(ctx, "acme", hostSecret); err != nil {
		t.Fatal(err)
	}
	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := v.IssueToken(ctx, "acme", u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CreateSession(ctx, Session{ID: "sess-1", TenantID: "acme", UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetSessionValue(ctx, "acme", "sess-1", "k", []byte("session value")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather", []byte("api key value")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialOAuth, "github", []byte(`{"access_token":"at"}`)); err != nil {
		t.Fatal(err)
	}
	state := OAuthState{State: "every-record-state-0123456789", TenantID: "acme", UserID: u.ID, Provider: "github",
		Verifier: testVerifier, Browser: testBrowser, ExpiresAt: time.Now().Add(time.Hour)}
	if err := v.PutOAuthState(ctx, state); err != nil {
		t.Fatal(err)
	}
	consent := OAuthConsent{ID: "every-record-consent-0123456789abcdefghijkl", TenantID: "acme", UserID: u.ID,
		Provider: "github", ExpiresAt: time.Now().Add(time.Hour)}
	if err := v.PutOAuthConsent(ctx, consent); err != nil {
		t.Fatal(err)
	}
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"weather"}}); err != nil {
		t.Fatal(err)
	}
	uiKeys, err := v.UISessionKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, v *Vault) {
		t.Helper()
		ctx := t.Context()
		if ok, err := v.CheckHostAppSecret(ctx, "acme", hostSecret); err != nil || !ok {
			t.Errorf("host-app secret: %v %v", ok, err)
		}
		if info, err := v.ResolveToken(ctx, token); err != nil || info.UserID != u.ID {
			t.Errorf("user token: %+v %v", info, err)
		}
		if b, err := v.GetSessionValue(ctx, "acme", "sess-1", "k"); err != nil || string(b) != "session value" {
			t.Errorf("session value: %q %v", b, err)
		}
		if b, err := v.GetCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather"); err != nil || string(b) != "api key value" {
			t.Errorf("API key: %q %v", b, err)
		}
		if b, err := v.GetCredential(ctx, "acme", u.ID, CredentialOAuth, "github"); err != nil || string(b) != `{"access_token":"at"}` {
			t.Errorf("OAuth token set: %q %v", b, err)
		}
		if p, err := v.GetOAuthProvider(ctx, "acme", "github"); err != nil || p.ClientSecret != testClientSecret {
			t.Errorf("OAuth client secret: %v", err)
		}
		if s, err := v.TakeOAuthState(ctx, state.State, testBrowser); err != nil || s.Verifier != testVerifier {
			t.Errorf("OAuth state: %v", err)
		} else if err := v.PutOAuthState(ctx, state); err != nil { // single-use: put it back for the next check
			t.Fatal(err)
		}
		if c, err := v.GetOAuthConsent(ctx, consent.ID); err != nil || c.Provider != "github" {
			t.Errorf("consent link: %+v %v", c, err)
		}
		if ts, err := v.GetToolSettings(ctx, "acme"); err != nil || len(ts.DisabledTools) != 1 {
			t.Errorf("tool settings: %+v %v", ts, err)
		}
		if k, err := v.UISessionKeys(ctx); err != nil || !bytes.Equal(k.Hash, uiKeys.Hash) || !bytes.Equal(k.Block, uiKeys.Block) {
			t.Errorf("admin UI session keys: %v", err)
		}
	}
}

// keyFileVault opens a new vault with no keyring and no one to ask: its
// key goes into the generated key file.
func keyFileVault(t *testing.T) (Config, *memKeyring, *Vault) {
	t.Helper()
	cfg := testConfig(t)
	kr := cfg.Keyring.(*memKeyring)
	kr.setErr(errors.New("no keyring here"))
	v, err := openWith(t.Context(), cfg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	if ki := v.KeyInfo(); ki.Source != KeySourceFile || !ki.Generated || ki.File == "" {
		t.Fatalf("KeyInfo %+v, want the generated key file", ki)
	}
	return cfg, kr, v
}

// metaSource reads key_source as recorded.
func metaSource(t *testing.T, v *Vault) string {
	t.Helper()
	var s string
	if err := v.db.View(func(tx *bolt.Tx) error {
		s = string(tx.Bucket(bucketMeta).Get(metaKeySource))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMoveKeyToKeyring: the generated key file's key goes into the
// keyring unchanged; the key file is removed only once the keyring item
// is read back, opens the vault and is recorded; every record opens after
// a restart that reads the key from the keyring.
func TestMoveKeyToKeyring(t *testing.T) {
	cfg, kr, v := keyFileVault(t)
	check := everyRecord(t, v)
	keyFile := v.KeyInfo().File
	kr.setErr(nil) // a keyring appears (the desktop session's)

	if !v.KeyringAvailable() {
		t.Fatal("KeyringAvailable = false with a working keyring")
	}
	o := testOptions()
	removed := false
	o.removeKeyFile = func(path string) error {
		// Called only after the new place works and is recorded.
		if metaSource(t, v) != string(KeySourceKeyring) {
			t.Error("the key file was removed before the keyring was recorded")
		}
		s, err := kr.Get(keyringService, defaultKeyringAccount)
		if err != nil {
			t.Errorf("the key file was removed before the keyring held the key: %v", err)
		} else if k, _ := base64.StdEncoding.DecodeString(s); v.opensCanary(k) != nil {
			t.Error("the keyring's key does not open the vault")
		}
		removed = true
		return os.Remove(path)
	}
	v.opts = o

	m, err := v.MoveKeyToKeyring(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !removed || m.RemovedFile != keyFile || m.LeftFile != "" || m.To != KeySourceKeyring || m.KeyringAccount != defaultKeyringAccount {
		t.Fatalf("move %+v, removed %v", m, removed)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("key file still there: %v", err)
	}
	if ki := v.KeyInfo(); ki.Source != KeySourceKeyring || ki.File != "" || ki.Generated {
		t.Fatalf("KeyInfo after the move: %+v", ki)
	}
	check(t, v) // the running vault
	if _, err := v.MoveKeyToKeyring(t.Context()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a second move: %v, want ErrInvalid", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	v2 := openT(t, cfg)
	if v2.KeySource() != KeySourceKeyring {
		t.Fatalf("reopened from %s", v2.KeySource())
	}
	check(t, v2)
	info, err := Inspect(t.Context(), cfg.Path+".absent", 0)
	if err == nil {
		t.Fatalf("Inspect of a missing file: %+v", info)
	}
}

// TestMoveKeyToKeyringFails: when the keyring cannot take the key, or
// gives back something else, nothing changes: the key file stays and
// still opens the vault, and no keyring item is left behind.
func TestMoveKeyToKeyringFails(t *testing.T) {
	tests := []struct {
		name  string
		setup func(kr *memKeyring)
		kr    func(kr *memKeyring) Keyring
	}{
		{"keyring unavailable", func(kr *memKeyring) {}, func(kr *memKeyring) Keyring { return kr }},
		{"keyring gives back another key", func(kr *memKeyring) { kr.setErr(nil) },
			func(kr *memKeyring) Keyring { return &lyingKeyring{memKeyring: kr} }},
		{"keyring forgets the item", func(kr *memKeyring) { kr.setErr(nil) },
			func(kr *memKeyring) Keyring { return &forgetfulKeyring{memKeyring: kr} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, kr, v := keyFileVault(t)
			check := everyRecord(t, v)
			keyFile := v.KeyInfo().File
			tc.setup(kr)
			v.keyring = tc.kr(kr)
			v.opts.removeKeyFile = func(string) error {
				t.Error("the key file was removed")
				return nil
			}
			if _, err := v.MoveKeyToKeyring(t.Context()); !errors.Is(err, ErrKeyringUnavailable) {
				t.Fatalf("move: %v, want ErrKeyringUnavailable", err)
			}
			if ki := v.KeyInfo(); ki.Source != KeySourceFile || ki.File != keyFile {
				t.Fatalf("KeyInfo after a failed move: %+v", ki)
			}
			if metaSource(t, v) != string(KeySourceFile) {
				t.Fatal("meta changed")
			}
			kr.setErr(nil)
			if n := len(kr.items); n != 0 {
				t.Fatalf("%d keyring items left behind", n)
			}
			check(t, v)
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			kr.setErr(errors.New("no keyring here"))
			v2 := openT(t, cfg)
			if v2.KeySource() != KeySourceFile {
				t.Fatalf("reopened from %s", v2.KeySource())
			}
			check(t, v2)
		})
	}
}

// lyingKeyring stores what it is given but reads back another key.
type lyingKeyring struct{ *memKeyring }

func (k *lyingKeyring) Get(service, user string) (string, error) {
	s, err := k.memKeyring.Get(service, user)
	if err != nil {
		return s, err
	}
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, masterKeyLen)), nil
}

// forgetfulKeyring accepts a Set and then has nothing.
type forgetfulKeyring struct{ *memKeyring }

func (k *forgetfulKeyring) Set(service, user, password string) error { return nil }

// TestMoveKeyToKeyringOtherVault: the keyring's default item holds another
// vault's key: it is left alone, and the key goes into an item named after
// this vault.
func TestMoveKeyToKeyringOtherVault(t *testing.T) {
	cfg, kr, v := keyFileVault(t)
	check := everyRecord(t, v)
	kr.setErr(nil)
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, masterKeyLen))
	if err := kr.Set(keyringService, defaultKeyringAccount, other); err != nil {
		t.Fatal(err)
	}
	m, err := v.MoveKeyToKeyring(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.KeyringAccount == defaultKeyringAccount || !strings.HasPrefix(m.KeyringAccount, defaultKeyringAccount+"-") {
		t.Fatalf("account %q", m.KeyringAccount)
	}
	if got, _ := kr.Get(keyringService, defaultKeyringAccount); got != other {
		t.Fatal("the other vault's key was overwritten")
	}
	_ = v.Close()
	v2 := openT(t, cfg)
	check(t, v2)
}

// TestProtectWithPassphrase: the key file's key is wrapped under the
// passphrase; the key file goes only after the passphrase is proved to
// unwrap it; every record opens after a restart, whichever way the
// passphrase arrives (PLEXUS_PASSPHRASE, a terminal, the window's unlock).
func TestProtectWithPassphrase(t *testing.T) {
	const pw = "correct horse battery staple"
	cfg, _, v := keyFileVault(t)
	check := everyRecord(t, v)
	keyFile := v.KeyInfo().File

	if _, err := v.ProtectWithPassphrase(t.Context(), "short"); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "short") {
		t.Fatalf("short passphrase: %v", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("a refused move removed the key file: %v", err)
	}
	removed := false
	v.opts.removeKeyFile = func(path string) error {
		if metaSource(t, v) != string(keySourceWrapped) {
			t.Error("the key file was removed before the passphrase was recorded")
		}
		st, err := readMeta(v.db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := passphraseKey(pw, st.kdf, st); err != nil {
			t.Errorf("the key file was removed, but the passphrase does not open the vault: %v", err)
		}
		removed = true
		return os.Remove(path)
	}
	m, err := v.ProtectWithPassphrase(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	if !removed || m.RemovedFile != keyFile || m.To != KeySourcePassphrase {
		t.Fatalf("move %+v", m)
	}
	if ki := v.KeyInfo(); ki.Source != KeySourcePassphrase || ki.File != "" {
		t.Fatalf("KeyInfo %+v", ki)
	}
	check(t, v)
	if _, err := v.ProtectWithPassphrase(t.Context(), pw); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a second move: %v, want ErrInvalid", err)
	}
	_ = v.Close()
	if info, err := Inspect(t.Context(), cfg.Path, 0); err != nil || info.Key.Source != KeySourcePassphrase || info.Key.File != "" {
		t.Fatalf("Inspect: %+v %v", info, err)
	}

	t.Run("PLEXUS_PASSPHRASE", func(t *testing.T) {
		c := cfg
		c.Getenv = env{envPassphrase: pw}.get
		v := openT(t, c)
		check(t, v)
		_ = v.Close()
	})
	t.Run("wrong PLEXUS_PASSPHRASE", func(t *testing.T) {
		c := cfg
		c.Getenv = env{envPassphrase: "not the passphrase at all"}.get
		if _, err := openWith(t.Context(), c, testOptions()); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("open: %v, want ErrWrongKey", err)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		c := cfg
		c.Passphrase = func(context.Context, int) (string, error) { return pw, nil }
		v := openT(t, c)
		check(t, v)
		_ = v.Close()
	})
	t.Run("unlock", func(t *testing.T) {
		v, l, err := openOrLockWith(t.Context(), cfg, LockOptions{}, testOptions())
		if err != nil || v != nil || l == nil || l.NewVault() {
			t.Fatalf("OpenOrLock: %v %v %v", v, l, err)
		}
		if _, err := l.Unlock(t.Context(), "a wrong passphrase here"); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("wrong: %v", err)
		}
		v, err = l.Unlock(t.Context(), pw)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		check(t, v)
	})
}

// TestKeyMoveLeavesFile: a key file that cannot be removed is reported,
// and the move still stands.
func TestKeyMoveLeavesFile(t *testing.T) {
	cfg, kr, v := keyFileVault(t)
	kr.setErr(nil)
	v.opts.removeKeyFile = func(string) error { return fs.ErrPermission }
	m, err := v.MoveKeyToKeyring(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.LeftFile == "" || m.RemovedFile != "" {
		t.Fatalf("move %+v, want LeftFile", m)
	}
	_ = v.Close()
	if err := os.Remove(filepath.Join(filepath.Dir(cfg.Path), KeyFileName)); err != nil {
		t.Fatal(err)
	}
	v2 := openT(t, cfg)
	if v2.KeySource() != KeySourceKeyring {
		t.Fatalf("reopened from %s", v2.KeySource())
	}
}

// TestKeyMoveRefused: only a key-file vault's key moves.
func TestKeyMoveRefused(t *testing.T) {
	v, _ := newTestVault(t) // keyring
	if _, err := v.MoveKeyToKeyring(t.Context()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("keyring vault to keyring: %v", err)
	}
	if _, err := v.ProtectWithPassphrase(t.Context(), "correct horse battery staple"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("keyring vault to passphrase: %v", err)
	}
}
