package vault

import (
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

const (
	keyringService        = "plexus"
	defaultKeyringAccount = "master-key"
	defaultKeyringTimeout = 5 * time.Second
)

// SystemKeyring is the OS keyring (go-keyring: Secret Service, macOS
// Keychain, Windows Credential Manager) with a bound on every call, because a
// locked desktop keyring may block on an unlock prompt. Get returns an error
// wrapping both ErrNotFound and go-keyring's ErrNotFound when the item is
// absent. Open uses it when Config.Keyring is nil.
type SystemKeyring struct {
	// Timeout bounds each call; 0 means 5s. A call that times out keeps
	// running in the background until the keyring answers.
	Timeout time.Duration
}

var _ Keyring = SystemKeyring{}

// Get reads an item.
func (k SystemKeyring) Get(service, user string) (string, error) {
	var s string
	err := k.call("get", func() error {
		var err error
		s, err = keyring.Get(service, user)
		return err
	})
	return s, err
}

// Set writes an item.
func (k SystemKeyring) Set(service, user, password string) error {
	return k.call("set", func() error { return keyring.Set(service, user, password) })
}

// Delete removes an item.
func (k SystemKeyring) Delete(service, user string) error {
	return k.call("delete", func() error { return keyring.Delete(service, user) })
}

func (k SystemKeyring) call(op string, fn func() error) error {
	d := k.Timeout
	if d <= 0 {
		d = defaultKeyringTimeout
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if errors.Is(err, keyring.ErrNotFound) {
			return fmt.Errorf("keyring %s: %w (%w)", op, ErrNotFound, err)
		}
		if err != nil {
			return fmt.Errorf("keyring %s: %w", op, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("keyring %s: no answer within %s (locked keyring waiting for an unlock prompt?)", op, d)
	}
}

// keyringNotFound reports whether a Keyring error means "item absent" (as
// opposed to "keyring unavailable").
func keyringNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, keyring.ErrNotFound)
}
