package vault

import (
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const defaultLockTimeout = 500 * time.Millisecond

// Vault is the one owner of the bbolt file and the master key. It is safe
// for concurrent use. Every secret it stores is sealed with AES-256-GCM under
// a data key derived (HKDF-SHA256) from the master key, with AAD naming the
// record, e.g. "session-value|acme|<sid>|<key>".
type Vault struct {
	db     *bolt.DB
	aead   cipher.AEAD
	source KeySource
	now    func() time.Time
	log    *slog.Logger
	subs   subscribers // see Subscribe

	closeOnce sync.Once
	closeErr  error

	// The master key and where it is kept: a key move (keymove.go)
	// changes the place, never the key. keyMu guards source, keyFile and
	// keyFileGenerated, and serializes moves.
	keyMu            sync.Mutex
	master           []byte
	keyFile          string // the key file used, when source is KeySourceFile
	keyFileGenerated bool   // keyFile is the generated <dir>/plexus.key
	path             string // the bbolt file
	keyring          Keyring
	keyringAccount   string // Config.KeyringAccount (the default account)
	opts             options
}

// options are the knobs tests change; Open uses defaultOptions.
type options struct {
	migrations []migration
	retryDelay time.Duration // base wait after a wrong passphrase
	kdf        kdfParams     // Argon2id cost for new passphrase vaults
	// removeKeyFile removes a key file a key move made unneeded; nil =
	// os.Remove. Tests check what is true when it is called.
	removeKeyFile func(path string) error
}

func defaultOptions() options {
	return options{
		migrations: defaultMigrations(),
		retryDelay: time.Second,
		kdf:        defaultKDF(),
	}
}

// Open opens (creating if needed) the vault at cfg.Path: takes the file lock
// (ErrLocked if held), obtains the master key (for a new vault: a key given
// explicitly, else the OS keyring, else a passphrase typed at a terminal,
// else a generated key file in the vault's directory; see newVaultKey),
// checks it against a sealed
// canary (ErrWrongKey), and runs schema migrations (ErrSchemaTooNew if the
// file is newer than this binary; the file is then left untouched). It
// records which source holds the key so a later run does not silently make a
// second one.
func Open(ctx context.Context, cfg Config) (*Vault, error) {
	return openWith(ctx, cfg, defaultOptions())
}

func (c *Config) setDefaults() {
	if c.LockTimeout <= 0 {
		c.LockTimeout = defaultLockTimeout
	}
	if c.Keyring == nil {
		c.Keyring = SystemKeyring{}
	}
	if c.KeyringAccount == "" {
		c.KeyringAccount = defaultKeyringAccount
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// metaState is what Open reads from meta before it has a key.
type metaState struct {
	version int
	source  KeySource
	account string
	keyFile string // key_file as recorded (KeySourceFile vaults)
	canary  []byte
	kdf     *kdfParams
	// wrapped is the master key sealed under a key derived from the
	// passphrase (a vault moved to a passphrase), nil when the passphrase
	// derives the master key itself.
	wrapped []byte
}

func (m metaState) isNew() bool { return m.canary == nil }

func openWith(ctx context.Context, cfg Config, o options) (*Vault, error) {
	p, err := begin(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	kr, err := obtainKey(ctx, p.cfg, o, p.st)
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("open vault %s: %w", p.cfg.Path, err)
	}
	return p.finish(kr)
}

// opening is a vault file whose lock is taken and whose meta is read, but
// whose master key is not known yet: what Open does before and after it
// obtains the key (and what a Locked vault holds while it waits).
type opening struct {
	db  *bolt.DB
	cfg Config // defaults filled in
	o   options
	st  metaState
}

// begin takes the file lock (ErrLocked if held), makes the file private
// and reads what meta says about the key (ErrSchemaTooNew for a file
// newer than this binary).
func begin(ctx context.Context, cfg Config, o options) (*opening, error) {
	if cfg.Path == "" {
		return nil, invalidf("vault path: must not be empty")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("open vault: create directory: %w", err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open vault %s: %w (file lock not free after %s)", cfg.Path, ErrLocked, cfg.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", cfg.Path, err)
	}
	p := &opening{db: db, cfg: cfg, o: o}
	if fi, err := os.Stat(cfg.Path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		cfg.Logger.Warn("Vault file was readable by others; setting mode 0600", "path", cfg.Path, "mode", fi.Mode().Perm().String())
		if err := os.Chmod(cfg.Path, 0o600); err != nil {
			p.abort()
			return nil, fmt.Errorf("open vault %s: chmod 0600: %w", cfg.Path, err)
		}
	}
	if p.st, err = readMeta(db); err != nil {
		p.abort()
		return nil, fmt.Errorf("open vault %s: %w", cfg.Path, err)
	}
	if p.st.version > len(o.migrations) {
		p.abort()
		return nil, fmt.Errorf("open vault %s: %w: file version %d, this binary knows up to %d; use a newer plexus",
			cfg.Path, ErrSchemaTooNew, p.st.version, len(o.migrations))
	}
	return p, nil
}

// abort releases the file.
func (p *opening) abort() { _ = p.db.Close() }

// finish opens the vault with the key obtained: it runs the migrations,
// records a new vault's key source, and compacts the file after a
// migration that leaves old secrets in freed pages. On failure the file is
// released.
func (p *opening) finish(kr keyResult) (*Vault, error) {
	cfg, o, st, db := p.cfg, p.o, p.st, p.db
	ok := false
	defer func() {
		if !ok && db != nil {
			_ = db.Close()
		}
	}()
	v := &Vault{db: db, aead: kr.aead, source: kr.source, now: cfg.Now, log: cfg.Logger,
		master: kr.key, keyFile: kr.keyFilePath, keyFileGenerated: kr.generated,
		path: cfg.Path, keyring: cfg.Keyring, keyringAccount: cfg.KeyringAccount, opts: o}

	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := migrate(tx, kr.aead, o.migrations); err != nil {
			return err
		}
		if !st.isNew() {
			return nil
		}
		return writeKeyMeta(tx, kr, cfg, v.now())
	})
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", cfg.Path, err)
	}
	if needsScrub(st.version, o.migrations, st.isNew()) {
		ndb, err := compactFile(db, cfg.Path, cfg.LockTimeout)
		if ndb == nil {
			db = nil
			return nil, fmt.Errorf("open vault %s: %w", cfg.Path, err)
		}
		if err != nil {
			cfg.Logger.Warn("Could not compact the vault file after migrating it; freed pages may keep old session ids until reused", "path", cfg.Path, "error", err)
		}
		db, v.db = ndb, ndb
	}
	ok = true
	return v, nil
}

