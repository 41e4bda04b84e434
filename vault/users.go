package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

const maxHostUserIDLen = 256

// LocalOwnerHostUserID is the host user id of a tenant's local owner: the
// user that the person at this machine acts as through `plexus stdio` and
// the admin tools (the local token), as opposed to users registered by a
// host application. It is reserved (see ValidateHostUserID): only
// EnsureLocalOwner creates or returns that user.
const LocalOwnerHostUserID = "plexus-local-owner"

// LocalOwnerAlias names the local owner in place of a persistent user id
// in admin API paths (/api/v1/tenants/{id}/users/local-owner/…). It is
// reserved too, so no registered user can be mistaken for the local owner.
const LocalOwnerAlias = "local-owner"

// ReservedUserIDPrefix starts (in any letter case) the ids Plexus keeps for
// its own users, such as LocalOwnerHostUserID.
const ReservedUserIDPrefix = "plexus-"

// ValidateHostUserID is the rule for a user id that comes from outside (a
// host application's user_id_from_host_app, the admin API): since new users
// get it as their persistent id, it must be safe wherever a persistent id
// goes. It must be
//
//   - 1-256 bytes of valid UTF-8 without control characters (so no NUL,
//     the separator of the vault's record keys), and not only spaces;
//   - not "." or ".." (URL path segments that cannot name a user);
//   - not reserved: LocalOwnerAlias ("local-owner") or anything starting
//     with ReservedUserIDPrefix ("plexus-"), in any letter case. The local
//     owner is reachable only through the local token.
//
// "|" (the AAD separator) is allowed: Auth0-style ids such as "auth0|123"
// are common, and a sealed record's AAD stays unambiguous because no other
// part of it (tenant, kind, provider) may contain "|". The error wraps
// ErrInvalid and names the rule broken.
func ValidateHostUserID(id string) error {
	const field = "user id from host app"
	if err := validID(field, id, maxHostUserIDLen); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(id) == "":
		return invalidf("%s: must not be blank", field)
	case id == "." || id == "..":
		return invalidf("%s %q: not a usable id (a URL path cannot carry it)", field, id)
	case strings.EqualFold(id, LocalOwnerAlias),
		len(id) >= len(ReservedUserIDPrefix) && strings.EqualFold(id[:len(ReservedUserIDPrefix)], ReservedUserIDPrefix):
		return invalidf("%s %q: reserved (%q and ids starting with %q name Plexus's own users; the local owner is reachable only through the local token)",
			field, clip(id), LocalOwnerAlias, ReservedUserIDPrefix)
	}
	return nil
}

// validID checks an opaque id (user, session, token id, value key):
// non-empty, at most max bytes, valid text without NUL or control characters.
func validID(field, id string, max int) error {
	if id == "" {
		return invalidf("%s: must not be empty", field)
	}
	return validText(field, id, max)
}

// EnsureUser returns the user registered in tenantID under hostUserID,
// creating it if needed. A new user's persistent id is hostUserID itself
// (as in MCP Plexus); a user created by an older Plexus keeps the random
// UUID it got then. hostUserID must pass ValidateHostUserID (ErrInvalid:
// reserved ids such as the local owner's are refused; use
// EnsureLocalOwner). A hostUserID that is already another user's
// persistent id (an older user's UUID) is refused with ErrExists.
func (v *Vault) EnsureUser(ctx context.Context, tenantID, hostUserID string) (u User, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return User{}, false, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return User{}, false, err
	}
	if err := ValidateHostUserID(hostUserID); err != nil {
		return User{}, false, err
	}
	return v.ensureUser(tenantID, hostUserID)
}

// EnsureLocalOwner returns the tenant's local owner (host user id
// LocalOwnerHostUserID), creating it if needed: the user `plexus stdio`
// and the admin tools act as. Only the daemon's own callers (the local
// token, the admin API) may reach it.
func (v *Vault) EnsureLocalOwner(ctx context.Context, tenantID string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return User{}, err
	}
	u, _, err := v.ensureUser(tenantID, LocalOwnerHostUserID)
	return u, err
}

