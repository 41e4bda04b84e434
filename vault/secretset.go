package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// MinContainedSecretLen is the shortest secret SecretSet.Contains finds
// inside a longer text; shorter secrets are found only as a whole value
// (or a whole token-like run of it).
const MinContainedSecretLen = 8

// SecretSet is every secret the vault holds, in a form that can tell
// whether a text is or contains one of them without keeping the secrets:
// their SHA-256 digests, their lengths, and a seeded 64-bit hash of the
// first MinContainedSecretLen bytes of each (a quick filter). It
// is what the audit log masks arguments against. It is kept in memory
// only, never written.
//
// What it knows: registered users' API keys and OAuth token sets (every
// string of a token set), OAuth providers' client secrets (all three in
// plaintext at build time), tenants' host-app secrets and users' Plexus
// tokens (stored as digests only: matched when a value, or a token-like
// run of it such as the part after "Bearer ", is the secret). Guests'
// session values are sealed under their session id, which the vault does
// not keep, so they are not in the set.
type SecretSet struct {
	digests map[SecretDigest]struct{}
	// starts maps the digest of a secret's first MinContainedSecretLen
	// bytes to the lengths of the secrets that start so.
	starts map[uint64][]int
	// tx is the vault's last committed write when the set was built.
	tx int
}

// NewSecretSet builds a set from secrets in plaintext (tests, and the
// daemon's own tokens); empty strings are skipped.
func NewSecretSet(secrets ...string) *SecretSet {
	s := &SecretSet{digests: map[SecretDigest]struct{}{}, starts: map[uint64][]int{}}
	for _, x := range secrets {
		s.add(x)
	}
	return s
}

func (s *SecretSet) add(secret string) {
	if secret == "" {
		return
	}
	s.digests[DigestSecret(secret)] = struct{}{}
	if len(secret) >= MinContainedSecretLen {
		k := startKey(secret[:MinContainedSecretLen])
		if !slices.Contains(s.starts[k], len(secret)) {
			s.starts[k] = append(s.starts[k], len(secret))
		}
	}
}

// startSeed seeds the quick filter's hash: a process's sets share it, so
// they can be merged. The filter only says where a full digest is worth
// computing; it is never stored.
var startSeed = maphash.MakeSeed()

func startKey(prefix string) uint64 { return maphash.String(startSeed, prefix) }

// Len is how many distinct secrets the set holds.
func (s *SecretSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.digests)
}

// Add returns a set holding s's secrets and extra ones (plaintext); s is
// not changed.
func (s *SecretSet) Add(extra ...string) *SecretSet {
	out := NewSecretSet(extra...)
	out.merge(s)
	if s != nil {
		out.tx = s.tx
	}
	return out
}

// Union returns a set holding the secrets of s and o, as of s's build
// (SecretsChanged asks about s). A cache that unions each new set with
// the last one keeps masking secrets rotated or deleted since.
func (s *SecretSet) Union(o *SecretSet) *SecretSet {
	out := s.Add()
	out.merge(o)
	return out
}

func (s *SecretSet) merge(o *SecretSet) {
	if o == nil {
		return
	}
	for d := range o.digests {
		s.digests[d] = struct{}{}
	}
	for k, ls := range o.starts {
		for _, l := range ls {
			if !slices.Contains(s.starts[k], l) {
				s.starts[k] = append(s.starts[k], l)
			}
		}
	}
}

// Is reports whether v is one of the secrets.
func (s *SecretSet) Is(v string) bool {
	if s == nil || v == "" {
		return false
	}
	_, ok := s.digests[DigestSecret(v)]
	return ok
}

