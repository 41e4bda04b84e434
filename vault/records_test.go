package vault

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestStoredRecordsGolden pins the bytes the vault writes for a tenant
// (with its host-app secret), a user, a user token and tool settings: the
// file format. The admin API has wire types of its own (app/apiv1), so a
// change to the API cannot change these bytes, and a change here is a
// change of the file format that needs a migration. Regenerate with
// go test ./vault -run TestStoredRecordsGolden -update and review the diff.
func TestStoredRecordsGolden(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	if _, err := v.CreateTenantWithSecret(ctx, Tenant{ID: "acme", Name: "Acme"}, "phs_GOLDENSECRET"); err != nil {
		t.Fatal(err)
	}
	// The two ways to a tenant with a secret store the same bytes.
	if _, err := v.CreateTenant(ctx, Tenant{ID: "beta", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetHostAppSecret(ctx, "beta", "phs_GOLDENSECRET"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.EnsureUser(ctx, "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.IssueToken(ctx, "acme", "alice", 0); err != nil {
		t.Fatal(err)
	}
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"weather"}, DisabledToolSets: []string{}}); err != nil {
		t.Fatal(err)
	}
	checkRecordsGolden(t, v, filepath.Join("testdata", "records.golden"))
}

// tokenHash matches the random parts of token records: the token's
// SHA-256 (a key and a value) and its short id (a key part and a field).
var tokenHash = regexp.MustCompile(`[0-9a-f]{12,64}`)

// checkRecordsGolden dumps the record buckets (key = value, one a line; NUL
// in a key shown as |) with token hashes scrubbed, and compares them with
// the golden file at path.
func checkRecordsGolden(t *testing.T, v *Vault, path string) {
	t.Helper()
	var got bytes.Buffer
	err := v.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTenants, bucketUsers, bucketUsersByHost, bucketTokens, bucketTokenIDs, bucketToolSettings} {
			fmt.Fprintf(&got, "[%s]\n", name)
			if err := tx.Bucket(name).ForEach(func(k, val []byte) error {
				line := fmt.Sprintf("%s = %s\n", bytes.ReplaceAll(k, []byte{0}, []byte("|")), val)
				if bytes.Equal(name, bucketTokens) || bytes.Equal(name, bucketTokenIDs) {
					line = tokenHash.ReplaceAllString(line, "<hash>")
				}
				got.WriteString(line)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("stored records differ from %s (a file format change?):\n--- want\n%s\n--- got\n%s", path, want, got.Bytes())
	}
}
