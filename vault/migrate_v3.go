package vault

import (
	"crypto/cipher"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/plexus-mcp/plexus/vault/egress"
)

// v3PresetOrigins are the API origins migration 3 gives providers made
// from a preset: a frozen copy of mcpserver/oauth's presets as they were
// when the migration was written (migrations never change).
var v3PresetOrigins = map[string][]string{
	"github":    {"https://api.github.com"},
	"google":    {"https://openidconnect.googleapis.com", "https://www.googleapis.com"},
	"slack":     {"https://slack.com"},
	"microsoft": {"https://graph.microsoft.com"},
}

// v3APIOrigins decides a version-2 provider's API origins: its preset's;
// for a custom provider the origin of its userinfo URL, else the origin of
// its token URL (the party that issued the tokens and already receives the
// refresh token). An administrator can change them afterwards
// (`plexus admin ext-oauth update --api-origins`).
func v3APIOrigins(p OAuthProvider) []string {
	if o, ok := v3PresetOrigins[p.Preset]; ok {
		return append([]string(nil), o...)
	}
	for _, u := range []string{p.UserinfoURL, p.TokenURL} {
		if u == "" {
			continue
		}
		if o, err := egress.OriginOfURL(u); err == nil {
			return []string{string(o)}
		}
	}
	return []string{}
}

// migrateV3 is schema version 3 (issue 13, "secrets go only where they
// belong"):
//
//   - every OAuth provider gets API origins (v3APIOrigins), and its client
//     secret is re-sealed under the AAD that binds it to its endpoints,
//     client id and API origins (OAuthProvider.Binding);
//   - every credential gets a version (for compare-and-swap writes), and
//     OAuth token sets are re-sealed under the AAD naming their provider's
//     binding;
//   - pending OAuth states, stored until now under the state string in the
//     clear, are dropped (they live ten minutes; the person starts the
//     connection again). From now on states and consent links are stored
//     under their SHA-256.
//
// A value that no longer opens under its old AAD (tampered before the
// upgrade) is left as it is: it will not open under the new one either,
// and is treated as missing (consent again, or the client secret set
// again).
func migrateV3(tx *bolt.Tx, aead cipher.AEAD) error {
	if err := migrateV3Providers(tx, aead); err != nil {
		return fmt.Errorf("oauth providers: %w", err)
	}
	if err := migrateV3Credentials(tx, aead); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	states := tx.Bucket(bucketOAuthStates)
	var keys [][]byte
	if err := states.ForEach(func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := states.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// keyedRecord is a decoded record with its key.
type keyedRecord[T any] struct {
	k []byte
	r T
}

// decodeAll decodes every record of b (so the caller may write to b while
// it goes through them).
func decodeAll[T any](b *bolt.Bucket) ([]keyedRecord[T], error) {
	var items []keyedRecord[T]
	err := b.ForEach(func(k, raw []byte) error {
		var r T
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode %q: %w", clip(string(k)), err)
		}
		items = append(items, keyedRecord[T]{append([]byte(nil), k...), r})
		return nil
	})
	return items, err
}

func migrateV3Providers(tx *bolt.Tx, aead cipher.AEAD) error {
	b := tx.Bucket(bucketProviders)
	items, err := decodeAll[providerRecord](b)
	if err != nil {
		return err
	}
	for _, it := range items {
		r := it.r
		r.APIOrigins = v3APIOrigins(r.OAuthProvider)
		if r.SealedSecret != nil {
			oldAAD := "oauth-provider|" + r.TenantID + "|" + r.Name
			if secret, err := unsealWith(aead, oldAAD, r.SealedSecret); err == nil {
				sealed, err := sealWith(aead, providerSecretAAD(r.TenantID, r.Name, r.OAuthProvider.Binding()), secret)
				if err != nil {
					return err
				}
				r.SealedSecret = sealed
			}
		}
		if err := putJSON(b, it.k, r); err != nil {
			return err
		}
	}
	return nil
}

func migrateV3Credentials(tx *bolt.Tx, aead cipher.AEAD) error {
	b := tx.Bucket(bucketCredentials)
	items, err := decodeAll[credentialRecord](b)
	if err != nil {
		return err
	}
	for _, it := range items {
		r := it.r
		tenantID, userID, kind, provider, ok := splitCredentialKey(it.k)
		if !ok {
			return fmt.Errorf("key %q: malformed", clip(string(it.k)))
		}
		if kind == CredentialOAuth {
			if plain, err := unsealWith(aead, credentialAAD(tenantID, userID, kind, provider), r.Sealed); err == nil {
				aad, err := credentialSealAAD(tx, tenantID, userID, kind, provider)
				if err != nil {
					return err
				}
				if r.Sealed, err = sealWith(aead, aad, plain); err != nil {
					return err
				}
			}
		}
		v, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.Version = v
		if err := putJSON(b, it.k, r); err != nil {
			return err
		}
	}
	return nil
}
