package vault

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

const (
	envMasterKey  = "PLEXUS_MASTER_KEY"
	envPassphrase = "PLEXUS_PASSPHRASE"

	maxPassphraseAttempts = 3
	canaryAAD             = "meta|canary"
)

var canaryPlain = []byte("plexus vault canary v1")

// metaKeyFile records where a KeySourceFile vault's key file is: an
// absolute path, or one relative to the vault's directory (the generated
// plexus.key).
var metaKeyFile = []byte("key_file")

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
	// Key file vaults only: keyFile is the path recorded in meta for a new
	// vault (relative to the data directory for the generated one), and
	// keyFilePath the file actually used; generated says it is the
	// generated <dir>/plexus.key.
	keyFile, keyFilePath string
	generated            bool
	key                  []byte // the master key itself
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
		return existingKeyFile(cfg, st)
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
	return keyResult{aead: aead, source: src, kdf: kdf, key: k}, nil
}

// existingKeyFile reads the key file of a vault: Config.KeyFile when given,
// else the one recorded in meta.
func existingKeyFile(cfg Config, st metaState) (keyResult, error) {
	path := cfg.KeyFile
	if path == "" {
		path = resolveKeyFile(cfg.Path, st.keyFile)
	}
	if path == "" {
		return keyResult{}, fmt.Errorf("%w: this vault's master key is in a key file; pass --key-file PATH", ErrNoKey)
	}
	k, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keyResult{}, fmt.Errorf("%w: key file %s does not exist; this vault's master key was in it (restore it from a backup)",
			ErrNoKey, path)
	}
	if err != nil {
		return keyResult{}, err
	}
	r, err := checkKey(k, KeySourceFile, nil, st)
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	r.keyFilePath = path
	r.generated = cfg.KeyFile == "" && st.keyFile == KeyFileName
	return r, err
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

// newVaultKey picks the master key of a new vault, in this order:
//
//  1. a key the user gave explicitly: PLEXUS_MASTER_KEY, PLEXUS_PASSPHRASE
//     or Config.KeyFile (then the OS keyring is not touched at all);
//  2. the OS keyring, when one is available (a new random key is stored there);
//  3. a passphrase typed at a terminal (Config.NewPassphrase, asked twice);
//  4. with none of these (a server, a container, CI, a desktop app without
//     a keyring): a new random key in <data dir>/plexus.key, mode 0600,
//     with one warning naming the stronger options.
//
// Each source is one small function returning a keyResult, so a new source
// (or a UI that moves a vault from one source to another) adds a case here
// and in obtainKey, and nothing else.
func newVaultKey(ctx context.Context, cfg Config, o options) (keyResult, error) {
	r, found, krErr, err := givenOrKeyringKey(cfg, o)
	if err != nil || found {
		return r, err
	}

	// 3. A passphrase typed at a terminal; an empty answer declines it.
	if cfg.NewPassphrase != nil || cfg.Passphrase != nil {
		p, err := askNewPassphrase(ctx, cfg)
		if err != nil {
			return keyResult{}, err
		}
		if p != "" {
			return newPassphraseResult(cfg, o, p)
		}
	}

	// 4. A generated key file in the data directory.
	return generatedKeyFile(cfg, krErr)
}

// givenOrKeyringKey is steps 1 and 2 of newVaultKey: a key the user gave
// explicitly, else the OS keyring. found is false when neither gave one;
// krErr then says why the keyring could not.
func givenOrKeyringKey(cfg Config, o options) (r keyResult, found bool, krErr, err error) {
	// 1. Explicit choices.
	if s := cfg.Getenv(envMasterKey); s != "" {
		k, err := parseMasterKey(s)
		if err != nil {
			return keyResult{}, false, nil, fmt.Errorf("%s: %w", envMasterKey, err)
		}
		r, err = newResult(k, KeySourceEnv, nil)
		return r, true, nil, err
	}
	if p := cfg.Getenv(envPassphrase); p != "" {
		if err := checkNewPassphrase(p); err != nil {
			return keyResult{}, false, nil, fmt.Errorf("%s: %w", envPassphrase, err)
		}
		r, err = newPassphraseResult(cfg, o, p)
		return r, true, nil, err
	}
	if cfg.KeyFile != "" {
		r, err = explicitKeyFile(cfg)
		return r, true, nil, err
	}

	// 2. OS keyring.
	k, krErr := keyringKey(cfg)
	if krErr == nil {
		r, err = newResult(k, KeySourceKeyring, nil)
		return r, true, nil, err
	}
	cfg.Logger.Debug("OS keyring unavailable for the new vault", "cause", krErr.Error())
	return keyResult{}, false, krErr, nil
}

