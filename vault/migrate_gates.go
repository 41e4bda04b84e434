package vault

import (
	"crypto/cipher"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migrateGates is issue 11's TOTP gates migration (schema index 7 in the
// plan; HTTP tools take 6): the gates bucket (sealed TOTP secrets, the
// wrong-code counter and cooling-off) and the per-tenant tool-search
// switch. Both start empty.
func migrateGates(tx *bolt.Tx, _ cipher.AEAD) error {
	for _, b := range [][]byte{bucketGates, bucketToolSearch} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}
