package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SessionInfo describes a stored MCP session for an administrator: who it
// belongs to and when it was used, named by its SessionHash (never its
// id, which is a bearer credential and is not stored).
type SessionInfo struct {
	// Hash is SessionHash(id): not secret, and enough to end the session
	// with EndSession. Its first 8 hex digits are the session's
	// fingerprint (what plexus_whoami shows).
	Hash      string
	TenantID  string
	UserID    string // "" for guests
	Protocol  string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	// Client is the client state the MCP layer stored (opaque JSON).
	Client json.RawMessage
}

// Fingerprint is the session's short name: the first 8 hex digits of its
// hash.
func (s SessionInfo) Fingerprint() string { return sessionRef(s.Hash) }

// MaxListedSessions bounds ListSessions' answer.
const MaxListedSessions = 500

// ListSessions returns the unexpired sessions of a tenant (ErrNotFound if
// the tenant does not exist), the most recently used first, at most
// MaxListedSessions of them, and how many there are in all.
func (v *Vault) ListSessions(ctx context.Context, tenantID string) (list []SessionInfo, total int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, 0, err
	}
	now := v.now()
	prefix := scoped(tenantID, "")
	err = v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketSessions), prefix, func(k, raw []byte) error {
			hash := string(k[len(prefix):])
			if len(hash) != sessionHashLen {
				return nil // not a session key of this tenant
			}
			var r sessionRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode session %s: %w", sessionRef(hash), err)
			}
			if r.expired(now) {
				return nil
			}
			list = append(list, SessionInfo{
				Hash: hash, TenantID: r.TenantID, UserID: r.UserID, Protocol: r.Protocol,
				CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, ExpiresAt: r.ExpiresAt, Client: r.Client,
			})
			return nil
		})
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(list, func(a, b SessionInfo) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	total = len(list)
	if len(list) > MaxListedSessions {
		list = list[:MaxListedSessions]
	}
	return slices.Clip(list), total, nil
}

// ValidSessionHash reports whether h has the form of a SessionHash (64
// lower-case hex digits).
func ValidSessionHash(h string) bool {
	if len(h) != sessionHashLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// EndSession removes a tenant's session, named by its SessionHash, with
// its values (ErrNotFound if there is none; ErrInvalid for a malformed
// hash), and announces it (SessionEnded), so the MCP server drops the
// session at once and its client's next request must initialize again.
func (v *Vault) EndSession(ctx context.Context, tenantID, hash string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if !ValidSessionHash(hash) {
		return invalidf("session: not a session fingerprint (64 hex digits)")
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		var r sessionRecord
		found, err := getJSON(tx.Bucket(bucketSessions), scoped(tenantID, hash), &r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("session %s of tenant %q: %w", sessionRef(hash), tenantID, ErrNotFound)
		}
		if err := removeSession(tx, hash, r); err != nil {
			return err
		}
		announce(Change{Kind: SessionEnded, TenantID: tenantID, UserID: r.UserID, SessionHash: hash})
		return nil
	})
}
