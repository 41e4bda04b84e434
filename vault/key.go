package vault

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

const (
	envMasterKey  = "PLEXUS_MASTER_KEY"
	envPassphrase = "PLEXUS_PASSPHRASE"

	maxPassphraseAttempts = 3
	canaryAAD             = "meta|canary"
)

var canaryPlain = []byte("plexus vault canary v1")

// howToProvideKey is the advice in every ErrNoKey error for a new vault.
const howToProvideKey = "set PLEXUS_MASTER_KEY=<base64 of 32 random bytes> (e.g. from `openssl rand -base64 32`), " +
	"or set PLEXUS_PASSPHRASE, or run plexus in a terminal to type a passphrase, " +
	"or pass --key-file PATH to keep the key in a plain file"

// kdfParams are the Argon2id parameters of a passphrase vault (in meta).
type kdfParams struct {
	Alg       string `json:"alg"`
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// defaultKDF follows RFC 9106's second recommended option (64 MiB, t=3).
func defaultKDF() kdfParams {
	return kdfParams{Alg: "argon2id", Time: 3, MemoryKiB: 64 * 1024, Threads: 4}
}

func (p kdfParams) derive(passphrase string) []byte {
	return argon2.IDKey([]byte(passphrase), p.Salt, p.Time, p.MemoryKiB, p.Threads, masterKeyLen)
}

func (p kdfParams) valid() bool {
	return p.Alg == "argon2id" && len(p.Salt) >= 16 && p.Time >= 1 && p.MemoryKiB >= 8 && p.Threads >= 1 &&
		p.Time <= 100 && p.MemoryKiB <= 4<<20
}

// keyResult is the outcome of obtainKey.
type keyResult struct {
	aead   cipher.AEAD
	source KeySource
	kdf    *kdfParams // passphrase vaults only
}

// parseMasterKey decodes a base64 (standard or URL alphabet, padded or not)
// encoding of exactly 32 bytes. Its errors never contain the input.
func parseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, invalidf("master key: empty; want base64 of exactly %d bytes", masterKeyLen)
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != masterKeyLen {
			return nil, invalidf("master key: decodes to %d bytes; want exactly %d (e.g. `openssl rand -base64 32`)", len(b), masterKeyLen)
		}
		return b, nil
	}
	return nil, invalidf("master key: not valid base64 (standard or URL alphabet); want base64 of exactly %d bytes", masterKeyLen)
}

func randomKey() ([]byte, error) {
	k := make([]byte, masterKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("random master key: %w", err)
	}
	return k, nil
}

// obtainKey finds the master key: for an existing vault, from the source
// recorded in meta (checked against the canary); for a new one, from the
// first source that works.
func obtainKey(ctx context.Context, cfg Config, o options, st metaState) (keyResult, error) {
	if st.isNew() {
		return newVaultKey(ctx, cfg, o)
	}
	switch st.source {
	case KeySourceKeyring:
		return existingKeyringKey(cfg, st)
	case KeySourceEnv:
		s := cfg.Getenv(envMasterKey)
		if strings.TrimSpace(s) == "" {
			return keyResult{}, fmt.Errorf("%w: this vault was created with %s; set it to the same value", ErrNoKey, envMasterKey)
		}
		k, err := parseMasterKey(s)
		if err != nil {
			return keyResult{}, fmt.Errorf("%s: %w", envMasterKey, err)
		}
		return checkKey(k, KeySourceEnv, nil, st)
	case KeySourcePassphrase:
		return existingPassphraseKey(ctx, cfg, o, st)
	case KeySourceFile:
		if cfg.KeyFile == "" {
			return keyResult{}, fmt.Errorf("%w: this vault's master key is in a key file; pass --key-file PATH", ErrNoKey)
		}
		k, err := readKeyFile(cfg.KeyFile, false)
		if err != nil {
			return keyResult{}, err
		}
		return checkKey(k, KeySourceFile, nil, st)
	default:
		return keyResult{}, fmt.Errorf("meta key_source %q is not known to this plexus", st.source)
	}
}

