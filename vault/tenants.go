package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

const (
	maxTenantIDLen   = 63
	maxTenantNameLen = 200
	maxSecretLen     = 1024
)

// reservedTenantIDs are path segments the daemon serves itself.
var reservedTenantIDs = map[string]bool{
	"api": true, "ui": true, "healthz": true, "readyz": true, "livez": true, "metrics": true,
	"static": true, "assets": true, "well-known": true, ".well-known": true, "oauth": true,
	"admin": true, "mcp": true, "login": true, "logout": true, "plexus": true,
	"plexus-auth": true, "plexus-services": true, "favicon.ico": true, "robots.txt": true,
	"debug": true, "internal": true,
}

// ValidateTenantID checks a tenant id: 1-63 chars of [a-z0-9_-], starting
// with a letter or digit, not a reserved word (api, ui, healthz, readyz,
// metrics, static, well-known, oauth, admin, …). The error wraps ErrInvalid
// and names the rule broken.
func ValidateTenantID(id string) error {
	if err := validSlug("tenant id", id, maxTenantIDLen); err != nil {
		return err
	}
	if reservedTenantIDs[id] {
		return invalidf("tenant id %q: reserved word", id)
	}
	return nil
}

// clip shortens a (non-secret) input for an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// validText checks a free-text field: valid UTF-8, no control characters,
// at most max bytes.
func validText(field, s string, max int) error {
	if len(s) > max {
		return invalidf("%s: at most %d bytes, got %d", field, max, len(s))
	}
	if !utf8.ValidString(s) {
		return invalidf("%s: not valid UTF-8", field)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalidf("%s: must not contain control characters", field)
	}
	return nil
}

// tenantRecord is the stored form of a tenant.
type tenantRecord struct {
	Tenant
	HostSecretSHA256 string `json:"host_secret_sha256,omitempty"`
}

func (r tenantRecord) public() Tenant {
	t := r.Tenant
	t.HasHostAppSecret = r.HostSecretSHA256 != ""
	return t
}

// scoped builds a tenant-scoped key "tenant\x00part\x00part…".
func scoped(tenantID string, parts ...string) []byte {
	var b bytes.Buffer
	b.WriteString(tenantID)
	for _, p := range parts {
		b.WriteByte(0)
		b.WriteString(p)
	}
	return b.Bytes()
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode record %q: %w", clip(string(key)), err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// deletePrefix removes every key of b starting with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func getTenant(tx *bolt.Tx, id string) (tenantRecord, error) {
	var r tenantRecord
	found, err := getJSON(tx.Bucket(bucketTenants), []byte(id), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	return r, nil
}

// ValidateTenantName checks a tenant's display name: not empty, at most
// 200 bytes of UTF-8 without control characters. The error wraps
// ErrInvalid and names the rule broken.
func ValidateTenantName(name string) error {
	if name == "" {
		return invalidf("tenant name: must not be empty")
	}
	return validText("tenant name", name, maxTenantNameLen)
}

// CreateTenant stores a new tenant (ErrExists, ErrInvalid). CreatedAt and
// UpdatedAt are set by the vault; an empty Name defaults to the id.
func (v *Vault) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	return v.createTenant(ctx, t, nil)
}

// CreateTenantWithSecret stores a new tenant and the SHA-256 of its
// host-app secret in one transaction: either both are stored or neither,
// so no tenant is ever left without the secret its creator was promised.
// The secret must not be empty and is at most 1024 bytes (ErrInvalid);
// otherwise as CreateTenant.
func (v *Vault) CreateTenantWithSecret(ctx context.Context, t Tenant, secret string) (Tenant, error) {
	if secret == "" {
		return Tenant{}, invalidf("host-app secret: must not be empty")
	}
	return v.createTenant(ctx, t, &secret)
}