func (v *Vault) ensureUser(tenantID, hostUserID string) (u User, created bool, err error) {
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
		// The persistent id is the host user id; it must not be taken by
		// a user created under another host id (an older UUID id).
		found, err := getJSON(users, scoped(tenantID, hostUserID), &u)
		if err != nil {
			return err
		}
		if found && u.HostUserID != hostUserID {
			u = User{}
			return fmt.Errorf("user id from host app %q: %w as the persistent id of another user of tenant %q",
				clip(hostUserID), ErrExists, tenantID)
		}
		if !found {
			u = User{TenantID: tenantID, ID: hostUserID, HostUserID: hostUserID, CreatedAt: v.nowUTC()}
			if err := putJSON(users, scoped(tenantID, hostUserID), u); err != nil {
				return err
			}
			created = true
		}
		// (found: the record was there without its index entry; restore it.)
		return byHost.Put(scoped(tenantID, hostUserID), []byte(hostUserID))
	})
	if err != nil {
		return User{}, false, err
	}
	return u, created, nil
}

// DeleteUser removes a user and everything that is theirs, in one
// transaction: their tokens, sessions (with their values), credentials
// (API keys, OAuth token sets) and pending OAuth states (ErrNotFound if
// the user does not exist). Registering the same host user id later
// creates a new user who inherits none of it. Subscribers are told
// (UserDeleted), so caches drop the user's tokens and sessions at once.
func (v *Vault) DeleteUser(ctx context.Context, tenantID, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := validID("user id", userID, maxHostUserIDLen); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		u, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsers).Delete(scoped(tenantID, userID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsersByHost).Delete(scoped(tenantID, u.HostUserID)); err != nil {
			return err
		}
		if err := deleteUserTokens(tx, tenantID, userID); err != nil {
			return fmt.Errorf("delete tokens of user %q: %w", userID, err)
		}
		if err := deleteUserSessions(tx, tenantID, userID); err != nil {
			return fmt.Errorf("delete sessions of user %q: %w", userID, err)
		}
		if _, err := deletePrefix(tx.Bucket(bucketCredentials), scoped(tenantID, userID, "")); err != nil {
			return fmt.Errorf("delete credentials of user %q: %w", userID, err)
		}
		if _, err := deleteOAuthStatesWhere(tx, func(s OAuthState) bool {
			return s.TenantID == tenantID && s.UserID == userID
		}); err != nil {
			return fmt.Errorf("delete oauth states of user %q: %w", userID, err)
		}
		announce(Change{Kind: UserDeleted, TenantID: tenantID, UserID: userID})
		return nil
	})
}

// deleteUserTokens removes every token of a user (records and index).
func deleteUserTokens(tx *bolt.Tx, tenantID, userID string) error {
	ids, tokens := tx.Bucket(bucketTokenIDs), tx.Bucket(bucketTokens)
	var deadIDs, deadHashes [][]byte
	err := forPrefix(ids, scoped(tenantID, ""), func(k, h []byte) error {
		var info TokenInfo
		found, err := getJSON(tokens, h, &info)
		if err != nil {
			return err
		}
		if !found || info.UserID == userID {
			deadIDs = append(deadIDs, append([]byte(nil), k...))
			deadHashes = append(deadHashes, append([]byte(nil), h...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range deadIDs {
		if err := ids.Delete(deadIDs[i]); err != nil {
			return err
		}
		if err := tokens.Delete(deadHashes[i]); err != nil {
			return err
		}
	}
	return nil
}

// deleteUserSessions removes every session of a user, with its values.
func deleteUserSessions(tx *bolt.Tx, tenantID, userID string) error {
	_, err := deleteSessionsWhere(tx, scoped(tenantID, ""), func(r sessionRecord) bool { return r.UserID == userID })
	return err
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
