// Package vaulttest opens throwaway vaults for tests of other packages: a
// bbolt file in t.TempDir(), an in-memory keyring, and t.Cleanup to close it.
// It never touches the OS keyring or the process environment. Tests only.
package vaulttest

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// New opens a fresh vault in t.TempDir() with an in-memory keyring. It is
// closed by t.Cleanup.
func New(t testing.TB) *vault.Vault {
	t.Helper()
	return NewAt(t, filepath.Join(t.TempDir(), "plexus.db"), NewKeyring())
}

// NewAt opens (or reopens) the vault at path with the keyring kr. To test
// persistence, Close the first vault and call NewAt again with the same path
// and keyring. The vault is closed by t.Cleanup.
func NewAt(t testing.TB, path string, kr vault.Keyring) *vault.Vault {
	t.Helper()
	return Open(t, vault.Config{Path: path, Keyring: kr})
}

// Open opens a vault with cfg after filling test defaults: Path in
// t.TempDir(), a new in-memory Keyring, an empty environment (Getenv) and a
// 100ms LockTimeout. Use it to inject a clock (cfg.Now). The vault is closed
// by t.Cleanup.
func Open(t testing.TB, cfg vault.Config) *vault.Vault {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "plexus.db")
	}
	if cfg.Keyring == nil {
		cfg.Keyring = NewKeyring()
	}
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.LockTimeout == 0 {
		cfg.LockTimeout = 100 * time.Millisecond
	}
	v, err := vault.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("vaulttest: open vault: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// Keyring is an in-memory vault.Keyring. If Err is set, every call fails
// with it (a keyring that is unavailable). Safe for concurrent use.
type Keyring struct {
	mu    sync.Mutex
	items map[string]string
	Err   error
}

// NewKeyring returns an empty, working in-memory keyring.
func NewKeyring() *Keyring { return &Keyring{items: map[string]string{}} }

// Get returns an item or an error wrapping vault.ErrNotFound.
func (k *Keyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Err != nil {
		return "", k.Err
	}
	s, ok := k.items[service+"\x00"+user]
	if !ok {
		return "", fmt.Errorf("keyring item %s/%s: %w", service, user, vault.ErrNotFound)
	}
	return s, nil
}

// Set stores an item.
func (k *Keyring) Set(service, user, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Err != nil {
		return k.Err
	}
	if k.items == nil {
		k.items = map[string]string{}
	}
	k.items[service+"\x00"+user] = password
	return nil
}

// Delete removes an item (an error wrapping vault.ErrNotFound if absent).
func (k *Keyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Err != nil {
		return k.Err
	}
	if _, ok := k.items[service+"\x00"+user]; !ok {
		return fmt.Errorf("keyring item %s/%s: %w", service, user, vault.ErrNotFound)
	}
	delete(k.items, service+"\x00"+user)
	return nil
}

// Len reports how many items the keyring holds.
func (k *Keyring) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.items)
}
