package vault

// This file is the contract the rest of Plexus codes against. The helper
// implementing the vault may move these declarations into other files of the
// package, but must keep every exported name, signature and documented
// behaviour.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound is returned when a tenant, user, token, session or session
	// value does not exist (or no longer exists).
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating a record whose id is taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid wraps validation failures; the wrapping error names the
	// field and the rule, e.g. `tenant id "API": reserved word`.
	ErrInvalid = errors.New("invalid")
	// ErrLocked is returned by Open when another process holds the data
	// file (bbolt's exclusive lock could not be taken within Config.LockTimeout).
	ErrLocked = errors.New("vault is in use by another plexus process")
	// ErrWrongKey is returned by Open when the master key it obtained does
	// not open this vault (for example a mistyped passphrase).
	ErrWrongKey = errors.New("master key does not open this vault")
	// ErrNoKey is returned by Open when the master key cannot be had: the
	// source an existing vault recorded is unavailable (keyring locked, key
	// file missing, no passphrase given), or a new vault's key file could
	// not be written.
	ErrNoKey = errors.New("no master key available")
	// ErrDecrypt is returned when a sealed value does not open: wrong key,
	// tampered bytes, or a value moved to another record (AAD mismatch).
	ErrDecrypt = errors.New("sealed value does not open")
	// ErrTokenExpired and ErrTokenRevoked are returned by ResolveToken.
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// KeySource says where the master key came from.
type KeySource string

// Key sources. A new vault takes an explicit one first (PLEXUS_MASTER_KEY,
// PLEXUS_PASSPHRASE, Config.KeyFile), else the keyring, else a passphrase
// typed at a terminal, else a generated key file; the vault records its
// source and later opens use that one.
const (
	KeySourceKeyring    KeySource = "keyring"    // OS keyring, service "plexus"
	KeySourceEnv        KeySource = "env"        // PLEXUS_MASTER_KEY (base64 of 32 bytes)
	KeySourcePassphrase KeySource = "passphrase" // Argon2id of a passphrase (PLEXUS_PASSPHRASE or typed)
	KeySourceFile       KeySource = "file"       // a 0600 key file: Config.KeyFile, or <dir>/plexus.key as a last resort
)

// Keyring is the small interface over the OS keyring (go-keyring's shape).
// Get returns an error wrapping ErrNotFound when the item is absent; any
// other error means the keyring is unavailable.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// Config says how to open a vault. Zero values are sensible defaults except
// Path, which is required.
type Config struct {
	// Path of the bbolt file (usually <data dir>/plexus.db). Its directory
	// is created with mode 0700 if missing; the file has mode 0600.
	Path string
	// LockTimeout bounds the wait for bbolt's file lock; 0 means 500ms.
	// Never waits forever.
	LockTimeout time.Duration
	// Keyring to use; nil means the system keyring (go-keyring) with a
	// timeout around every call.
	Keyring Keyring
	// KeyringAccount is the keyring account (user) of the master key item
	// under service "plexus"; "" means "master-key". Tests use a unique one.
	KeyringAccount string
	// Getenv reads PLEXUS_MASTER_KEY and PLEXUS_PASSPHRASE; nil means os.Getenv.
	Getenv func(string) string
	// Passphrase, if set, is asked for the passphrase of an existing
	// passphrase vault when PLEXUS_PASSPHRASE is unset or wrong. attempt
	// starts at 1; after a wrong passphrase Open waits a little and asks
	// again (at most 3 attempts), then returns ErrWrongKey. Without
	// NewPassphrase it is also asked for a new vault's passphrase.
	Passphrase func(ctx context.Context, attempt int) (string, error)
	// NewPassphrase, if set, is asked for a new vault's passphrase when no
	// key was given explicitly and the keyring is unavailable (a terminal
	// asks twice and compares). "" declines: the vault then keeps a
	// generated key in a key file. An answer shorter than MinPassphraseLen
	// is asked again. Nil with Passphrase nil means no one can be asked.
	NewPassphrase func(ctx context.Context) (string, error)
	// KeyFile is a plain key file the user explicitly asked for (created
	// with a new random key if missing). "" = the one the vault recorded,
	// if any. Its path is recorded, so later opens need not repeat it.
	KeyFile string
	// Logger for warnings (keyring unavailable, fallback used); nil = discard.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Tenant is one entity served at /{tenant}/mcp.
type Tenant struct {
	ID        string    `json:"entity_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// HasHostAppSecret is true when the tenant has its own host-app secret.
	HasHostAppSecret bool `json:"has_host_app_secret"`
}

// User is a person registered in a tenant by a host application (or the
// tenant's local owner, used by the stdio bridge).
type User struct {
	TenantID   string    `json:"entity_id"`
	ID         string    `json:"persistent_user_id"`
	HostUserID string    `json:"user_id_from_host_app"`
	CreatedAt  time.Time `json:"created_at"`
}

// TokenInfo describes a user token; the token itself is never stored, only
// its SHA-256.
type TokenInfo struct {
	ID        string    `json:"token_id"` // short, non-secret id (hex prefix of the hash)
	TenantID  string    `json:"entity_id"`
	UserID    string    `json:"persistent_user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero = never
	Revoked   bool      `json:"revoked"`
}

// Session is a legacy-era (2025-11-25 and older) MCP session.
type Session struct {
	ID        string    `json:"session_id"`
	TenantID  string    `json:"entity_id"`
	UserID    string    `json:"persistent_user_id"` // "" for guests
	Protocol  string    `json:"protocol_version"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
	// Client is what the MCP layer keeps about the client (info,
	// capabilities): opaque JSON, not secret, at most 16 KiB.
	Client json.RawMessage `json:"client,omitempty"`
}