func (v *Vault) createTenant(ctx context.Context, t Tenant, secret *string) (Tenant, error) {
	if err := ctx.Err(); err != nil {
		return Tenant{}, err
	}
	if err := ValidateTenantID(t.ID); err != nil {
		return Tenant{}, err
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	if err := ValidateTenantName(t.Name); err != nil {
		return Tenant{}, err
	}
	now := v.now().UTC()
	r := tenantRecord{Tenant: Tenant{ID: t.ID, Name: t.Name, CreatedAt: now, UpdatedAt: now}}
	err := v.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTenants)
		if b.Get([]byte(t.ID)) != nil {
			return fmt.Errorf("tenant %q: %w", t.ID, ErrExists)
		}
		if err := putJSON(b, []byte(t.ID), r); err != nil {
			return err
		}
		if secret == nil {
			return nil
		}
		// A failure from here on rolls the tenant back with the secret.
		var err error
		r, err = putHostSecret(tx, t.ID, *secret, now)
		return err
	})
	if err != nil {
		return Tenant{}, err
	}
	return r.public(), nil
}

// GetTenant returns one tenant or ErrNotFound.
func (v *Vault) GetTenant(ctx context.Context, id string) (Tenant, error) {
	if err := ctx.Err(); err != nil {
		return Tenant{}, err
	}
	if err := ValidateTenantID(id); err != nil {
		return Tenant{}, err
	}
	var r tenantRecord
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getTenant(tx, id)
		return err
	})
	if err != nil {
		return Tenant{}, err
	}
	return r.public(), nil
}

// ListTenants returns all tenants sorted by id.
func (v *Vault) ListTenants(ctx context.Context) ([]Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []Tenant{}
	err := v.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTenants).ForEach(func(k, raw []byte) error {
			var r tenantRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode tenant %q: %w", k, err)
			}
			out = append(out, r.public())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID }) // bbolt order already; keep explicit
	return out, nil
}

// UpdateTenantName changes a tenant's display name.
func (v *Vault) UpdateTenantName(ctx context.Context, id, name string) (Tenant, error) {
	if err := ctx.Err(); err != nil {
		return Tenant{}, err
	}
	if err := ValidateTenantID(id); err != nil {
		return Tenant{}, err
	}
	if err := ValidateTenantName(name); err != nil {
		return Tenant{}, err
	}
	var r tenantRecord
	err := v.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getTenant(tx, id); err != nil {
			return err
		}
		r.Name = name
		r.UpdatedAt = v.now().UTC()
		return putJSON(tx.Bucket(bucketTenants), []byte(id), r)
	})
	if err != nil {
		return Tenant{}, err
	}
	return r.public(), nil
}

// DeleteTenant removes the tenant and everything under it (users, tokens,
// sessions, session values, credentials, OAuth providers, pending OAuth
// states, tool settings) in one transaction. Subscribers are told
// (TenantDeleted) before it returns.
func (v *Vault) DeleteTenant(ctx context.Context, id string) error {
	_, err := v.DeleteTenantCounted(ctx, id)
	return err
}

// TenantCounts says how much a tenant holds: what deleting it takes along.
type TenantCounts struct {
	Users            int // registered users, the local owner included
	Tokens           int // user tokens, revoked and expired ones included
	Sessions         int // MCP sessions
	Providers        int // external OAuth providers
	OAuthConnections int // users' OAuth token sets
	APIKeys          int // users' API keys
}

// CountTenant says how much tenant id holds (ErrNotFound if it does not
// exist), for a warning before it is deleted.
func (v *Vault) CountTenant(ctx context.Context, id string) (TenantCounts, error) {
	if err := ctx.Err(); err != nil {
		return TenantCounts{}, err
	}
	if err := ValidateTenantID(id); err != nil {
		return TenantCounts{}, err
	}
	var n TenantCounts
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, id); err != nil {
			return err
		}
		var err error
		n, err = countTenant(tx, id)
		return err
	})
	return n, err
}

// countTenant counts tenant id's records in tx.
func countTenant(tx *bolt.Tx, id string) (TenantCounts, error) {
	var n TenantCounts
	prefix := scoped(id, "")
	count := func(bucket []byte, dst *int) error {
		return forPrefix(tx.Bucket(bucket), prefix, func(_, _ []byte) error { *dst++; return nil })
	}
	for _, c := range []struct {
		bucket []byte
		dst    *int
	}{
		{bucketUsers, &n.Users}, {bucketTokenIDs, &n.Tokens}, {bucketSessions, &n.Sessions}, {bucketProviders, &n.Providers},
	} {
		if err := count(c.bucket, c.dst); err != nil {
			return n, err
		}
	}
	err := forPrefix(tx.Bucket(bucketCredentials), prefix, func(k, _ []byte) error {
		switch _, _, kind, _, _ := splitCredentialKey(k); kind {
		case CredentialOAuth:
			n.OAuthConnections++
		case CredentialAPIKey:
			n.APIKeys++
		}
		return nil
	})
	return n, err
}

