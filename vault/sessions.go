package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	maxSessionIDLen    = 256
	maxValueKeyLen     = 256
	maxProtocolLen     = 64
	maxSessionValueLen = 1 << 20
)

func sessionValueAAD(tenantID, sessionID, key string) string {
	return "session-value|" + tenantID + "|" + sessionID + "|" + key
}

// expired reports whether s is expired at now; a zero ExpiresAt never expires.
func (s Session) expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

func validSessionKey(tenantID, sessionID string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	return validID("session id", sessionID, maxSessionIDLen)
}

// getLiveSession reads a session, treating an expired one as absent.
func getLiveSession(tx *bolt.Tx, tenantID, id string, now time.Time) (Session, error) {
	var s Session
	found, err := getJSON(tx.Bucket(bucketSessions), scoped(tenantID, id), &s)
	if err != nil {
		return Session{}, err
	}
	if !found || s.expired(now) {
		return Session{}, fmt.Errorf("session %q of tenant %q: %w", id, tenantID, ErrNotFound)
	}
	return s, nil
}

func checkSession(s Session) error {
	if err := validSessionKey(s.TenantID, s.ID); err != nil {
		return err
	}
	if s.UserID != "" {
		if err := validID("user id", s.UserID, maxHostUserIDLen); err != nil {
			return err
		}
	}
	return validText("protocol version", s.Protocol, maxProtocolLen)
}

// CreateSession stores a new session (ErrExists if the id is taken). Zero
// CreatedAt and LastSeen are set to the vault's clock; a zero ExpiresAt
// means the session never expires. The tenant (and the user, if UserID is
// set) must exist.
func (v *Vault) CreateSession(ctx context.Context, s Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSession(s); err != nil {
		return err
	}
	now := v.nowUTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.LastSeen.IsZero() {
		s.LastSeen = now
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, s.TenantID); err != nil {
			return err
		}
		if s.UserID != "" {
			if _, err := getUser(tx, s.TenantID, s.UserID); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketSessions)
		key := scoped(s.TenantID, s.ID)
		if b.Get(key) != nil {
			return fmt.Errorf("session %q of tenant %q: %w", s.ID, s.TenantID, ErrExists)
		}
		return putJSON(b, key, s)
	})
}

// GetSession returns a session of tenantID; ErrNotFound if absent, of
// another tenant, or expired at the vault's clock.
func (v *Vault) GetSession(ctx context.Context, tenantID, id string) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, err
	}
	if err := validSessionKey(tenantID, id); err != nil {
		return Session{}, err
	}
	var s Session
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		s, err = getLiveSession(tx, tenantID, id, v.now())
		return err
	})
	return s, err
}

// UpdateSession applies fn to a stored, unexpired session and writes it
// back (ErrNotFound otherwise). fn may not change the session's ID or
// TenantID; if fn returns an error nothing is written. fn runs inside the
// write transaction and must not call the Vault.
func (v *Vault) UpdateSession(ctx context.Context, tenantID, id string, fn func(*Session) error) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, err
	}
	if err := validSessionKey(tenantID, id); err != nil {
		return Session{}, err
	}
	var s Session
	err := v.db.Update(func(tx *bolt.Tx) error {
		var err error
		if s, err = getLiveSession(tx, tenantID, id, v.now()); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		if s.ID != id || s.TenantID != tenantID {
			return invalidf("session %q: update must not change the session id or tenant", id)
		}
		if err := checkSession(s); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketSessions), scoped(tenantID, id), s)
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// DeleteSession removes a session and its values (ErrNotFound if absent).
func (v *Vault) DeleteSession(ctx context.Context, tenantID, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validSessionKey(tenantID, id); err != nil {
		return err
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		key := scoped(tenantID, id)
		if b.Get(key) == nil {
			return fmt.Errorf("session %q of tenant %q: %w", id, tenantID, ErrNotFound)
		}
		return deleteSession(tx, key)
	})
}

// deleteSession removes the session stored under key and its values.
func deleteSession(tx *bolt.Tx, key []byte) error {
	if err := tx.Bucket(bucketSessions).Delete(key); err != nil {
		return err
	}
	_, err := deletePrefix(tx.Bucket(bucketSessionValues), append(append([]byte(nil), key...), 0))
	return err
}

// SweepSessions removes every session expired at now, with its values, and
// returns how many sessions it removed. In the same transaction it removes
// the OAuth states expired at now (not counted; see SweepOAuthStates).
func (v *Vault) SweepSessions(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := v.db.Update(func(tx *bolt.Tx) error {
		n = 0
		var dead [][]byte
		err := tx.Bucket(bucketSessions).ForEach(func(k, raw []byte) error {
			var s Session
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if s.expired(now) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := deleteSession(tx, k); err != nil {
				return err
			}
		}
		n = len(dead)
		_, err = sweepOAuthStates(tx, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func validValueKey(key string) error {
	if err := validID("session value key", key, maxValueKeyLen); err != nil {
		return err
	}
	if strings.Contains(key, "|") {
		return invalidf("session value key %q: must not contain %q", clip(key), "|")
	}
	return nil
}

// SetSessionValue stores a sealed value under key in a live session
// (ErrNotFound if the session is absent or expired). Values are at most 1 MiB.
func (v *Vault) SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validSessionKey(tenantID, sessionID); err != nil {
		return err
	}
	if err := validValueKey(key); err != nil {
		return err
	}
	if len(value) > maxSessionValueLen {
		return invalidf("session value %q: at most %d bytes, got %d", clip(key), maxSessionValueLen, len(value))
	}
	sealed, err := v.Seal(sessionValueAAD(tenantID, sessionID, key), value)
	if err != nil {
		return err
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getLiveSession(tx, tenantID, sessionID, v.now()); err != nil {
			return err
		}
		return tx.Bucket(bucketSessionValues).Put(scoped(tenantID, sessionID, key), sealed)
	})
}

// GetSessionValue returns a session value (ErrNotFound if unset, or if the
// session is absent or expired).
func (v *Vault) GetSessionValue(ctx context.Context, tenantID, sessionID, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validSessionKey(tenantID, sessionID); err != nil {
		return nil, err
	}
	if err := validValueKey(key); err != nil {
		return nil, err
	}
	var sealed []byte
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getLiveSession(tx, tenantID, sessionID, v.now()); err != nil {
			return err
		}
		raw := tx.Bucket(bucketSessionValues).Get(scoped(tenantID, sessionID, key))
		if raw == nil {
			return fmt.Errorf("session value %q: %w", clip(key), ErrNotFound)
		}
		sealed = append([]byte(nil), raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v.Unseal(sessionValueAAD(tenantID, sessionID, key), sealed)
}
