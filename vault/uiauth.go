package vault

// This file holds what the admin UI's login needs from the vault: the keys
// of its session cookies (sealed) and single-use login tickets (hashed).
// Both live in the meta bucket, so no schema migration is needed.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Meta keys of the admin UI's login.
var (
	// metaUISessionKeys holds the sealed UISessionKeys (AAD uiSessionKeysAAD).
	metaUISessionKeys = []byte("ui_session_keys")
	// metaUILoginTickets holds the pending login tickets: JSON of
	// {sha256 hex of the ticket: expiry}. The tickets themselves are never stored.
	metaUILoginTickets = []byte("ui_login_tickets")
)

const (
	uiSessionKeysAAD = "meta|ui-session-keys"
	// UILoginTicketPrefix starts every login ticket.
	UILoginTicketPrefix = "plxt_"
	// uiTicketBytes is the ticket's randomness (256 bits).
	uiTicketBytes = 32
	// MaxUILoginTicketTTL bounds a login ticket's lifetime.
	MaxUILoginTicketTTL = time.Minute
	// maxPendingUITickets bounds the pending tickets; minting one more
	// forgets the oldest.
	maxPendingUITickets = 16
)

// uiTicketLen is the length of a well-formed ticket.
var uiTicketLen = len(UILoginTicketPrefix) + base64.RawURLEncoding.EncodedLen(uiTicketBytes)

// UISessionKeys are the keys of the admin UI's session cookies: Hash
// authenticates them (HMAC-SHA256, 64 bytes), Block encrypts them
// (AES-256, 32 bytes). String and LogValue never print them.
type UISessionKeys struct {
	Hash  []byte
	Block []byte
}

// String hides the keys.
func (UISessionKeys) String() string { return "[redacted]" }

// GoString hides the keys from %#v.
func (UISessionKeys) GoString() string { return "vault.UISessionKeys{[redacted]}" }

// LogValue hides the keys from log/slog.
func (UISessionKeys) LogValue() slog.Value { return slog.StringValue("[redacted]") }

const (
	uiHashKeyLen  = 64
	uiBlockKeyLen = 32
)

func newUISessionKeys() (UISessionKeys, error) {
	b := make([]byte, uiHashKeyLen+uiBlockKeyLen)
	if _, err := rand.Read(b); err != nil {
		return UISessionKeys{}, fmt.Errorf("ui session keys: %w", err)
	}
	return UISessionKeys{Hash: b[:uiHashKeyLen], Block: b[uiHashKeyLen:]}, nil
}

// UISessionKeys returns the admin UI's session cookie keys, generating and
// storing them (sealed) on first use.
func (v *Vault) UISessionKeys(ctx context.Context) (UISessionKeys, error) {
	if err := ctx.Err(); err != nil {
		return UISessionKeys{}, err
	}
	var sealed []byte
	if err := v.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(metaUISessionKeys); raw != nil {
			sealed = append([]byte(nil), raw...)
		}
		return nil
	}); err != nil {
		return UISessionKeys{}, err
	}
	if sealed != nil {
		return v.openUISessionKeys(sealed)
	}
	return v.storeUISessionKeys(ctx, false)
}

// RotateUISessionKeys replaces the admin UI's session cookie keys with new
// ones, so every session cookie issued so far stops working (logout).
func (v *Vault) RotateUISessionKeys(ctx context.Context) (UISessionKeys, error) {
	if err := ctx.Err(); err != nil {
		return UISessionKeys{}, err
	}
	return v.storeUISessionKeys(ctx, true)
}

// storeUISessionKeys makes and stores new keys; unless replace, keys
// another caller stored meanwhile win (and are returned).
func (v *Vault) storeUISessionKeys(_ context.Context, replace bool) (UISessionKeys, error) {
	k, err := newUISessionKeys()
	if err != nil {
		return UISessionKeys{}, err
	}
	sealed, err := v.Seal(uiSessionKeysAAD, append(append([]byte(nil), k.Hash...), k.Block...))
	if err != nil {
		return UISessionKeys{}, err
	}
	var existing []byte
	err = v.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if raw := m.Get(metaUISessionKeys); raw != nil && !replace {
			existing = append([]byte(nil), raw...)
			return nil
		}
		return m.Put(metaUISessionKeys, sealed)
	})
	if err != nil {
		return UISessionKeys{}, fmt.Errorf("store ui session keys: %w", err)
	}
	if existing != nil {
		return v.openUISessionKeys(existing)
	}
	return k, nil
}