// DeleteTenantCounted is DeleteTenant, and says what went with the tenant
// (counted in the same transaction).
func (v *Vault) DeleteTenantCounted(ctx context.Context, id string) (TenantCounts, error) {
	if err := ctx.Err(); err != nil {
		return TenantCounts{}, err
	}
	if err := ValidateTenantID(id); err != nil {
		return TenantCounts{}, err
	}
	var n TenantCounts
	err := v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, id); err != nil {
			return err
		}
		var err error
		if n, err = countTenant(tx, id); err != nil {
			return fmt.Errorf("count what tenant %q holds: %w", id, err)
		}
		announce(Change{Kind: TenantDeleted, TenantID: id})
		prefix := scoped(id, "")
		// Tokens are keyed by hash; their tenant index names them.
		ids, tokens := tx.Bucket(bucketTokenIDs), tx.Bucket(bucketTokens)
		c := ids.Cursor()
		for k, h := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, h = c.Next() {
			if err := tokens.Delete(h); err != nil {
				return err
			}
		}
		for _, name := range tenantScoped {
			if _, err := deletePrefix(tx.Bucket(name), prefix); err != nil {
				return fmt.Errorf("delete tenant %q from %s: %w", id, name, err)
			}
		}
		for _, name := range tenantKeyed {
			if err := tx.Bucket(name).Delete([]byte(id)); err != nil {
				return fmt.Errorf("delete tenant %q from %s: %w", id, name, err)
			}
		}
		// OAuth states are keyed by the state string; scan for the tenant's.
		if _, err := deleteOAuthStatesWhere(tx, func(s OAuthState) bool { return s.TenantID == id }); err != nil {
			return fmt.Errorf("delete tenant %q from %s: %w", id, bucketOAuthStates, err)
		}
		return tx.Bucket(bucketTenants).Delete([]byte(id))
	})
	if err != nil {
		return TenantCounts{}, err
	}
	return n, nil
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// SetHostAppSecret stores the SHA-256 of a tenant's host-app secret (the
// secret itself is shown once by the caller and never stored). An empty
// secret removes the tenant's secret.
func (v *Vault) SetHostAppSecret(ctx context.Context, tenantID, secret string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	return v.db.Update(func(tx *bolt.Tx) error {
		_, err := putHostSecret(tx, tenantID, secret, v.now().UTC())
		return err
	})
}

// putHostSecret sets (or, with "", removes) the host-app secret of an
// existing tenant in tx and returns the record as stored. A secret over
// 1024 bytes is ErrInvalid.
func putHostSecret(tx *bolt.Tx, tenantID, secret string, now time.Time) (tenantRecord, error) {
	if len(secret) > maxSecretLen {
		return tenantRecord{}, invalidf("host-app secret: at most %d bytes", maxSecretLen)
	}
	r, err := getTenant(tx, tenantID)
	if err != nil {
		return r, err
	}
	r.HostSecretSHA256 = ""
	if secret != "" {
		r.HostSecretSHA256 = sha256Hex(secret)
	}
	r.UpdatedAt = now
	return r, putJSON(tx.Bucket(bucketTenants), []byte(tenantID), r)
}

// CheckHostAppSecret reports whether presented matches the tenant's
// host-app secret (constant-time). ok is false when the tenant has none.
func (v *Vault) CheckHostAppSecret(ctx context.Context, tenantID, presented string) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return false, err
	}
	var stored string
	err = v.db.View(func(tx *bolt.Tx) error {
		r, err := getTenant(tx, tenantID)
		stored = r.HostSecretSHA256
		return err
	})
	if err != nil || stored == "" || presented == "" {
		return false, err
	}
	want, ok := parseDigest(stored)
	if !ok {
		return false, fmt.Errorf("host-app secret of tenant %q: stored digest is malformed", tenantID)
	}
	return DigestSecret(presented).Equal(want), nil
}

// nowUTC is the vault clock in UTC.
func (v *Vault) nowUTC() time.Time { return v.now().UTC() }

// forPrefix calls fn for every key of b starting with prefix.
func forPrefix(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
		if err := fn(k, val); err != nil {
			return err
		}
	}
	return nil
}
