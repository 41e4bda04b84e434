package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Info is what Inspect reads from a vault file without its master key.
type Info struct {
	Key           KeyInfo
	SchemaVersion int
	TenantIDs     []string // sorted
}

// Inspect reads where a vault file's master key is kept and which tenants
// it holds, without the key and without changing the file or creating it:
// `plexus status` uses it when no daemon runs. It opens the file read-only,
// which waits at most lockTimeout (0 = 500ms) for a process holding it
// (ErrLocked). A missing file gives an error wrapping fs.ErrNotExist.
func Inspect(ctx context.Context, path string, lockTimeout time.Duration) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if lockTimeout <= 0 {
		lockTimeout = defaultLockTimeout
	}
	if _, err := os.Stat(path); err != nil {
		return Info{}, fmt.Errorf("inspect vault: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return Info{}, fmt.Errorf("inspect vault %s: %w", path, ErrLocked)
	}
	if err != nil {
		return Info{}, fmt.Errorf("inspect vault %s: %w", path, err)
	}
	defer db.Close()
	st, err := readMeta(db)
	if err != nil {
		return Info{}, fmt.Errorf("inspect vault %s: %w", path, err)
	}
	info := Info{SchemaVersion: st.version, Key: KeyInfo{Source: st.source}}
	if st.source == KeySourceFile {
		info.Key.File = resolveKeyFile(path, st.keyFile)
		info.Key.Generated = st.keyFile == KeyFileName
	}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTenants)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			info.TenantIDs = append(info.TenantIDs, string(k))
			return nil
		})
	})
	if err != nil {
		return Info{}, fmt.Errorf("inspect vault %s: %w", path, err)
	}
	return info, nil
}