// Contains reports whether v is a secret, contains a secret of at least
// MinContainedSecretLen bytes, or has a token-like run (letters, digits
// and . _ ~ + / = -, split at anything else) that is a secret.
func (s *SecretSet) Contains(v string) bool {
	if s == nil || len(s.digests) == 0 || v == "" {
		return false
	}
	if s.Is(v) {
		return true
	}
	for i := 0; i+MinContainedSecretLen <= len(v); i++ {
		for _, l := range s.starts[startKey(v[i:i+MinContainedSecretLen])] {
			if i+l <= len(v) && s.Is(v[i:i+l]) {
				return true
			}
		}
	}
	for run := range strings.FieldsFuncSeq(v, notTokenChar) {
		if len(run) != len(v) && s.Is(run) {
			return true
		}
	}
	return false
}

func notTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("._~+/=-", r)
}

// Secrets builds the SecretSet of everything the vault stores now (see
// SecretSet for what that is). A record that does not open is skipped:
// it cannot be used either.
func (v *Vault) Secrets(ctx context.Context) (*SecretSet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := NewSecretSet()
	type sealedCred struct {
		aad    string
		sealed []byte
		oauth  bool
	}
	var creds []sealedCred
	err := v.db.View(func(tx *bolt.Tx) error {
		s.tx = int(tx.ID())
		if b := tx.Bucket(bucketTenants); b != nil {
			_ = b.ForEach(func(_, raw []byte) error {
				var r tenantRecord
				if json.Unmarshal(raw, &r) == nil {
					if d, ok := parseDigest(r.HostSecretSHA256); ok {
						s.digests[d] = struct{}{}
					}
				}
				return nil
			})
		}
		if b := tx.Bucket(bucketTokens); b != nil {
			_ = b.ForEach(func(k, _ []byte) error {
				if d, ok := parseDigest(string(k)); ok {
					s.digests[d] = struct{}{}
				}
				return nil
			})
		}
		if b := tx.Bucket(bucketProviders); b != nil {
			_ = b.ForEach(func(k, raw []byte) error {
				var r providerRecord
				if json.Unmarshal(raw, &r) != nil || r.SealedSecret == nil {
					return nil
				}
				creds = append(creds, sealedCred{aad: providerSecretAAD(r.TenantID, r.Name, r.OAuthProvider.Binding()), sealed: r.SealedSecret})
				return nil
			})
		}
		if b := tx.Bucket(bucketCredentials); b != nil {
			_ = b.ForEach(func(k, raw []byte) error {
				t, u, kind, provider, ok := splitCredentialKey(k)
				if !ok {
					return nil
				}
				var r credentialRecord
				if json.Unmarshal(raw, &r) != nil {
					return nil
				}
				aad, err := credentialSealAAD(tx, t, u, kind, provider)
				if err != nil {
					return nil
				}
				creds = append(creds, sealedCred{aad: aad, sealed: r.Sealed, oauth: kind == CredentialOAuth})
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secret set: %w", err)
	}
	for _, c := range creds {
		plain, err := v.Unseal(c.aad, c.sealed)
		if err != nil {
			continue
		}
		s.add(string(plain))
		if c.oauth {
			addJSONStrings(s, plain)
		}
	}
	return s, nil
}

// addJSONStrings adds the strings of the JSON object raw (an OAuth token
// set) under keys that name a token or secret (access_token,
// refresh_token, id_token), not its token type or expiry.
func addJSONStrings(s *SecretSet, raw []byte) {
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return
	}
	for k, x := range doc {
		lk := strings.ToLower(k)
		if str, ok := x.(string); ok && (strings.Contains(lk, "token") || strings.Contains(lk, "secret")) && lk != "token_type" {
			s.add(str)
		}
	}
}

// SecretsChanged reports whether anything was written to the vault since
// s was built by Secrets (a set it did not build has always changed).
func (v *Vault) SecretsChanged(s *SecretSet) bool {
	if s == nil || s.tx == 0 {
		return true
	}
	changed := true
	_ = v.db.View(func(tx *bolt.Tx) error {
		changed = int(tx.ID()) != s.tx
		return nil
	})
	return changed
}