func (v *Vault) openUISessionKeys(sealed []byte) (UISessionKeys, error) {
	pt, err := v.Unseal(uiSessionKeysAAD, sealed)
	if err != nil {
		return UISessionKeys{}, fmt.Errorf("ui session keys: %w", err)
	}
	if len(pt) != uiHashKeyLen+uiBlockKeyLen {
		return UISessionKeys{}, fmt.Errorf("ui session keys: %w: %d bytes", ErrDecrypt, len(pt))
	}
	return UISessionKeys{Hash: pt[:uiHashKeyLen], Block: pt[uiHashKeyLen:]}, nil
}

// ValidUILoginTicket checks a login ticket's form: the prefix "plxt_" and
// 43 characters of unpadded base64url. It says nothing about the ticket
// being known; its error never contains the input.
func ValidUILoginTicket(t string) error {
	if len(t) != uiTicketLen || !strings.HasPrefix(t, UILoginTicketPrefix) {
		return invalidf("login ticket: want %q and %d characters", UILoginTicketPrefix, uiTicketLen-len(UILoginTicketPrefix))
	}
	for i := len(UILoginTicketPrefix); i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return invalidf("login ticket: not base64url")
		}
	}
	return nil
}

func uiTicketHash(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// readUITickets decodes the pending tickets; a record that does not decode
// counts as none pending (tickets live a minute; nothing is lost).
func readUITickets(m *bolt.Bucket) map[string]time.Time {
	out := map[string]time.Time{}
	if raw := m.Get(metaUILoginTickets); raw != nil {
		if err := json.Unmarshal(raw, &out); err != nil {
			return map[string]time.Time{}
		}
	}
	return out
}

// NewUILoginTicket mints a single-use login ticket for the admin UI that
// expires after ttl (at most MaxUILoginTicketTTL; 0 means that). Only its
// SHA-256 is stored. Expired tickets are dropped; when
// maxPendingUITickets are pending, the oldest is forgotten.
func (v *Vault) NewUILoginTicket(ctx context.Context, ttl time.Duration) (ticket string, expiresAt time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	if ttl <= 0 || ttl > MaxUILoginTicketTTL {
		ttl = MaxUILoginTicketTTL
	}
	b := make([]byte, uiTicketBytes)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, fmt.Errorf("login ticket: %w", err)
	}
	ticket = UILoginTicketPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := v.nowUTC()
	expiresAt = now.Add(ttl)
	err = v.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		pending := readUITickets(m)
		for h, exp := range pending {
			if !now.Before(exp) {
				delete(pending, h)
			}
		}
		if len(pending) >= maxPendingUITickets {
			hs := make([]string, 0, len(pending))
			for h := range pending {
				hs = append(hs, h)
			}
			sort.Slice(hs, func(i, j int) bool { return pending[hs[i]].Before(pending[hs[j]]) })
			for _, h := range hs[:len(hs)-maxPendingUITickets+1] {
				delete(pending, h)
			}
		}
		pending[uiTicketHash(ticket)] = expiresAt
		return putJSON(m, metaUILoginTickets, pending)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store login ticket: %w", err)
	}
	return ticket, expiresAt, nil
}

// TakeUILoginTicket consumes a login ticket: ErrNotFound when it is
// malformed, unknown or already used, ErrExpired when past its expiry
// (it is consumed either way). The read and the delete are one
// transaction, so two concurrent takes never both succeed. Errors never
// contain the ticket.
func (v *Vault) TakeUILoginTicket(ctx context.Context, ticket string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ValidUILoginTicket(ticket) != nil {
		return fmt.Errorf("login ticket: malformed: %w", ErrNotFound)
	}
	want := uiTicketHash(ticket)
	now := v.nowUTC()
	var (
		found   bool
		expires time.Time
	)
	err := v.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		pending := readUITickets(m)
		for h, exp := range pending {
			if subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
				found, expires = true, exp
				delete(pending, h)
			}
		}
		if !found {
			return nil
		}
		return putJSON(m, metaUILoginTickets, pending)
	})
	if err != nil {
		return fmt.Errorf("take login ticket: %w", err)
	}
	if !found {
		return fmt.Errorf("login ticket: unknown or already used: %w", ErrNotFound)
	}
	if !now.Before(expires) {
		return fmt.Errorf("login ticket: %w", ErrExpired)
	}
	return nil
}
