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

// noProviderBinding stands for the binding of an OAuth credential whose
// provider does not exist.
const noProviderBinding = "-"

// credentialSealAAD is the AAD a credential is sealed with. An OAuth token
// set's AAD also names the Binding() of its provider as stored now (or
// noProviderBinding), so a token set stops opening when the provider's
// endpoints, client id or API origins change, even by an edit of the file.
func credentialSealAAD(tx *bolt.Tx, tenantID, userID string, kind CredentialKind, provider string) (string, error) {
	aad := credentialAAD(tenantID, userID, kind, provider)
	if kind != CredentialOAuth {
		return aad, nil
	}
	var r providerRecord
	found, err := getJSON(tx.Bucket(bucketProviders), scoped(tenantID, provider), &r)
	if err != nil {
		return "", err
	}
	if !found {
		return aad + "|" + noProviderBinding, nil
	}
	return aad + "|" + r.OAuthProvider.Binding(), nil
}

// credentialRecord is the stored form of a credential: when it was written,
// its version (from the bucket's sequence, so never reused, even after a
// delete) and the sealed value.
type credentialRecord struct {
	UpdatedAt time.Time `json:"updated_at"`
	Version   uint64    `json:"version"`
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
// sealed with AAD "credential|<tenant>|<user>|<kind>|<provider>" (for an
// OAuth token set, followed by "|<provider binding>", see
// OAuthProvider.Binding). The tenant and user must exist (ErrNotFound).
// The value is 1 byte to 64 KiB; the provider follows
// ValidateProviderName (ErrInvalid).
func (v *Vault) PutCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, value []byte) error {
	_, err := v.putCredential(ctx, tenantID, userID, kind, provider, value, nil)
	return err
}

// PutCredentialIf is PutCredential as a compare-and-swap: it writes only if
// the credential's current version is expected (0: it must not exist), and
// otherwise returns ErrConflict and writes nothing. It returns the new
// version. Writers that read, work (a token refresh) and write back use it
// so a disconnect or a new consent in between is never overwritten.
func (v *Vault) PutCredentialIf(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, value []byte, expected uint64) (uint64, error) {
	return v.putCredential(ctx, tenantID, userID, kind, provider, value, &expected)
}

func (v *Vault) putCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, value []byte, expected *uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := validCredentialKey(tenantID, userID, kind, provider); err != nil {
		return 0, err
	}
	switch {
	case len(value) == 0:
		return 0, invalidf("credential value for %q: must not be empty", provider)
	case len(value) > maxCredentialLen:
		return 0, invalidf("credential value for %q: at most %d bytes, got %d", provider, maxCredentialLen, len(value))
	}
	var version uint64
	err := v.update(func(tx *bolt.Tx, announce func(Change)) error {
		var err error
		version, err = v.putCredentialTx(tx, announce, tenantID, userID, kind, provider, value, expected)
		return err
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// putCredentialTx is putCredential's write, inside tx (its arguments
// already checked).
func (v *Vault) putCredentialTx(tx *bolt.Tx, announce func(Change), tenantID, userID string, kind CredentialKind, provider string, value []byte, expected *uint64) (uint64, error) {
	if _, err := getTenant(tx, tenantID); err != nil {
		return 0, err
	}
	if _, err := getUser(tx, tenantID, userID); err != nil {
		return 0, err
	}
	b := tx.Bucket(bucketCredentials)
	key := credentialKey(tenantID, userID, kind, provider)
	if expected != nil {
		if err := checkVersion(b, key, *expected); err != nil {
			return 0, fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, err)
		}
	}
	aad, err := credentialSealAAD(tx, tenantID, userID, kind, provider)
	if err != nil {
		return 0, err
	}
	sealed, err := v.Seal(aad, value)
	if err != nil {
		return 0, err
	}
	version, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	announce(Change{Kind: CredentialChanged, TenantID: tenantID, UserID: userID, CredentialKind: kind, Provider: provider})
	r := credentialRecord{UpdatedAt: v.nowUTC(), Version: version, Sealed: sealed}
	return version, putJSON(b, key, r)
}

// checkVersion reports ErrConflict unless the record at key has version
// expected (0: no record).
func checkVersion(b *bolt.Bucket, key []byte, expected uint64) error {
	var r credentialRecord
	found, err := getJSON(b, key, &r)
	if err != nil {
		return err
	}
	switch {
	case !found && expected == 0:
		return nil
	case !found:
		return fmt.Errorf("deleted since read: %w", ErrConflict)
	case r.Version != expected:
		return fmt.Errorf("written since read: %w", ErrConflict)
	}
	return nil
}

// GetCredential returns a credential's value (ErrNotFound; ErrDecrypt if
// the stored value was sealed for another record, or — for an OAuth token
// set — for other provider settings).
func (v *Vault) GetCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string) ([]byte, error) {
	val, _, err := v.GetCredentialVersion(ctx, tenantID, userID, kind, provider)
	return val, err
}

