package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Key-entry links are the API-key counterpart of consent links: a tool
// result that needs an API key carries a link to a Plexus page where the
// person types the key. The link is random, single-use, expiring and bound
// to tenant, user (or a guest's session) and provider. It lives in bucket
// oauth_states under 'k'+SHA-256(id), never the id itself, in a record
// that shares the flows' common fields, so sweeping, tenant deletion and
// user deletion remove it like a consent link.
const flowAPIKeyLink byte = 'k'

// Limits on what a key-entry page shows.
const (
	maxKeyNameLen     = 200
	maxInstructionLen = 2000
)

// ErrOwnerGone is matched (with ErrNotFound) by RedeemAPIKeyLink's error
// when the link's user or guest session no longer exists.
var ErrOwnerGone = errors.New("the user or session the link is for no longer exists")

// GuestAPIKeyPrefix prefixes the session value key under which a guest's
// API key for a provider is kept ("api_key:<provider>").
const GuestAPIKeyPrefix = "api_key:"

// APIKeyLink is a pending key-entry link: who may store a key for which
// provider through it, and what the page shows (the tool that asked, the
// MCP client, the key's display name and how to get one). ID is stored
// only as its SHA-256; a guest's session id only sealed.
type APIKeyLink struct {
	ID        string
	TenantID  string
	UserID    string // "" for a guest
	SessionID string // the guest's session
	Provider  string
	Tool      string
	Client    string
	// KeyName is how the key is called in front of a person
	// ("OpenWeatherMap API key"); Instructions say how to get one.
	KeyName      string
	Instructions string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// apiKeyLinkRecord is the stored form: the flows' common record plus what
// the page shows.
type apiKeyLinkRecord struct {
	oauthStateRecord
	KeyName      string `json:"key_name,omitempty"`
	Instructions string `json:"instructions,omitempty"`
}

func apiKeyLinkSessionAAD(id string) string { return "api-key-link-session|" + id }

func (r apiKeyLinkRecord) link(id string) APIKeyLink {
	return APIKeyLink{
		ID: id, TenantID: r.TenantID, UserID: r.UserID, SessionID: r.SessionID, Provider: r.Provider,
		Tool: r.Tool, Client: r.Client, KeyName: r.KeyName, Instructions: r.Instructions,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
	}
}

// PutAPIKeyLink stores a pending key-entry link; its id must be
// unguessable (the caller makes it) and unused (ErrExists). Rules
// (ErrInvalid) are PutOAuthConsent's for the id, owner, provider and
// expiry; Tool, Client, KeyName and Instructions are free text without
// control characters (at most 128, 128, 200 and 2000 bytes). The tenant
// (and the user, if set) must exist (ErrNotFound).
func (v *Vault) PutAPIKeyLink(ctx context.Context, l APIKeyLink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validStateString(l.ID); err != nil {
		return err
	}
	if err := checkFlowOwner(l.TenantID, l.UserID, l.SessionID, l.Provider, l.ExpiresAt); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"key link tool", l.Tool, maxToolLen},
		{"key link client", l.Client, maxClientLen},
		{"key link key name", l.KeyName, maxKeyNameLen},
		{"key link instructions", l.Instructions, maxInstructionLen},
	} {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = v.nowUTC()
	}
	r := apiKeyLinkRecord{
		oauthStateRecord: oauthStateRecord{
			OAuthState: OAuthState{
				TenantID: l.TenantID, UserID: l.UserID, SessionID: l.SessionID, Provider: l.Provider,
				CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt,
			},
			Tool: l.Tool, Client: l.Client,
		},
		KeyName: l.KeyName, Instructions: l.Instructions,
	}
	if err := v.sealSession(apiKeyLinkSessionAAD(l.ID), &r.oauthStateRecord); err != nil {
		return err
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, r.TenantID); err != nil {
			return err
		}
		if r.UserID != "" {
			if _, err := getUser(tx, r.TenantID, r.UserID); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketOAuthStates)
		key := flowKey(flowAPIKeyLink, l.ID)
		if b.Get(key) != nil {
			return fmt.Errorf("key link: %w", ErrExists)
		}
		return putJSON(b, key, r)
	})
}

// GetAPIKeyLink returns a pending key-entry link of tenantID without
// consuming it: ErrNotFound if unknown, used, malformed or another
// tenant's; ErrExpired if past its expiry.
func (v *Vault) GetAPIKeyLink(ctx context.Context, tenantID, id string) (APIKeyLink, error) {
	if err := ctx.Err(); err != nil {
		return APIKeyLink{}, err
	}
	var r apiKeyLinkRecord
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = readAPIKeyLink(tx, tenantID, id)
		return err
	})
	if err != nil {
		return APIKeyLink{}, err
	}
	return v.openAPIKeyLink(id, r)
}

