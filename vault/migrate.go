package vault

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrSchemaTooNew is returned by Open when the file was written by a newer
// Plexus whose schema this binary does not know. The file is left untouched.
var ErrSchemaTooNew = errors.New("vault file has a newer schema than this plexus knows")

// Bucket names.
var (
	bucketMeta          = []byte("meta")
	bucketTenants       = []byte("tenants")          // tenant id -> tenantRecord JSON
	bucketUsers         = []byte("users")            // tenant\x00userID -> User JSON
	bucketUsersByHost   = []byte("users_by_host")    // tenant\x00hostUserID -> userID
	bucketTokens        = []byte("tokens")           // sha256 hex of token -> TokenInfo JSON
	bucketTokenIDs      = []byte("token_ids")        // tenant\x00tokenID -> sha256 hex
	bucketSessions      = []byte("sessions")         // tenant\x00sha256hex(sid) -> sessionRecord JSON (v4; v1-3: tenant\x00sid -> Session JSON)
	bucketSessionValues = []byte("session_values")   // tenant\x00sha256hex(sid)\x00key -> sealed value (v4; v1-3: raw sid)
	bucketSessionIndex  = []byte("sessions_by_seen") // tenant\x00owner\x00lastSeen(8 bytes BE ns)sha256hex(sid) -> nil; v4
	bucketSessionCounts = []byte("session_counts")   // tenant\x00owner -> uint64 BE; v4
	bucketCredentials   = []byte("credentials")      // tenant\x00user\x00kind\x00provider -> credentialRecord JSON (sealed value)
	bucketProviders     = []byte("oauth_providers")  // tenant\x00name -> providerRecord JSON (sealed client secret); v2
	bucketOAuthStates   = []byte("oauth_states")     // state -> oauthStateRecord JSON (sealed verifier); v2
	bucketToolSettings  = []byte("tool_settings")    // tenant id -> ToolSettings JSON; v2
	bucketUpstreams     = []byte("upstreams")        // tenant\x00name -> Upstream JSON (no secrets); v5
	bucketGates         = []byte("gates")            // tenant\x00tool set -> gateRecord JSON (sealed TOTP secret); v7
	bucketToolSearch    = []byte("tool_search")      // tenant id -> toolSearchRecord JSON; v7
)

// tenantScoped lists every bucket whose keys start with "tenant\x00";
// DeleteTenant clears the tenant's prefix in each of them.
var tenantScoped = [][]byte{
	bucketUsers, bucketUsersByHost, bucketTokenIDs, bucketSessions,
	bucketSessionValues, bucketCredentials, bucketProviders,
	bucketSessionIndex, bucketSessionCounts, bucketUpstreams, bucketHTTPTools,
	bucketGates,
}

// tenantKeyed lists every bucket keyed by the bare tenant id; DeleteTenant
// deletes the tenant's key in each. (oauth_states is keyed by the state
// string; DeleteTenant scans it.)
var tenantKeyed = [][]byte{bucketToolSettings, bucketToolSearch}

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
		// 4: issue 13, session ids stored only as hashes; issue 9, a
		// last-seen index and per-owner counts to bound sessions.
		migrateSessionsToHashes,
		// 5: issue 11, upstream MCP servers (configuration only, no
		// secrets).
		func(tx *bolt.Tx, _ cipher.AEAD) error {
			if _, err := tx.CreateBucketIfNotExists(bucketUpstreams); err != nil {
				return fmt.Errorf("create bucket %s: %w", bucketUpstreams, err)
			}
			return nil
		},
		// 6: issue 11, declarative HTTP tools (migrate_v6.go).
		migrateHTTPTools,
		// 7: issue 11, TOTP gates and the tool-search switch
		// (migrate_gates.go).
		migrateGates,
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

// scrubSchema is the last schema version whose migration removes secrets
// from the file's records (schema 3: clear-text OAuth states; schema 4: raw
// session ids). bbolt leaves a deleted record's bytes in the freed pages,
// so a file migrated to it from an older version is compacted into a fresh
// file that replaces it.
const scrubSchema = 4

// needsScrub reports whether opening a file at version from with the
// migrations ms reached scrubSchema. A new file has nothing to scrub.
func needsScrub(from int, ms []migration, isNew bool) bool {
	return !isNew && from < scrubSchema && len(ms) >= scrubSchema
}

// compactFile copies db into a fresh file (live records only), replaces
// the file at path with it and returns the reopened database. db is closed
// unless compacting fails before that, in which case db is returned as it
// was with the error. After db is closed, an error means no database could
// be reopened (nil is returned).
func compactFile(db *bolt.DB, path string, lockTimeout time.Duration) (*bolt.DB, error) {
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return db, fmt.Errorf("compact: %w", err)
	}
	if err := bolt.Compact(dst, db, 1<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return db, fmt.Errorf("compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return db, fmt.Errorf("compact: %w", err)
	}
	if err := db.Close(); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("compact: close: %w", err)
	}
	renameErr := os.Rename(tmp, path)
	if renameErr != nil {
		_ = os.Remove(tmp)
	} else if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	ndb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("reopen after compacting: %w (file lock not free after %s)", ErrLocked, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("reopen after compacting: %w", err)
	}
	if renameErr != nil {
		return ndb, fmt.Errorf("compact: replace the file: %w", renameErr)
	}
	return ndb, nil
}
