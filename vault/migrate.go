package vault

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// ErrSchemaTooNew is returned by Open when the file was written by a newer
// Plexus whose schema this binary does not know. The file is left untouched.
var ErrSchemaTooNew = errors.New("vault file has a newer schema than this plexus knows")

// Bucket names.
var (
	bucketMeta          = []byte("meta")
	bucketTenants       = []byte("tenants")         // tenant id -> tenantRecord JSON
	bucketUsers         = []byte("users")           // tenant\x00userID -> User JSON
	bucketUsersByHost   = []byte("users_by_host")   // tenant\x00hostUserID -> userID
	bucketTokens        = []byte("tokens")          // sha256 hex of token -> TokenInfo JSON
	bucketTokenIDs      = []byte("token_ids")       // tenant\x00tokenID -> sha256 hex
	bucketSessions      = []byte("sessions")        // tenant\x00sid -> Session JSON
	bucketSessionValues = []byte("session_values")  // tenant\x00sid\x00key -> sealed value
	bucketCredentials   = []byte("credentials")     // tenant\x00user\x00kind\x00provider -> credentialRecord JSON (sealed value)
	bucketProviders     = []byte("oauth_providers") // tenant\x00name -> providerRecord JSON (sealed client secret); v2
	bucketOAuthStates   = []byte("oauth_states")    // state -> oauthStateRecord JSON (sealed verifier); v2
	bucketToolSettings  = []byte("tool_settings")   // tenant id -> ToolSettings JSON; v2
)

// tenantScoped lists every bucket whose keys start with "tenant\x00";
// DeleteTenant clears the tenant's prefix in each of them.
var tenantScoped = [][]byte{
	bucketUsers, bucketUsersByHost, bucketTokenIDs, bucketSessions,
	bucketSessionValues, bucketCredentials, bucketProviders,
}

// tenantKeyed lists every bucket keyed by the bare tenant id; DeleteTenant
// deletes the tenant's key in each. (oauth_states is keyed by the state
// string; DeleteTenant scans it.)
var tenantKeyed = [][]byte{bucketToolSettings}

// Meta keys.
var (
	metaSchemaVersion  = []byte("schema_version")
	metaKeySource      = []byte("key_source")
	metaKeyringAccount = []byte("keyring_account")
	metaCanary         = []byte("canary")
	metaKDF            = []byte("kdf")
	metaCreatedAt      = []byte("created_at")
)

// migration upgrades the schema by one version inside the Open transaction.
// migrations[i] takes the file from version i to version i+1. aead is the
// vault's sealing cipher, for migrations that re-seal values.
type migration func(tx *bolt.Tx, aead cipher.AEAD) error

// defaultMigrations is the schema history of this binary; its length is the
// schema version this binary writes. Append only; never edit a released one.
func defaultMigrations() []migration {
	return []migration{
		// 1: the initial buckets.
		func(tx *bolt.Tx, _ cipher.AEAD) error {
			for _, b := range [][]byte{
				bucketMeta, bucketTenants, bucketUsers, bucketUsersByHost, bucketTokens,
				bucketTokenIDs, bucketSessions, bucketSessionValues, bucketCredentials,
			} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return fmt.Errorf("create bucket %s: %w", b, err)
				}
			}
			return nil
		},
		// 2: issue 4, credentials: OAuth providers, pending OAuth states,
		// tool settings (the credentials bucket exists since 1).
		func(tx *bolt.Tx, _ cipher.AEAD) error {
			for _, b := range [][]byte{bucketProviders, bucketOAuthStates, bucketToolSettings} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return fmt.Errorf("create bucket %s: %w", b, err)
				}
			}
			return nil
		},
		// 3: issue 13, secrets go only where they belong (migrate_v3.go).
		migrateV3,
	}
}

// readSchemaVersion returns the stored schema version (0 for a new file).
func readSchemaVersion(tx *bolt.Tx) (int, error) {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		return 0, nil
	}
	raw := m.Get(metaSchemaVersion)
	if raw == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("meta schema_version %q is not a version number", raw)
	}
	return n, nil
}

// migrate applies the pending migrations and stores the new version. It
// runs inside the caller's Update, so all or none apply.
func migrate(tx *bolt.Tx, aead cipher.AEAD, ms []migration) (from int, err error) {
	from, err = readSchemaVersion(tx)
	if err != nil {
		return 0, err
	}
	if from > len(ms) {
		return from, fmt.Errorf("%w: file version %d, this binary knows up to %d", ErrSchemaTooNew, from, len(ms))
	}
	for i := from; i < len(ms); i++ {
		if err := ms[i](tx, aead); err != nil {
			return from, fmt.Errorf("migration to schema version %d: %w", i+1, err)
		}
	}
	m, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return from, fmt.Errorf("create bucket meta: %w", err)
	}
	if from == len(ms) && m.Get(metaSchemaVersion) != nil {
		return from, nil
	}
	return from, m.Put(metaSchemaVersion, []byte(strconv.Itoa(len(ms))))
}

// SchemaVersion reports the schema version stored in the file.
func (v *Vault) SchemaVersion(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = readSchemaVersion(tx)
		return err
	})
	return n, err
}
