package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sessions are stored under the SHA-256 of their id, never the id itself:
// a session id is a bearer credential (a guest's session id is the guest's
// identity and the key to its values), and plexus.db must not hand it to
// whoever can read the file. The id is known at request time, so lookups
// hash it; session values stay sealed with AAD
// "session-value|tenant|<raw id>|key", which binds them to the id a caller
// presents (and let schema 3 re-key old files without re-sealing).
//
// Layout (schema 3):
//
//	sessions          tenant\x00<hash>                       -> sessionRecord JSON
//	session_values    tenant\x00<hash>\x00key                -> sealed value
//	sessions_by_seen  tenant\x00owner\x00<last seen><hash>   -> nil (owner "" = guests)
//	session_counts    tenant\x00owner                        -> uint64 count
//
// where <hash> is SessionHash(id) (64 hex digits) and <last seen> is the
// big-endian Unix nanoseconds of LastSeen, so the oldest-idle session of an
// owner is the first key under its prefix.

const (
	maxSessionIDLen    = 256
	maxValueKeyLen     = 256
	maxProtocolLen     = 64
	maxSessionValueLen = 1 << 20
	// maxSessionClientLen bounds Session.Client.
	maxSessionClientLen = 16 << 10
	// maxEvictPerCreate and maxEvictScan bound the work one
	// CreateSessionLimited does: sessions it deletes, index entries it
	// passes over because they are in use.
	maxEvictPerCreate = 8
	maxEvictScan      = 256
	// sessionHashLen is the length of SessionHash's result.
	sessionHashLen = 2 * sha256.Size
)

// SessionHash returns the stored form of a session id: the hex SHA-256 of
// the id. It is not secret; callers may key caches by it and match it
// against CreateSessionLimited's evicted list.
func SessionHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// sessionRef names a session in errors without its id: the first 8 hex
// digits of its hash (what plexus_whoami shows as the fingerprint).
func sessionRef(hash string) string { return hash[:8] }

func sessionValueAAD(tenantID, sessionID, key string) string {
	return "session-value|" + tenantID + "|" + sessionID + "|" + key
}

// sessionRecord is the stored form of a Session: everything but the id.
type sessionRecord struct {
	TenantID  string          `json:"entity_id"`
	UserID    string          `json:"persistent_user_id"`
	Protocol  string          `json:"protocol_version"`
	CreatedAt time.Time       `json:"created_at"`
	LastSeen  time.Time       `json:"last_seen"`
	ExpiresAt time.Time       `json:"expires_at"`
	Client    json.RawMessage `json:"client,omitempty"`
}

func recordOf(s Session) sessionRecord {
	return sessionRecord{
		TenantID: s.TenantID, UserID: s.UserID, Protocol: s.Protocol,
		CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt, Client: s.Client,
	}
}

func (r sessionRecord) session(id string) Session {
	return Session{
		ID: id, TenantID: r.TenantID, UserID: r.UserID, Protocol: r.Protocol,
		CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, ExpiresAt: r.ExpiresAt, Client: r.Client,
	}
}

func (r sessionRecord) expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

func validSessionKey(tenantID, sessionID string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	return validID("session id", sessionID, maxSessionIDLen)
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
	if len(s.Client) > maxSessionClientLen {
		return invalidf("session client state: at most %d bytes, got %d", maxSessionClientLen, len(s.Client))
	}
	if len(s.Client) > 0 && !json.Valid(s.Client) {
		return invalidf("session client state: not valid JSON")
	}
	return validText("protocol version", s.Protocol, maxProtocolLen)
}

// sessionIndexKey is the sessions_by_seen key of a session.
func sessionIndexKey(tenantID, userID string, lastSeen time.Time, hash string) []byte {
	k := scoped(tenantID, userID, "")
	k = binary.BigEndian.AppendUint64(k, uint64(max(lastSeen.UnixNano(), 0)))
	return append(k, hash...)
}

// sessionCountKey is the session_counts key of an owner (user "" = guests).
func sessionCountKey(tenantID, userID string) []byte { return scoped(tenantID, userID) }

