package vault

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/plexus-mcp/plexus/vault/egress"
)

const (
	maxProviderNameLen = 63
	maxClientIDLen     = 512
	maxClientSecretLen = 4096
	maxURLLen          = 2048
	maxScopes          = 64
	maxScopeLen        = 256
	maxPresetLen       = 63
	maxAPIOrigins      = 32
)

// GuestOAuthValueKeyPrefix prefixes the session value key under which a
// guest's OAuth token set for a provider lives ("oauth:<provider>").
// DeleteOAuthProvider removes these session values too, so a provider
// re-created under the same name never receives an old guest token.
const GuestOAuthValueKeyPrefix = "oauth:"

// providerSecretAAD names a provider's sealed client secret; binding is
// the provider's Binding(), so the secret opens only for the endpoints,
// client id and API origins it was stored with.
func providerSecretAAD(tenantID, name, binding string) string {
	return "oauth-provider|" + tenantID + "|" + name + "|" + binding
}

// Binding is a digest (hex SHA-256) of where p's secrets go: its
// authorization, token, revocation and userinfo URLs, its client id and
// its API origins, as the vault stores them. It is part of the AAD of the
// sealed client secret and of every user's token set for p, so changing
// any of them, through the API or by editing the file, makes both fail to
// open. Guests' token sets carry it inside the sealed value.
func (p OAuthProvider) Binding() string {
	h := sha256.New()
	var n [8]byte
	for _, f := range []string{p.AuthorizationURL, p.TokenURL, p.RevocationURL, p.UserinfoURL, p.ClientID, strings.Join(p.APIOrigins, "\n")} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bindingChanges names the fields of Binding that differ between a and b.
func bindingChanges(a, b OAuthProvider) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{"authorization url", a.AuthorizationURL, b.AuthorizationURL},
		{"token url", a.TokenURL, b.TokenURL},
		{"revocation url", a.RevocationURL, b.RevocationURL},
		{"userinfo url", a.UserinfoURL, b.UserinfoURL},
		{"client id", a.ClientID, b.ClientID},
		{"api origins", strings.Join(a.APIOrigins, "\n"), strings.Join(b.APIOrigins, "\n")},
	} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	return out
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

// validEndpointURL checks an endpoint the daemon sends a secret to with
// the one credential-URL validator (egress.CheckURL): absolute, https
// (http only for loopback hosts), no user info, no fragment. The URL itself
// is not echoed (it may carry query parameters).
func validEndpointURL(field, s string, required bool) error {
	if s == "" {
		if required {
			return invalidf("%s: must not be empty", field)
		}
		return nil
	}
	if err := egress.CheckURL(s); err != nil {
		return invalidf("%s: %v", field, err)
	}
	return nil
}

// cleanAPIOrigins checks a provider's API origins and returns them
// canonical, sorted and without duplicates. None given means the origin of
// the userinfo URL (a protected resource of the provider by definition);
// with no userinfo URL either, at least one is required.
func cleanAPIOrigins(p OAuthProvider) ([]string, error) {
	in := p.APIOrigins
	if len(in) == 0 && p.UserinfoURL != "" {
		o, err := egress.OriginOfURL(p.UserinfoURL)
		if err != nil {
			return nil, invalidf("userinfo url: %v", err)
		}
		in = []string{string(o)}
	}
	if len(in) == 0 {
		return nil, invalidf("api origins: at least one is required: the origins (https://host[:port]) of the API the provider's access tokens are sent to, e.g. https://api.example.com; Plexus sends the tokens nowhere else")
	}
	if len(in) > maxAPIOrigins {
		return nil, invalidf("api origins: at most %d, got %d", maxAPIOrigins, len(in))
	}
	os, err := egress.ParseOrigins(in)
	if err != nil {
		return nil, invalidf("api origins: %v", err)
	}
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = string(o)
	}
	return out, nil
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
	if p.APIOrigins, err = cleanAPIOrigins(p); err != nil {
		return p, err
	}
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
	p.Scopes = slices.Clone(p.Scopes)
	p.APIOrigins = slices.Clone(p.APIOrigins)
	if p.APIOrigins == nil {
		p.APIOrigins = []string{}
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
	return v.Seal(providerSecretAAD(p.TenantID, p.Name, p.Binding()), []byte(p.ClientSecret))
}

