package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

const maxCredentialLen = 64 << 10

// MaxAPIKeyLen bounds an API key's value (bytes).
const MaxAPIKeyLen = 8 << 10

// ValidateAPIKeyValue checks an API key before it is stored: not empty or
// blank, at most MaxAPIKeyLen bytes, valid UTF-8, no control characters
// (keys travel in HTTP headers). The error wraps ErrInvalid, names the
// rule broken and never contains the key; callers prefix the field name.
func ValidateAPIKeyValue(key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return invalidf("must not be empty")
	case len(key) > MaxAPIKeyLen:
		return invalidf("longer than %d bytes", MaxAPIKeyLen)
	case !utf8.ValidString(key):
		return invalidf("not valid UTF-8")
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return invalidf("must not contain control characters (newlines, tabs)")
		}
	}
	return nil
}

func credentialAAD(tenantID, userID string, kind CredentialKind, provider string) string {
	return "credential|" + tenantID + "|" + userID + "|" + string(kind) + "|" + provider
}

// credentialRecord is the stored form of a credential: when it was written
// and the sealed value.
type credentialRecord struct {
	UpdatedAt time.Time `json:"updated_at"`
	Sealed    []byte    `json:"sealed"`
}

func validKind(kind CredentialKind) error {
	switch kind {
	case CredentialOAuth, CredentialAPIKey:
		return nil
	}
	return invalidf("credential kind %q: want %q or %q", clip(string(kind)), CredentialOAuth, CredentialAPIKey)
}

func validCredentialKey(tenantID, userID string, kind CredentialKind, provider string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := validID("user id", userID, maxHostUserIDLen); err != nil {
		return err
	}
	if err := validKind(kind); err != nil {
		return err
	}
	return ValidateProviderName(provider)
}

func credentialKey(tenantID, userID string, kind CredentialKind, provider string) []byte {
	return scoped(tenantID, userID, string(kind), provider)
}

// splitCredentialKey parses "tenant\x00user\x00kind\x00provider".
func splitCredentialKey(k []byte) (tenantID, userID string, kind CredentialKind, provider string, ok bool) {
	parts := bytes.Split(k, []byte{0})
	if len(parts) != 4 {
		return "", "", "", "", false
	}
	return string(parts[0]), string(parts[1]), CredentialKind(parts[2]), string(parts[3]), true
}

// PutCredential stores (creates or replaces) a registered user's credential,
// sealed with AAD "credential|<tenant>|<user>|<kind>|<provider>". The tenant
// and user must exist (ErrNotFound). The value is 1 byte to 64 KiB; the
// provider follows ValidateProviderName (ErrInvalid).
func (v *Vault) PutCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validCredentialKey(tenantID, userID, kind, provider); err != nil {
		return err
	}
	switch {
	case len(value) == 0:
		return invalidf("credential value for %q: must not be empty", provider)
	case len(value) > maxCredentialLen:
		return invalidf("credential value for %q: at most %d bytes, got %d", provider, maxCredentialLen, len(value))
	}
	sealed, err := v.Seal(credentialAAD(tenantID, userID, kind, provider), value)
	if err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		if _, err := getUser(tx, tenantID, userID); err != nil {
			return err
		}
		announce(Change{Kind: CredentialChanged, TenantID: tenantID, UserID: userID, CredentialKind: kind, Provider: provider})
		r := credentialRecord{UpdatedAt: v.nowUTC(), Sealed: sealed}
		return putJSON(tx.Bucket(bucketCredentials), credentialKey(tenantID, userID, kind, provider), r)
	})
}

// GetCredential returns a credential's value (ErrNotFound; ErrDecrypt if
// the stored value was sealed for another record).
func (v *Vault) GetCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validCredentialKey(tenantID, userID, kind, provider); err != nil {
		return nil, err
	}
	var r credentialRecord
	err := v.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketCredentials), credentialKey(tenantID, userID, kind, provider), &r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	val, err := v.Unseal(credentialAAD(tenantID, userID, kind, provider), r.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, err)
	}
	return val, nil
}

// DeleteCredential removes a credential (ErrNotFound if absent).
func (v *Vault) DeleteCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validCredentialKey(tenantID, userID, kind, provider); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		b := tx.Bucket(bucketCredentials)
		key := credentialKey(tenantID, userID, kind, provider)
		if b.Get(key) == nil {
			return fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, ErrNotFound)
		}
		announce(Change{Kind: CredentialChanged, TenantID: tenantID, UserID: userID, CredentialKind: kind, Provider: provider})
		return b.Delete(key)
	})
}

// ListCredentials names a user's credentials (userID "" = all users of the
// tenant), never their values, sorted by user, kind and provider. The
// tenant must exist (ErrNotFound); an unknown user has none.
func (v *Vault) ListCredentials(ctx context.Context, tenantID, userID string) ([]CredentialInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	prefix := scoped(tenantID, "")
	if userID != "" {
		if err := validID("user id", userID, maxHostUserIDLen); err != nil {
			return nil, err
		}
		prefix = scoped(tenantID, userID, "")
	}
	out := []CredentialInfo{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketCredentials), prefix, func(k, raw []byte) error {
			t, u, kind, provider, ok := splitCredentialKey(k)
			if !ok || t != tenantID {
				return fmt.Errorf("credential key %q: malformed", clip(string(k)))
			}
			var r credentialRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode credential %q: %w", clip(string(k)), err)
			}
			out = append(out, CredentialInfo{TenantID: t, UserID: u, Kind: kind, Provider: provider, UpdatedAt: r.UpdatedAt})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { // bbolt order already; keep explicit
		a, b := out[i], out[j]
		if a.UserID != b.UserID {
			return a.UserID < b.UserID
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Provider < b.Provider
	})
	return out, nil
}