func readMeta(db *bolt.DB) (metaState, error) {
	var st metaState
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		if st.version, err = readSchemaVersion(tx); err != nil {
			return err
		}
		m := tx.Bucket(bucketMeta)
		if m == nil {
			return nil
		}
		st.source = KeySource(m.Get(metaKeySource))
		if st.source == keySourceWrapped {
			// A passphrase that unwraps the key (see keymove.go).
			st.source = KeySourcePassphrase
			st.wrapped = append([]byte(nil), m.Get(metaWrappedKey)...)
			if len(st.wrapped) == 0 {
				return errors.New("meta: a wrapped-key vault without its wrapped key")
			}
		}
		st.account = string(m.Get(metaKeyringAccount))
		st.keyFile = string(m.Get(metaKeyFile))
		if c := m.Get(metaCanary); c != nil {
			st.canary = append([]byte(nil), c...)
		}
		if raw := m.Get(metaKDF); raw != nil {
			var p kdfParams
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("meta kdf: %w", err)
			}
			st.kdf = &p
		}
		return nil
	})
	return st, err
}

func writeKeyMeta(tx *bolt.Tx, kr keyResult, cfg Config, now time.Time) error {
	m := tx.Bucket(bucketMeta)
	canary, err := sealWith(kr.aead, canaryAAD, canaryPlain)
	if err != nil {
		return err
	}
	puts := map[string][]byte{
		string(metaKeySource): []byte(kr.source),
		string(metaCanary):    canary,
		string(metaCreatedAt): []byte(now.UTC().Format(time.RFC3339Nano)),
	}
	if kr.source == KeySourceKeyring {
		puts[string(metaKeyringAccount)] = []byte(cfg.KeyringAccount)
	}
	if kr.source == KeySourceFile && kr.keyFile != "" {
		puts[string(metaKeyFile)] = []byte(kr.keyFile)
	}
	if kr.kdf != nil {
		raw, err := json.Marshal(kr.kdf)
		if err != nil {
			return err
		}
		puts[string(metaKDF)] = raw
	}
	for k, val := range puts {
		if err := m.Put([]byte(k), val); err != nil {
			return fmt.Errorf("write meta %s: %w", k, err)
		}
	}
	return nil
}

// Close releases the file lock and drops every change subscriber. Safe to
// call twice.
func (v *Vault) Close() error {
	v.closeOnce.Do(func() {
		v.closeErr = v.db.Close()
		v.subs.mu.Lock()
		v.subs.fns = nil
		v.subs.mu.Unlock()
	})
	return v.closeErr
}

// KeySource reports where this vault's master key is kept.
func (v *Vault) KeySource() KeySource {
	v.keyMu.Lock()
	defer v.keyMu.Unlock()
	return v.source
}

// invalidError is a validation failure; it matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
