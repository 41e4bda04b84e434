package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

const maxHostUserIDLen = 256

// LocalOwnerHostUserID is the host user id of a tenant's local owner: the
// user that the person at this machine acts as through `plexus stdio` and
// the admin tools (the local token), as opposed to users registered by a
// host application.
const LocalOwnerHostUserID = "plexus-local-owner"

// validID checks an opaque id (user, session, token id, value key):
// non-empty, at most max bytes, valid text without NUL or control characters.
func validID(field, id string, max int) error {
	if id == "" {
		return invalidf("%s: must not be empty", field)
	}
	return validText(field, id, max)
}

// newUUID returns a random RFC 4122 version 4 UUID string (the form MCP
// Plexus uses for persistent user ids).
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// EnsureUser returns the user registered in tenantID under hostUserID,
// creating it (with a new random persistent id) if needed.
func (v *Vault) EnsureUser(ctx context.Context, tenantID, hostUserID string) (u User, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return User{}, false, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return User{}, false, err
	}
	if err := validID("user id from host app", hostUserID, maxHostUserIDLen); err != nil {
		return User{}, false, err
	}
	newID, err := newUUID()
	if err != nil {
		return User{}, false, err
	}
	err = v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		users, byHost := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByHost)
		if id := byHost.Get(scoped(tenantID, hostUserID)); id != nil {
			found, err := getJSON(users, scoped(tenantID, string(id)), &u)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("user index of tenant %q points to a missing user", tenantID)
			}
			return nil
		}
		u = User{TenantID: tenantID, ID: newID, HostUserID: hostUserID, CreatedAt: v.nowUTC()}
		if err := putJSON(users, scoped(tenantID, newID), u); err != nil {
			return err
		}
		created = true
		return byHost.Put(scoped(tenantID, hostUserID), []byte(newID))
	})
	if err != nil {
		return User{}, false, err
	}
	return u, created, nil
}

// GetUser returns a user by persistent id or ErrNotFound.
func (v *Vault) GetUser(ctx context.Context, tenantID, userID string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return User{}, err
	}
	if err := validID("user id", userID, maxHostUserIDLen); err != nil {
		return User{}, err
	}
	var u User
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUser(tx, tenantID, userID)
		return err
	})
	return u, err
}

func getUser(tx *bolt.Tx, tenantID, userID string) (User, error) {
	var u User
	found, err := getJSON(tx.Bucket(bucketUsers), scoped(tenantID, userID), &u)
	if err != nil {
		return User{}, err
	}
	if !found {
		return User{}, fmt.Errorf("user %q of tenant %q: %w", userID, tenantID, ErrNotFound)
	}
	return u, nil
}

// ListUsers returns a tenant's users sorted by host user id.
func (v *Vault) ListUsers(ctx context.Context, tenantID string) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []User{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketUsers), scoped(tenantID, ""), func(_, raw []byte) error {
			var u User
			if err := json.Unmarshal(raw, &u); err != nil {
				return fmt.Errorf("decode user: %w", err)
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HostUserID < out[j].HostUserID })
	return out, nil
}