// checkKey builds the cipher and opens the canary (ErrWrongKey).
func checkKey(k []byte, src KeySource, kdf *kdfParams, st metaState) (keyResult, error) {
	aead, err := newAEAD(k)
	if err != nil {
		return keyResult{}, err
	}
	if _, err := unsealWith(aead, canaryAAD, st.canary); err != nil {
		return keyResult{}, fmt.Errorf("%w (key source: %s)", ErrWrongKey, src)
	}
	return keyResult{aead: aead, source: src, kdf: kdf}, nil
}

func existingKeyringKey(cfg Config, st metaState) (keyResult, error) {
	account := st.account
	if account == "" {
		account = cfg.KeyringAccount
	}
	s, err := cfg.Keyring.Get(keyringService, account)
	switch {
	case keyringNotFound(err):
		return keyResult{}, fmt.Errorf("%w: this vault's master key was kept in the OS keyring (service %q, account %q), "+
			"but that item is missing; restore it (e.g. from a keyring backup) or move the vault file away to start an empty vault",
			ErrNoKey, keyringService, account)
	case err != nil:
		return keyResult{}, fmt.Errorf("%w: this vault's master key is in the OS keyring (service %q, account %q), "+
			"which is unavailable (%v); unlock or start the keyring and try again", ErrNoKey, keyringService, account, err)
	}
	k, err := parseMasterKey(s)
	if err != nil {
		return keyResult{}, fmt.Errorf("keyring item %s/%s: %w", keyringService, account, err)
	}
	return checkKey(k, KeySourceKeyring, nil, st)
}

func newVaultKey(ctx context.Context, cfg Config, o options) (keyResult, error) {
	// 1. OS keyring.
	k, krErr := keyringKey(cfg)
	if krErr == nil {
		if cfg.Getenv(envMasterKey) != "" {
			cfg.Logger.Info("OS keyring available; ignoring " + envMasterKey + " for this new vault")
		}
		return newResult(k, KeySourceKeyring, nil)
	}
	cfg.Logger.Warn("OS keyring unavailable; falling back to "+envMasterKey+", "+envPassphrase+
		", a passphrase prompt, or an explicit key file", "cause", krErr.Error())

	// 2. PLEXUS_MASTER_KEY.
	if s := cfg.Getenv(envMasterKey); s != "" {
		k, err := parseMasterKey(s)
		if err != nil {
			return keyResult{}, fmt.Errorf("%s: %w", envMasterKey, err)
		}
		return newResult(k, KeySourceEnv, nil)
	}

	// 3. Passphrase: environment, then prompt.
	if p := cfg.Getenv(envPassphrase); p != "" || cfg.Passphrase != nil {
		if p == "" {
			var err error
			if p, err = askNewPassphrase(ctx, cfg); err != nil {
				return keyResult{}, err
			}
		}
		kdf := o.kdf
		kdf.Salt = make([]byte, 16)
		if _, err := rand.Read(kdf.Salt); err != nil {
			return keyResult{}, fmt.Errorf("passphrase salt: %w", err)
		}
		cfg.Logger.Info("Master key derived from a passphrase (Argon2id)")
		return newResult(kdf.derive(p), KeySourcePassphrase, &kdf)
	}

	// 4. Explicit key file.
	if cfg.KeyFile != "" {
		k, err := readKeyFile(cfg.KeyFile, true)
		if err != nil {
			return keyResult{}, err
		}
		cfg.Logger.Warn("Master key kept in a plain key file", "path", cfg.KeyFile)
		return newResult(k, KeySourceFile, nil)
	}
	return keyResult{}, fmt.Errorf("%w: the OS keyring is unavailable (%v); %s", ErrNoKey, krErr, howToProvideKey)
}