// MinPassphraseLen is the least number of characters (Unicode code points)
// of a new vault's passphrase. Vaults made with a shorter one still open.
const MinPassphraseLen = 12

// checkNewPassphrase enforces MinPassphraseLen; its error never contains
// the passphrase.
func checkNewPassphrase(p string) error {
	if n := utf8.RuneCountInString(p); n < MinPassphraseLen {
		return invalidf("a new vault's passphrase needs at least %d characters, got %d", MinPassphraseLen, n)
	}
	return nil
}

func newPassphraseResult(cfg Config, o options, p string) (keyResult, error) {
	kdf := o.kdf
	kdf.Salt = make([]byte, 16)
	if _, err := rand.Read(kdf.Salt); err != nil {
		return keyResult{}, fmt.Errorf("passphrase salt: %w", err)
	}
	cfg.Logger.Info("Master key derived from a passphrase (Argon2id)")
	return newResult(kdf.derive(p), KeySourcePassphrase, &kdf)
}

// explicitKeyFile uses (creating if missing) the key file the user named.
// Its absolute path is recorded in meta, so later starts find it alone.
func explicitKeyFile(cfg Config) (keyResult, error) {
	path, err := filepath.Abs(cfg.KeyFile)
	if err != nil {
		return keyResult{}, fmt.Errorf("key file %s: %w", cfg.KeyFile, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return keyResult{}, fmt.Errorf("key file directory: %w", err)
	}
	k, created, err := loadOrCreateKeyFile(path)
	if err != nil {
		return keyResult{}, err
	}
	if created {
		cfg.Logger.Warn("Master key kept in a plain key file, as asked", "keyFile", path)
	}
	r, err := newResult(k, KeySourceFile, nil)
	r.keyFile, r.keyFilePath = path, path
	return r, err
}

// generatedKeyFile is the last resort for a new vault: a random key in
// <data dir>/plexus.key (recorded in meta relative to the data directory,
// so the directory can move). A file already there (left by a vault that
// was deleted) is used if it is a private regular file.
func generatedKeyFile(cfg Config, krErr error) (keyResult, error) {
	path := filepath.Join(filepath.Dir(cfg.Path), KeyFileName)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	k, _, err := loadOrCreateKeyFile(path)
	if err != nil {
		return keyResult{}, fmt.Errorf("%w: no OS keyring (%v), no terminal to ask for a passphrase, and no key file: %v; %s",
			ErrNoKey, krErr, err, howToProvideKey)
	}
	cfg.Logger.Warn("No OS keyring and no terminal: the master key is kept in a plain file (mode 0600) that opens the vault; "+
		"for stronger protection use an OS keyring, a passphrase (PLEXUS_PASSPHRASE or a terminal) or PLEXUS_MASTER_KEY",
		"keyFile", path)
	r, err := newResult(k, KeySourceFile, nil)
	r.keyFile, r.keyFilePath, r.generated = KeyFileName, path, true
	return r, err
}

// KeyFileName is the key file Open generates in the vault's directory
// when it has no other place for a new vault's master key.
const KeyFileName = "plexus.key"

// KeyInfo says where a vault's master key is kept, for status displays.
type KeyInfo struct {
	Source KeySource `json:"source"`
	// File is the key file's path when Source is KeySourceFile and the
	// path is known.
	File string `json:"file,omitempty"`
	// Generated is true when File is the key file Plexus generated in the
	// data directory for want of a better place (not one the user named):
	// the vault offers to move such a key (MoveKeyToKeyring,
	// ProtectWithPassphrase).
	Generated bool `json:"generated,omitempty"`
}

// Warning is one line of advice when the key is weakly kept (a plain key
// file), else "".
func (k KeyInfo) Warning() string {
	if k.Source != KeySourceFile {
		return ""
	}
	return "the master key is kept in a plain file: anyone who can read it can open the vault; " +
		"an OS keyring, a passphrase (PLEXUS_PASSPHRASE) or PLEXUS_MASTER_KEY protects it better"
}

// KeyInfo reports where this vault's master key is kept.
func (v *Vault) KeyInfo() KeyInfo {
	v.keyMu.Lock()
	defer v.keyMu.Unlock()
	return KeyInfo{Source: v.source, File: v.keyFile, Generated: v.keyFile != "" && v.keyFileGenerated}
}

// resolveKeyFile turns the key_file path recorded in meta into a path:
// relative ones are relative to the vault file's directory.
func resolveKeyFile(vaultPath, stored string) string {
	if stored == "" || filepath.IsAbs(stored) {
		return stored
	}
	return filepath.Join(filepath.Dir(vaultPath), filepath.Clean(stored))
}

func newResult(k []byte, src KeySource, kdf *kdfParams) (keyResult, error) {
	aead, err := newAEAD(k)
	if err != nil {
		return keyResult{}, err
	}
	return keyResult{aead: aead, source: src, kdf: kdf, key: k}, nil
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

// askNewPassphrase asks for a new vault's passphrase: through
// Config.NewPassphrase (which asks twice), else Config.Passphrase. "" means
// the user declined (the vault then falls back to a key file); one shorter
// than MinPassphraseLen is asked again, at most maxPassphraseAttempts times.
func askNewPassphrase(ctx context.Context, cfg Config) (string, error) {
	for attempt := 1; attempt <= maxPassphraseAttempts; attempt++ {
		var (
			p   string
			err error
		)
		if cfg.NewPassphrase != nil {
			p, err = cfg.NewPassphrase(ctx)
		} else {
			p, err = cfg.Passphrase(ctx, attempt)
		}
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if p == "" {
			return "", nil
		}
		if err := checkNewPassphrase(p); err != nil {
			cfg.Logger.Warn("Passphrase too short; try again", "minLength", MinPassphraseLen, "attempt", attempt)
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("%w: no passphrase of at least %d characters in %d attempts", ErrNoKey, MinPassphraseLen, maxPassphraseAttempts)
}

func existingPassphraseKey(ctx context.Context, cfg Config, o options, st metaState) (keyResult, error) {
	if st.kdf == nil || !st.kdf.valid() {
		return keyResult{}, errors.New("meta kdf: missing or invalid Argon2id parameters")
	}
	kdf := *st.kdf
	if p := cfg.Getenv(envPassphrase); p != "" {
		r, err := passphraseKey(p, &kdf, st)
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
		r, err := passphraseKey(p, &kdf, st)
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

// maxKeyFileBytes bounds what is read from a key file (a real one is 45).
const maxKeyFileBytes = 4 << 10

// readKeyFile reads a key file (base64 of 32 bytes). It opens the path
// once, without following a symbolic link as the last component and without
// blocking on a FIFO, then checks that handle (fstat): a regular file that
// group and others cannot read. Nothing is checked by path and then opened
// again, so the file checked is the file read. A missing file gives an
// error wrapping fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|keyFileOpenFlags, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("key file %s is a symbolic link; refusing it (name the file itself)", path)
		}
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := checkKeyFileHandle(path, fi); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if len(raw) > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %s: larger than %d bytes; not a plexus key file", path, maxKeyFileBytes)
	}
	k, err := parseMasterKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// checkKeyFileHandle checks what fstat said about an open key file.
func checkKeyFileHandle(path string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("key file %s is a symbolic link; refusing it (name the file itself)", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("key file %s has mode %#o, readable by others; run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	return nil
}

// loadOrCreateKeyFile reads the key file at path, or creates it with a
// new random key when it does not exist. created says which.
func loadOrCreateKeyFile(path string) (k []byte, created bool, err error) {
	for range 2 {
		k, err = readKeyFile(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return k, false, err
		}
		k, err = createKeyFile(path)
		if !errors.Is(err, fs.ErrExist) {
			return k, err == nil, err
		}
		// Created by someone else meanwhile: read theirs.
	}
	return nil, false, fmt.Errorf("key file %s: appeared and vanished while opening it", path)
}

// createKeyFile writes a new random key to path: O_EXCL (never over an
// existing file or through a symbolic link), mode 0600, synced together with
// its directory entry, so the key is on disk before the vault names it. An
// existing path gives an error wrapping fs.ErrExist.
func createKeyFile(path string) ([]byte, error) {
	k, err := randomKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|keyFileOpenFlags, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("create key file: %w", err)
	}
	cerr := f.Chmod(0o600) // whatever the umask
	if errors.Is(cerr, errors.ErrUnsupported) {
		cerr = nil
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	serr := f.Sync()
	if err := errors.Join(cerr, werr, serr, f.Close()); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write key file %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return k, nil
}

// syncDir makes a new directory entry durable (best effort: not every
// system can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