// CreateOAuthProvider stores a new provider for a tenant (ErrExists,
// ErrInvalid: name rules, https or loopback http URLs, non-empty client id,
// API origins; ErrNotFound if the tenant does not exist). An empty
// ClientSecret makes a public client. Scopes are stored without
// duplicates; APIOrigins canonical and sorted, and when none are given,
// the origin of UserinfoURL (with neither, ErrInvalid). CreatedAt and
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

// UpdateOAuthProvider replaces a provider's settings (ErrNotFound,
// ErrInvalid as for create); CreatedAt is kept, UpdatedAt set. The
// returned provider has no ClientSecret.
//
// Where a secret goes is part of the secret: when the authorization,
// token, revocation or userinfo URL, the client id or the API origins
// change, ClientSecret must be given again (ErrInvalid naming the changed
// fields; a public client, which has none, needs none), and every user's
// OAuth connection to the provider and guests' token sets are dropped in
// the same transaction (they consent again). dropped says how many. When
// none of those change, an empty ClientSecret keeps the stored one.
func (v *Vault) UpdateOAuthProvider(ctx context.Context, p OAuthProvider) (updated OAuthProvider, dropped int, err error) {
	if err := ctx.Err(); err != nil {
		return OAuthProvider{}, 0, err
	}
	p, err = checkProvider(p)
	if err != nil {
		return OAuthProvider{}, 0, err
	}
	sealed, err := v.sealSecret(p)
	if err != nil {
		return OAuthProvider{}, 0, err
	}
	var r providerRecord
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		old, err := getProviderRecord(tx, p.TenantID, p.Name)
		if err != nil {
			return err
		}
		announce(Change{Kind: ProviderChanged, TenantID: p.TenantID, Provider: p.Name})
		changed := bindingChanges(old.OAuthProvider, p)
		if sealed == nil && old.SealedSecret != nil {
			if len(changed) > 0 {
				return invalidf("client secret: required when the %s change (a client secret is bound to the provider's endpoints, client id and API origins)", strings.Join(changed, ", "))
			}
			sealed = old.SealedSecret
		}
		if len(changed) > 0 {
			if dropped, err = dropProviderConnections(tx, p.TenantID, p.Name); err != nil {
				return err
			}
		}
		p.CreatedAt = old.CreatedAt
		p.UpdatedAt = v.nowUTC()
		r = providerRecord{OAuthProvider: p, SealedSecret: sealed}
		return putJSON(tx.Bucket(bucketProviders), scoped(p.TenantID, p.Name), r)
	})
	if err != nil {
		return OAuthProvider{}, 0, err
	}
	return r.public(), dropped, nil
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
		secret, err := v.Unseal(providerSecretAAD(tenantID, name, r.OAuthProvider.Binding()), r.SealedSecret)
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
		_, err := dropProviderConnections(tx, tenantID, name)
		return err
	})
}

// dropProviderConnections deletes every user's OAuth credential for a
// tenant's provider and guests' token sets for it (session values
// GuestOAuthValueKeyPrefix+name), and returns how many it deleted.
func dropProviderConnections(tx *bolt.Tx, tenantID, name string) (int, error) {
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
		return 0, err
	}
	for _, k := range dead {
		if err := creds.Delete(k); err != nil {
			return 0, err
		}
	}
	n := len(dead)
	dead = dead[:0]
	values := tx.Bucket(bucketSessionValues)
	suffix := "\x00" + GuestOAuthValueKeyPrefix + name
	err = forPrefix(values, prefix, func(k, _ []byte) error {
		if strings.HasSuffix(string(k), suffix) && strings.Count(string(k), "\x00") == 2 {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := values.Delete(k); err != nil {
			return 0, err
		}
	}
	return n + len(dead), nil
}
