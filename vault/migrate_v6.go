package vault

import (
	"crypto/cipher"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketHTTPTools holds tenants' declarative HTTP tools: tenant\x00name ->
// HTTPTool JSON (no secrets); v6.
var bucketHTTPTools = []byte("http_tools")

// migrateHTTPTools is schema 6 (issue 11): declarative HTTP tools.
func migrateHTTPTools(tx *bolt.Tx, _ cipher.AEAD) error {
	if _, err := tx.CreateBucketIfNotExists(bucketHTTPTools); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketHTTPTools, err)
	}
	return nil
}