// GetCredentialVersion is GetCredential that also returns the credential's
// version, for PutCredentialIf and DeleteCredentialIf. On ErrDecrypt the
// version is still returned, so the caller can replace or delete the
// record that no longer opens.
func (v *Vault) GetCredentialVersion(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := validCredentialKey(tenantID, userID, kind, provider); err != nil {
		return nil, 0, err
	}
	var (
		r   credentialRecord
		aad string
	)
	err := v.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketCredentials), credentialKey(tenantID, userID, kind, provider), &r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, ErrNotFound)
		}
		aad, err = credentialSealAAD(tx, tenantID, userID, kind, provider)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	val, err := v.Unseal(aad, r.Sealed)
	if err != nil {
		return nil, r.Version, fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, err)
	}
	return val, r.Version, nil
}

// DeleteCredential removes a credential (ErrNotFound if absent).
func (v *Vault) DeleteCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string) error {
	return v.deleteCredential(ctx, tenantID, userID, kind, provider, nil)
}

// DeleteCredentialIf removes a credential only if its version is expected
// (ErrNotFound if absent, ErrConflict if it was written since).
func (v *Vault) DeleteCredentialIf(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, expected uint64) error {
	return v.deleteCredential(ctx, tenantID, userID, kind, provider, &expected)
}

func (v *Vault) deleteCredential(ctx context.Context, tenantID, userID string, kind CredentialKind, provider string, expected *uint64) error {
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
		if expected != nil {
			if err := checkVersion(b, key, *expected); err != nil {
				return fmt.Errorf("%s credential %q of user %q in tenant %q: %w", kind, provider, userID, tenantID, err)
			}
		}
		announce(Change{Kind: CredentialChanged, TenantID: tenantID, UserID: userID, CredentialKind: kind, Provider: provider})
		return b.Delete(key)
	})
}

// SwapSessionValue is a compare-and-swap of a session value, for guests'
// credentials (which live in their session): it writes value only if the
// current value equals old (nil: it must be unset), and otherwise returns
// ErrConflict and writes nothing; a nil value deletes it. The session must
// be live (ErrNotFound). Size and key rules are SetSessionValue's.
func (v *Vault) SwapSessionValue(ctx context.Context, tenantID, sessionID, key string, old, value []byte) error {
	if err := checkSessionValue(ctx, tenantID, sessionID, key, value); err != nil {
		return err
	}
	aad := sessionValueAAD(tenantID, sessionID, key)
	var sealed []byte
	if value != nil {
		var err error
		if sealed, err = v.Seal(aad, value); err != nil {
			return err
		}
	}
	hash := SessionHash(sessionID)
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getSessionRecord(tx, tenantID, hash, v.now()); err != nil {
			return err
		}
		b := tx.Bucket(bucketSessionValues)
		k := scoped(tenantID, hash, key)
		cur := b.Get(k)
		switch {
		case cur == nil && old != nil:
			return fmt.Errorf("session value %q: deleted since read: %w", clip(key), ErrConflict)
		case cur != nil && old == nil:
			return fmt.Errorf("session value %q: written since read: %w", clip(key), ErrConflict)
		case cur != nil:
			plain, err := v.Unseal(aad, cur)
			if err != nil || !bytes.Equal(plain, old) {
				return fmt.Errorf("session value %q: written since read: %w", clip(key), ErrConflict)
			}
		}
		if sealed == nil {
			return b.Delete(k)
		}
		return b.Put(k, sealed)
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