func newResult(k []byte, src KeySource, kdf *kdfParams) (keyResult, error) {
	aead, err := newAEAD(k)
	if err != nil {
		return keyResult{}, err
	}
	return keyResult{aead: aead, source: src, kdf: kdf}, nil
}

// keyringKey returns the keyring's master key, creating it if absent. Any
// error means the keyring is unavailable for a new vault.
func keyringKey(cfg Config) ([]byte, error) {
	kr, account := cfg.Keyring, cfg.KeyringAccount
	s, err := kr.Get(keyringService, account)
	if err == nil {
		k, err := parseMasterKey(s)
		if err != nil {
			return nil, fmt.Errorf("keyring item %s/%s holds no usable master key: %w", keyringService, account, err)
		}
		return k, nil
	}
	if !keyringNotFound(err) {
		return nil, err
	}
	k, err := randomKey()
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(k)
	if err := kr.Set(keyringService, account, enc); err != nil {
		return nil, err
	}
	// Read back: some keyrings accept a Set they cannot serve later.
	got, err := kr.Get(keyringService, account)
	if err != nil {
		return nil, fmt.Errorf("read back new keyring item: %w", err)
	}
	if got != enc {
		return nil, errors.New("read back new keyring item: value differs")
	}
	return k, nil
}

func askNewPassphrase(ctx context.Context, cfg Config) (string, error) {
	for attempt := 1; attempt <= maxPassphraseAttempts; attempt++ {
		p, err := cfg.Passphrase(ctx, attempt)
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if p != "" {
			return p, nil
		}
		cfg.Logger.Warn("Empty passphrase; try again", "attempt", attempt)
	}
	return "", fmt.Errorf("%w: empty passphrase %d times", ErrNoKey, maxPassphraseAttempts)
}

func existingPassphraseKey(ctx context.Context, cfg Config, o options, st metaState) (keyResult, error) {
	if st.kdf == nil || !st.kdf.valid() {
		return keyResult{}, errors.New("meta kdf: missing or invalid Argon2id parameters")
	}
	kdf := *st.kdf
	if p := cfg.Getenv(envPassphrase); p != "" {
		r, err := checkKey(kdf.derive(p), KeySourcePassphrase, &kdf, st)
		if err == nil || cfg.Passphrase == nil {
			if err != nil {
				return keyResult{}, fmt.Errorf("%s: %w", envPassphrase, err)
			}
			return r, nil
		}
		cfg.Logger.Warn(envPassphrase + " does not open this vault; asking for the passphrase")
	}
	if cfg.Passphrase == nil {
		return keyResult{}, fmt.Errorf("%w: this vault is protected by a passphrase; set %s or run plexus in a terminal",
			ErrNoKey, envPassphrase)
	}
	for attempt := 1; attempt <= maxPassphraseAttempts; attempt++ {
		p, err := cfg.Passphrase(ctx, attempt)
		if err != nil {
			return keyResult{}, fmt.Errorf("read passphrase: %w", err)
		}
		r, err := checkKey(kdf.derive(p), KeySourcePassphrase, &kdf, st)
		if err == nil {
			return r, nil
		}
		if attempt == maxPassphraseAttempts {
			break
		}
		cfg.Logger.Warn("Wrong passphrase; try again", "attempt", attempt, "attemptsLeft", maxPassphraseAttempts-attempt)
		if err := sleepCtx(ctx, o.retryDelay*time.Duration(attempt)); err != nil {
			return keyResult{}, err
		}
	}
	return keyResult{}, fmt.Errorf("%w: wrong passphrase %d times", ErrWrongKey, maxPassphraseAttempts)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readKeyFile reads a key file (base64 of 32 bytes), refusing one readable
// by group or others. With create, a missing file gets a new random key
// (mode 0600, directory 0700).
func readKeyFile(path string, create bool) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%w: key file %s does not exist; this vault's key was in it", ErrNoKey, path)
		}
		return createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %#o, readable by others; run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	k, err := parseMasterKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file directory: %w", err)
	}
	k, err := randomKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return k, nil
}