// readAPIKeyLink reads tenantID's link id (ErrNotFound as GetAPIKeyLink).
func readAPIKeyLink(tx *bolt.Tx, tenantID, id string) (apiKeyLinkRecord, error) {
	var r apiKeyLinkRecord
	if validStateString(id) != nil {
		return r, fmt.Errorf("key link: malformed: %w", ErrNotFound)
	}
	found, err := getJSON(tx.Bucket(bucketOAuthStates), flowKey(flowAPIKeyLink, id), &r)
	switch {
	case err != nil:
		return r, err
	case !found || r.TenantID != tenantID:
		// Another tenant's link answers like an unknown one, and is not
		// consumed by a request on the wrong tenant's path.
		return r, fmt.Errorf("key link: unknown or already used: %w", ErrNotFound)
	}
	return r, nil
}

// openAPIKeyLink checks the expiry and opens the guest's session id.
func (v *Vault) openAPIKeyLink(id string, r apiKeyLinkRecord) (APIKeyLink, error) {
	if r.expired(v.now()) {
		return APIKeyLink{}, fmt.Errorf("key link of tenant %q, provider %q: %w", r.TenantID, r.Provider, ErrExpired)
	}
	if err := v.openSession(apiKeyLinkSessionAAD(id), &r.oauthStateRecord); err != nil {
		return APIKeyLink{}, err
	}
	return r.link(id), nil
}

// TakeAPIKeyLink consumes tenantID's link id without storing anything (the
// person pressed Cancel): errors as GetAPIKeyLink; an expired link is
// consumed too.
func (v *Vault) TakeAPIKeyLink(ctx context.Context, tenantID, id string) (APIKeyLink, error) {
	if err := ctx.Err(); err != nil {
		return APIKeyLink{}, err
	}
	var r apiKeyLinkRecord
	err := v.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = readAPIKeyLink(tx, tenantID, id); err != nil {
			return err
		}
		return tx.Bucket(bucketOAuthStates).Delete(flowKey(flowAPIKeyLink, id))
	})
	if err != nil {
		return APIKeyLink{}, err
	}
	return v.openAPIKeyLink(id, r)
}

// RedeemAPIKeyLink consumes tenantID's link id and stores key for exactly
// the link's owner and provider, in one transaction: a registered user's
// API-key credential (as PutCredential), or a guest's session value
// GuestAPIKeyPrefix+provider (as SetSessionValue). The key must pass
// ValidateAPIKeyValue (ErrInvalid; nothing is consumed). An unknown, used,
// malformed or other tenant's link is ErrNotFound; an expired one is
// consumed and ErrExpired; when the user or the guest's session no longer
// exists the result wraps ErrOwnerGone and ErrNotFound, and nothing
// changes. The key never
// appears in an error.
func (v *Vault) RedeemAPIKeyLink(ctx context.Context, tenantID, id string, key []byte) (APIKeyLink, error) {
	if err := ctx.Err(); err != nil {
		return APIKeyLink{}, err
	}
	if err := ValidateAPIKeyValue(string(key)); err != nil {
		return APIKeyLink{}, fmt.Errorf("api key: %w", err)
	}
	var (
		l       APIKeyLink
		expired bool
	)
	err := v.update(func(tx *bolt.Tx, announce func(Change)) error {
		r, err := readAPIKeyLink(tx, tenantID, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketOAuthStates).Delete(flowKey(flowAPIKeyLink, id)); err != nil {
			return err
		}
		if r.expired(v.now()) {
			expired = true // consumed, nothing stored
			return nil
		}
		if l, err = v.openAPIKeyLink(id, r); err != nil {
			return err
		}
		ownerGone := func(err error) error {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: %w", ErrOwnerGone, err)
			}
			return err
		}
		if l.UserID != "" {
			_, err := v.putCredentialTx(tx, announce, l.TenantID, l.UserID, CredentialAPIKey, l.Provider, key, nil)
			return ownerGone(err)
		}
		valueKey := GuestAPIKeyPrefix + l.Provider
		if err := checkSessionValue(ctx, l.TenantID, l.SessionID, valueKey, key); err != nil {
			return err
		}
		if _, err := getSessionRecord(tx, l.TenantID, SessionHash(l.SessionID), v.now()); err != nil {
			return ownerGone(fmt.Errorf("key link's session: %w", err))
		}
		sealed, err := v.Seal(sessionValueAAD(l.TenantID, l.SessionID, valueKey), key)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketSessionValues).Put(scoped(l.TenantID, SessionHash(l.SessionID), valueKey), sealed)
	})
	if err != nil {
		return APIKeyLink{}, err
	}
	if expired {
		return APIKeyLink{}, fmt.Errorf("key link of tenant %q: %w", tenantID, ErrExpired)
	}
	return l, nil
}
