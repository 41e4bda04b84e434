package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	bolt "go.etcd.io/bbolt"
)

const (
	maxProviderNameLen = 63
	maxClientIDLen     = 512
	maxClientSecretLen = 4096
	maxURLLen          = 2048
	maxScopes          = 64
	maxScopeLen        = 256
	maxPresetLen       = 63
)

// GuestOAuthValueKeyPrefix prefixes the session value key under which a
// guest's OAuth token set for a provider lives ("oauth:<provider>").
// DeleteOAuthProvider removes these session values too, so a provider
// re-created under the same name never receives an old guest token.
const GuestOAuthValueKeyPrefix = "oauth:"

func providerSecretAAD(tenantID, name string) string {
	return "oauth-provider|" + tenantID + "|" + name
}

// validSlug checks a tenant-id-like name: 1-63 chars of [a-z0-9_-],
// starting with a letter or digit.
func validSlug(field, s string, max int) error {
	switch {
	case s == "":
		return invalidf("%s: must not be empty", field)
	case len(s) > max:
		return invalidf("%s %q: at most %d characters", field, clip(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalidf(`%s %q: use lowercase letters, digits, "-" and "_"`, field, clip(s))
		}
	}
	if c := s[0]; c == '-' || c == '_' {
		return invalidf("%s %q: must start with a letter or digit", field, s)
	}
	return nil
}

// ValidateProviderName checks an OAuth provider or API-key provider name:
// 1-63 chars of [a-z0-9_-], starting with a letter or digit (a tenant id's
// rules without the reserved words). The error wraps ErrInvalid.
func ValidateProviderName(name string) error {
	return validSlug("provider name", name, maxProviderNameLen)
}

// isLoopbackHost reports whether host (no port, no brackets) is localhost,
// 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validEndpointURL checks an endpoint the daemon contacts: absolute, https
// (http only for loopback hosts), no user info, no fragment. The URL itself
// is not echoed (it may carry query parameters).
func validEndpointURL(field, s string, required bool) error {
	if s == "" {
		if required {
			return invalidf("%s: must not be empty", field)
		}
		return nil
	}
	if len(s) > maxURLLen {
		return invalidf("%s: at most %d bytes", field, maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalidf("%s: not a valid URL", field)
	}
	if !u.IsAbs() || u.Host == "" {
		return invalidf("%s: must be an absolute URL with a host", field)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return invalidf("%s: must use https (http only for localhost, 127.0.0.0/8 or ::1)", field)
	default:
		return invalidf("%s: scheme %q not allowed, use https", field, clip(u.Scheme))
	}
	if u.User != nil {
		return invalidf("%s: must not contain user info", field)
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return invalidf("%s: must not contain a fragment", field)
	}
	return nil
}

// validResource checks an RFC 8707 resource indicator: optional, an
// absolute URI without a fragment.
func validResource(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxURLLen {
		return invalidf("resource: at most %d bytes", maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalidf("resource: not a valid URL")
	}
	if !u.IsAbs() {
		return invalidf("resource: must be an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return invalidf("resource: must not contain a fragment")
	}
	return nil
}

// cleanScopes checks scopes (RFC 6749 scope-tokens: printable ASCII without
// space, '"' or '\'; at most 64) and returns them without duplicates, in
// their first order, never nil.
func cleanScopes(scopes []string) ([]string, error) {
	if len(scopes) > maxScopes {
		return nil, invalidf("scopes: at most %d, got %d", maxScopes, len(scopes))
	}
	out := make([]string, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for i, s := range scopes {
		if s == "" {
			return nil, invalidf("scope %d: must not be empty", i+1)
		}
		if len(s) > maxScopeLen {
			return nil, invalidf("scope %d: at most %d bytes", i+1, maxScopeLen)
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c <= ' ' || c > '~' || c == '"' || c == '\\' {
				return nil, invalidf(`scope %q: use printable ASCII without spaces, '"' or '\'`, clip(s))
			}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// checkProvider validates p and returns it with cleaned scopes.
func checkProvider(p OAuthProvider) (OAuthProvider, error) {
	if err := ValidateTenantID(p.TenantID); err != nil {
		return p, err
	}
	if err := ValidateProviderName(p.Name); err != nil {
		return p, err
	}
	if p.Preset != "" {
		if err := validSlug("preset", p.Preset, maxPresetLen); err != nil {
			return p, err
		}
	}
	if p.ClientID == "" {
		return p, invalidf("client id: must not be empty")
	}
	if err := validText("client id", p.ClientID, maxClientIDLen); err != nil {
		return p, err
	}
	if len(p.ClientSecret) > maxClientSecretLen {
		return p, invalidf("client secret: at most %d bytes", maxClientSecretLen)
	}
	for _, f := range []struct {
		name, val string
		required  bool
	}{
		{"authorization url", p.AuthorizationURL, true},
		{"token url", p.TokenURL, true},
		{"userinfo url", p.UserinfoURL, false},
		{"revocation url", p.RevocationURL, false},
	} {
		if err := validEndpointURL(f.name, f.val, f.required); err != nil {
			return p, err
		}
	}
	if err := validResource(p.Resource); err != nil {
		return p, err
	}
	var err error
	p.Scopes, err = cleanScopes(p.Scopes)
	return p, err
}

// providerRecord is the stored form of a provider: the public fields plus
// the sealed client secret (nil when the client has none).
type providerRecord struct {
	OAuthProvider
	SealedSecret []byte `json:"client_secret_sealed,omitempty"`
}

func (r providerRecord) public() OAuthProvider {
	p := r.OAuthProvider
	p.ClientSecret = ""
	if p.Scopes == nil {
		p.Scopes = []string{}
	}
	return p
}

func getProviderRecord(tx *bolt.Tx, tenantID, name string) (providerRecord, error) {
	var r providerRecord
	found, err := getJSON(tx.Bucket(bucketProviders), scoped(tenantID, name), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("oauth provider %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	return r, nil
}

// sealSecret seals a provider's client secret ("" stays nil).
func (v *Vault) sealSecret(p OAuthProvider) ([]byte, error) {
	if p.ClientSecret == "" {
		return nil, nil
	}
	return v.Seal(providerSecretAAD(p.TenantID, p.Name), []byte(p.ClientSecret))
}

// CreateOAuthProvider stores a new provider for a tenant (ErrExists,
// ErrInvalid: name rules, https or loopback http URLs, non-empty client id;
// ErrNotFound if the tenant does not exist). An empty ClientSecret makes a
// public client. Scopes are stored without duplicates. CreatedAt and
// UpdatedAt are set by the vault. The returned provider has no ClientSecret.
func (v *Vault) CreateOAuthProvider(ctx context.Context, p OAuthProvider) (OAuthProvider, error) {
	if err := ctx.Err(); err != nil {
		return OAuthProvider{}, err
	}
	p, err := checkProvider(p)
	if err != nil {
		return OAuthProvider{}, err
	}
	sealed, err := v.sealSecret(p)
	if err != nil {
		return OAuthProvider{}, err
	}
	now := v.nowUTC()
	p.CreatedAt, p.UpdatedAt = now, now
	r := providerRecord{OAuthProvider: p, SealedSecret: sealed}
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, p.TenantID); err != nil {
			return err
		}
		announce(Change{Kind: ProviderChanged, TenantID: p.TenantID, Provider: p.Name})
		b := tx.Bucket(bucketProviders)
		key := scoped(p.TenantID, p.Name)
		if b.Get(key) != nil {
			return fmt.Errorf("oauth provider %q of tenant %q: %w", p.Name, p.TenantID, ErrExists)
		}
		return putJSON(b, key, r)
	})
	if err != nil {
		return OAuthProvider{}, err
	}
	return r.public(), nil
}

// UpdateOAuthProvider replaces a provider's settings; an empty ClientSecret
// keeps the stored one. CreatedAt is kept, UpdatedAt set (ErrNotFound,
// ErrInvalid as for create). The returned provider has no ClientSecret.
func (v *Vault) UpdateOAuthProvider(ctx context.Context, p OAuthProvider) (OAuthProvider, error) {
	if err := ctx.Err(); err != nil {
		return OAuthProvider{}, err
	}
	p, err := checkProvider(p)
	if err != nil {
		return OAuthProvider{}, err
	}
	sealed, err := v.sealSecret(p)
	if err != nil {
		return OAuthProvider{}, err
	}
	var r providerRecord
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		old, err := getProviderRecord(tx, p.TenantID, p.Name)
		if err != nil {
			return err
		}
		announce(Change{Kind: ProviderChanged, TenantID: p.TenantID, Provider: p.Name})
		if sealed == nil {
			sealed = old.SealedSecret
		}
		p.CreatedAt = old.CreatedAt
		p.UpdatedAt = v.nowUTC()
		r = providerRecord{OAuthProvider: p, SealedSecret: sealed}
		return putJSON(tx.Bucket(bucketProviders), scoped(p.TenantID, p.Name), r)
	})
	if err != nil {
		return OAuthProvider{}, err
	}
	return r.public(), nil
}

// GetOAuthProvider returns a provider with its client secret unsealed.
func (v *Vault) GetOAuthProvider(ctx context.Context, tenantID, name string) (OAuthProvider, error) {
	if err := ctx.Err(); err != nil {
		return OAuthProvider{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return OAuthProvider{}, err
	}
	if err := ValidateProviderName(name); err != nil {
		return OAuthProvider{}, err
	}
	var r providerRecord
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getProviderRecord(tx, tenantID, name)
		return err
	})
	if err != nil {
		return OAuthProvider{}, err
	}
	p := r.public()
	if r.SealedSecret != nil {
		secret, err := v.Unseal(providerSecretAAD(tenantID, name), r.SealedSecret)
		if err != nil {
			return OAuthProvider{}, fmt.Errorf("oauth provider %q of tenant %q: client secret: %w", name, tenantID, err)
		}
		p.ClientSecret = string(secret)
	}
	return p, nil
}

// ListOAuthProviders returns a tenant's providers sorted by name, without
// client secrets (ErrNotFound if the tenant does not exist).
func (v *Vault) ListOAuthProviders(ctx context.Context, tenantID string) ([]OAuthProvider, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []OAuthProvider{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		// Keys "tenant\x00name" sort by name within the tenant.
		return forPrefix(tx.Bucket(bucketProviders), scoped(tenantID, ""), func(k, raw []byte) error {
			var r providerRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode oauth provider %q: %w", clip(string(k)), err)
			}
			out = append(out, r.public())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteOAuthProvider removes a provider and every user's OAuth credential
// for it, and guests' token sets for it (session values
// GuestOAuthValueKeyPrefix+name), in one transaction (ErrNotFound if the
// provider does not exist). API keys of the same provider name are kept.
func (v *Vault) DeleteOAuthProvider(ctx context.Context, tenantID, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := ValidateProviderName(name); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getProviderRecord(tx, tenantID, name); err != nil {
			return err
		}
		announce(Change{Kind: ProviderChanged, TenantID: tenantID, Provider: name, ProviderDeleted: true})
		if err := tx.Bucket(bucketProviders).Delete(scoped(tenantID, name)); err != nil {
			return err
		}
		prefix := scoped(tenantID, "")
		var dead [][]byte
		creds := tx.Bucket(bucketCredentials)
		err := forPrefix(creds, prefix, func(k, _ []byte) error {
			if _, _, kind, provider, ok := splitCredentialKey(k); ok && kind == CredentialOAuth && provider == name {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := creds.Delete(k); err != nil {
				return err
			}
		}
		dead = dead[:0]
		values := tx.Bucket(bucketSessionValues)
		suffix := []byte("\x00" + GuestOAuthValueKeyPrefix + name)
		err = forPrefix(values, prefix, func(k, _ []byte) error {
			if strings.HasSuffix(string(k), string(suffix)) && strings.Count(string(k), "\x00") == 2 {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := values.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