func sessionCount(tx *bolt.Tx, tenantID, userID string) uint64 {
	raw := tx.Bucket(bucketSessionCounts).Get(sessionCountKey(tenantID, userID))
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func addSessionCount(tx *bolt.Tx, tenantID, userID string, delta int) error {
	n := int64(sessionCount(tx, tenantID, userID)) + int64(delta)
	b, k := tx.Bucket(bucketSessionCounts), sessionCountKey(tenantID, userID)
	if n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// getSessionRecord reads a session by hash, treating an expired one as absent.
func getSessionRecord(tx *bolt.Tx, tenantID, hash string, now time.Time) (sessionRecord, error) {
	var r sessionRecord
	found, err := getJSON(tx.Bucket(bucketSessions), scoped(tenantID, hash), &r)
	if err != nil {
		return sessionRecord{}, err
	}
	if !found || r.expired(now) {
		return sessionRecord{}, fmt.Errorf("session %s of tenant %q: %w", sessionRef(hash), tenantID, ErrNotFound)
	}
	return r, nil
}

// putSession writes a new session record with its index entry and count.
func putSession(tx *bolt.Tx, hash string, r sessionRecord) error {
	if err := putJSON(tx.Bucket(bucketSessions), scoped(r.TenantID, hash), r); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSessionIndex).Put(sessionIndexKey(r.TenantID, r.UserID, r.LastSeen, hash), nil); err != nil {
		return err
	}
	return addSessionCount(tx, r.TenantID, r.UserID, 1)
}

// rewriteSession stores an updated record, moving its index entry if its
// last-seen time changed. old is the stored record (same tenant and user).
func rewriteSession(tx *bolt.Tx, hash string, old, r sessionRecord) error {
	if !old.LastSeen.Equal(r.LastSeen) {
		idx := tx.Bucket(bucketSessionIndex)
		if err := idx.Delete(sessionIndexKey(old.TenantID, old.UserID, old.LastSeen, hash)); err != nil {
			return err
		}
		if err := idx.Put(sessionIndexKey(r.TenantID, r.UserID, r.LastSeen, hash), nil); err != nil {
			return err
		}
	}
	return putJSON(tx.Bucket(bucketSessions), scoped(r.TenantID, hash), r)
}

// removeSession deletes a stored session (record r), its values, its index
// entry and its count.
func removeSession(tx *bolt.Tx, hash string, r sessionRecord) error {
	key := scoped(r.TenantID, hash)
	if err := tx.Bucket(bucketSessions).Delete(key); err != nil {
		return err
	}
	if _, err := deletePrefix(tx.Bucket(bucketSessionValues), append(key, 0)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSessionIndex).Delete(sessionIndexKey(r.TenantID, r.UserID, r.LastSeen, hash)); err != nil {
		return err
	}
	return addSessionCount(tx, r.TenantID, r.UserID, -1)
}

// CreateSession stores a new session (ErrExists if the id is taken). Zero
// CreatedAt and LastSeen are set to the vault's clock; a zero ExpiresAt
// means the session never expires. The tenant (and the user, if UserID is
// set) must exist. Only the id's hash is stored.
func (v *Vault) CreateSession(ctx context.Context, s Session) error {
	_, err := v.CreateSessionLimited(ctx, s, 0, nil)
	return err
}

// CreateSessionLimited stores a new session like CreateSession, then, when
// max > 0 and its owner (its user, or for a guest session the tenant's
// guests) holds more than max sessions, deletes the owner's sessions idle
// the longest (oldest LastSeen first) with their values. Sessions for which
// inUse (if not nil) reports true are not idle and are passed over; inUse
// gets a SessionHash and runs inside the write transaction, so it must not
// call the Vault. The work per call is bounded (at most 8 deletions, 256
// sessions passed over): a file already far over max shrinks by up to 7 on
// each new session. It returns the SessionHash of every session it
// deleted, so callers can drop what they cache.
//
// Concurrent calls share one write transaction (bbolt's Batch), so a burst
// of new sessions costs one disk sync per batch rather than per session.
func (v *Vault) CreateSessionLimited(ctx context.Context, s Session, max int, inUse func(hash string) bool) (evicted []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkSession(s); err != nil {
		return nil, err
	}
	now := v.nowUTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.LastSeen.IsZero() {
		s.LastSeen = now
	}
	hash := SessionHash(s.ID)
	r := recordOf(s)
	err = v.db.Batch(func(tx *bolt.Tx) error {
		evicted = evicted[:0] // Batch may run fn again after a rollback
		if _, err := getTenant(tx, s.TenantID); err != nil {
			return err
		}
		if s.UserID != "" {
			if _, err := getUser(tx, s.TenantID, s.UserID); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketSessions).Get(scoped(s.TenantID, hash)) != nil {
			return fmt.Errorf("session %s of tenant %q: %w", sessionRef(hash), s.TenantID, ErrExists)
		}
		if err := putSession(tx, hash, r); err != nil {
			return err
		}
		if max <= 0 {
			return nil
		}
		var err error
		evicted, err = evictIdleSessions(tx, s.TenantID, s.UserID, hash, uint64(max), inUse)
		return err
	})
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// evictIdleSessions deletes the owner's longest-idle sessions (never keep,
// nor those inUse) while the owner holds more than max, at most
// maxEvictPerCreate of them, passing over at most maxEvictScan.
func evictIdleSessions(tx *bolt.Tx, tenantID, userID, keep string, max uint64, inUse func(string) bool) ([]string, error) {
	var out []string
	prefix := scoped(tenantID, userID, "")
	sessions := tx.Bucket(bucketSessions)
	passed := map[string]bool{}
	for range maxEvictPerCreate {
		if sessionCount(tx, tenantID, userID) <= max {
			break
		}
		c := tx.Bucket(bucketSessionIndex).Cursor()
		var hash string
		var idxKey []byte
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(passed) < maxEvictScan; k, _ = c.Next() {
			if len(k) != len(prefix)+8+sessionHashLen {
				continue // not an index key of this owner
			}
			h := string(k[len(prefix)+8:])
			if h == keep || passed[h] {
				continue
			}
			if inUse != nil && inUse(h) {
				passed[h] = true
				continue
			}
			hash, idxKey = h, bytes.Clone(k)
			break
		}
		if hash == "" {
			break
		}
		var r sessionRecord
		found, err := getJSON(sessions, scoped(tenantID, hash), &r)
		if err != nil {
			return nil, err
		}
		if !found {
			// A dangling index entry: drop it and fix the count.
			if err := tx.Bucket(bucketSessionIndex).Delete(idxKey); err != nil {
				return nil, err
			}
			if err := recountSessions(tx, tenantID, userID); err != nil {
				return nil, err
			}
			continue
		}
		if err := removeSession(tx, hash, r); err != nil {
			return nil, err
		}
		out = append(out, hash)
	}
	return out, nil
}

// recountSessions sets an owner's count from its index entries.
func recountSessions(tx *bolt.Tx, tenantID, userID string) error {
	prefix := scoped(tenantID, userID, "")
	n := 0
	err := forPrefix(tx.Bucket(bucketSessionIndex), prefix, func(k, _ []byte) error {
		if len(k) == len(prefix)+8+sessionHashLen {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketSessionCounts).Delete(sessionCountKey(tenantID, userID)); err != nil {
		return err
	}
	return addSessionCount(tx, tenantID, userID, n)
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
	var r sessionRecord
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getSessionRecord(tx, tenantID, SessionHash(id), v.now())
		return err
	})
	if err != nil {
		return Session{}, err
	}
	return r.session(id), nil
}

// UpdateSession applies fn to a stored, unexpired session and writes it
// back (ErrNotFound otherwise). fn may not change the session's ID,
// TenantID or UserID; if fn returns an error nothing is written. fn runs
// inside the write transaction and must not call the Vault.
func (v *Vault) UpdateSession(ctx context.Context, tenantID, id string, fn func(*Session) error) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, err
	}
	if err := validSessionKey(tenantID, id); err != nil {
		return Session{}, err
	}
	hash := SessionHash(id)
	var s Session
	err := v.db.Update(func(tx *bolt.Tx) error {
		old, err := getSessionRecord(tx, tenantID, hash, v.now())
		if err != nil {
			return err
		}
		s = old.session(id)
		if err := fn(&s); err != nil {
			return err
		}
		if s.ID != id || s.TenantID != tenantID || s.UserID != old.UserID {
			return invalidf("session %s: update must not change the session id, tenant or user", sessionRef(hash))
		}
		if err := checkSession(s); err != nil {
			return err
		}
		return rewriteSession(tx, hash, old, recordOf(s))
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// SessionTouch is a session's new last-seen and expiry time, for
// TouchSessions.
type SessionTouch struct {
	TenantID, ID        string
	LastSeen, ExpiresAt time.Time
}

// TouchSessions records many sessions' last-seen and expiry times in one
// write transaction. Sessions that are gone or expired are skipped, and so
// is a touch older than the stored last-seen time.
func (v *Vault) TouchSessions(ctx context.Context, touches []SessionTouch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, t := range touches {
		if err := validSessionKey(t.TenantID, t.ID); err != nil {
			return err
		}
	}
	if len(touches) == 0 {
		return nil
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		now := v.now()
		for _, t := range touches {
			hash := SessionHash(t.ID)
			old, err := getSessionRecord(tx, t.TenantID, hash, now)
			if err != nil {
				continue // gone, expired or unreadable: nothing to touch
			}
			if !t.LastSeen.After(old.LastSeen) {
				continue
			}
			r := old
			r.LastSeen, r.ExpiresAt = t.LastSeen.UTC(), t.ExpiresAt.UTC()
			if err := rewriteSession(tx, hash, old, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteSession removes a session and its values (ErrNotFound if absent).
func (v *Vault) DeleteSession(ctx context.Context, tenantID, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validSessionKey(tenantID, id); err != nil {
		return err
	}
	hash := SessionHash(id)
	return v.db.Update(func(tx *bolt.Tx) error {
		var r sessionRecord
		found, err := getJSON(tx.Bucket(bucketSessions), scoped(tenantID, hash), &r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("session %s of tenant %q: %w", sessionRef(hash), tenantID, ErrNotFound)
		}
		return removeSession(tx, hash, r)
	})
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
		var err error
		n, err = deleteSessionsWhere(tx, nil, func(r sessionRecord) bool { return r.expired(now) })
		if err != nil {
			return err
		}
		_, err = sweepOAuthStates(tx, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// deleteSessionsWhere removes every session under prefix (nil: all) whose
// record matches, with its values, index entry and count, and returns how
// many it removed.
func deleteSessionsWhere(tx *bolt.Tx, prefix []byte, match func(sessionRecord) bool) (int, error) {
	type dead struct {
		hash string
		r    sessionRecord
	}
	var gone []dead
	err := forPrefix(tx.Bucket(bucketSessions), prefix, func(k, raw []byte) error {
		var r sessionRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode session: %w", err)
		}
		if match(r) {
			i := bytes.IndexByte(k, 0)
			gone = append(gone, dead{hash: string(k[i+1:]), r: r})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, d := range gone {
		if err := removeSession(tx, d.hash, d.r); err != nil {
			return 0, err
		}
	}
	return len(gone), nil
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

// checkSessionValue checks the arguments of a session value write.
func checkSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error {
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
	return nil
}

// SetSessionValue stores a sealed value under key in a live session
// (ErrNotFound if the session is absent or expired). Values are at most 1 MiB.
func (v *Vault) SetSessionValue(ctx context.Context, tenantID, sessionID, key string, value []byte) error {
	if err := checkSessionValue(ctx, tenantID, sessionID, key, value); err != nil {
		return err
	}
	sealed, err := v.Seal(sessionValueAAD(tenantID, sessionID, key), value)
	if err != nil {
		return err
	}
	hash := SessionHash(sessionID)
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getSessionRecord(tx, tenantID, hash, v.now()); err != nil {
			return err
		}
		return tx.Bucket(bucketSessionValues).Put(scoped(tenantID, hash, key), sealed)
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
	hash := SessionHash(sessionID)
	var sealed []byte
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getSessionRecord(tx, tenantID, hash, v.now()); err != nil {
			return err
		}
		raw := tx.Bucket(bucketSessionValues).Get(scoped(tenantID, hash, key))
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

// migrateSessionsToHashes is schema 4: it re-keys every session and session
// value from the raw id to SessionHash(id) (dropping the id from the
// record) and builds the last-seen index and the per-owner counts. Sealed
// values are not touched: their AAD names the raw id, which callers still
// present. Records that do not decode were unusable before and are dropped.
func migrateSessionsToHashes(tx *bolt.Tx, _ cipher.AEAD) error {
	for _, b := range [][]byte{bucketSessionIndex, bucketSessionCounts} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	sessions, values := tx.Bucket(bucketSessions), tx.Bucket(bucketSessionValues)
	type kv struct{ k, v []byte }
	var old []kv
	if err := sessions.ForEach(func(k, v []byte) error {
		old = append(old, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, e := range old {
		if err := sessions.Delete(e.k); err != nil {
			return err
		}
		tenant, sid, ok := bytes.Cut(e.k, []byte{0})
		var s Session
		if !ok || json.Unmarshal(e.v, &s) != nil || s.TenantID != string(tenant) || len(sid) == 0 {
			continue
		}
		s.ID = string(sid)
		if err := putSession(tx, SessionHash(s.ID), recordOf(s)); err != nil {
			return fmt.Errorf("re-key session: %w", err)
		}
	}
	old = old[:0]
	if err := values.ForEach(func(k, v []byte) error {
		old = append(old, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, e := range old {
		if err := values.Delete(e.k); err != nil {
			return err
		}
		parts := bytes.SplitN(e.k, []byte{0}, 3)
		if len(parts) != 3 {
			continue
		}
		hash := SessionHash(string(parts[1]))
		if sessions.Get(scoped(string(parts[0]), hash)) == nil {
			continue // its session was dropped above
		}
		if err := values.Put(scoped(string(parts[0]), hash, string(parts[2])), e.v); err != nil {
			return fmt.Errorf("re-key session value: %w", err)
		}
	}
	return nil
}
