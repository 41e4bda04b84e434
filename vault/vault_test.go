package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenReopenPersists(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v := openT(t, cfg)
	if got := v.KeySource(); got != KeySourceKeyring {
		t.Fatalf("KeySource = %q, want keyring", got)
	}
	mustTenant(t, v, "acme")
	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := v.IssueToken(ctx, "acme", u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: "acme", UserID: u.ID, Protocol: "2025-11-25"}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetSessionValue(ctx, "acme", "s1", "k", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	v2 := openT(t, cfg)
	if _, err := v2.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("tenant after reopen: %v", err)
	}
	if info, err := v2.ResolveToken(ctx, tok); err != nil || info.UserID != u.ID {
		t.Fatalf("token after reopen: %+v, %v", info, err)
	}
	if got, err := v2.GetSessionValue(ctx, "acme", "s1", "k"); err != nil || string(got) != "hello" {
		t.Fatalf("session value after reopen: %q, %v", got, err)
	}
	if n, err := v2.SchemaVersion(ctx); err != nil || n != len(defaultMigrations()) {
		t.Fatalf("SchemaVersion = %d, %v", n, err)
	}
	if kr := cfg.Keyring.(*memKeyring); kr.sets != 1 {
		t.Fatalf("keyring Set called %d times, want 1 (no second key)", kr.sets)
	}
}

func TestOpenFileModes(t *testing.T) {
	cfg := testConfig(t)
	openT(t, cfg)
	fi, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("file mode = %v, want 0600", m)
	}
	di, err := os.Stat(filepath.Dir(cfg.Path))
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("dir mode = %v, want 0700", m)
	}
}

func TestOpenLocked(t *testing.T) {
	cfg := testConfig(t)
	openT(t, cfg)
	_, err := openWith(t.Context(), cfg, testOptions())
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	_, err := Open(t.Context(), Config{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with no path: %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, testConfig(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with cancelled ctx: %v", err)
	}
}

// TestMigrations drives the migration hook with injected migration lists.
func TestMigrations(t *testing.T) {
	base := defaultMigrations()
	mark := func(name string) migration {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("marks"))
			if err != nil {
				return err
			}
			return b.Put([]byte(name), []byte("1"))
		}
	}
	failing := func(*bolt.Tx) error { return errors.New("boom") }
	tests := []struct {
		name      string
		first     []migration // schema the file is created with
		second    []migration // schema of the binary that reopens it
		wantErr   error       // from the second open
		anyErr    bool
		wantVer   int
		wantMarks []string
	}{
		{name: "same version", first: base, second: base, wantVer: len(base)},
		{name: "one pending", first: base, second: append(append([]migration{}, base...), mark("m2")),
			wantVer: len(base) + 1, wantMarks: []string{"m2"}},
		{name: "two pending", first: base, second: append(append([]migration{}, base...), mark("m2"), mark("m3")),
			wantVer: len(base) + 2, wantMarks: []string{"m2", "m3"}},
		{name: "file newer than binary", first: append(append([]migration{}, base...), mark("m2")), second: base,
			wantErr: ErrSchemaTooNew, wantVer: len(base) + 1, wantMarks: []string{"m2"}},
		{name: "failing migration rolls back", first: base,
			second: append(append([]migration{}, base...), mark("m2"), failing), anyErr: true, wantVer: len(base)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			o := testOptions()
			o.migrations = tc.first
			v, err := openWith(t.Context(), cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			o.migrations = tc.second
			v, err = openWith(t.Context(), cfg, o)
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("reopen: %v, want %v", err, tc.wantErr)
			case tc.anyErr && err == nil:
				t.Fatal("reopen succeeded, want error")
			case tc.wantErr == nil && !tc.anyErr && err != nil:
				t.Fatalf("reopen: %v", err)
			}
			if err == nil {
				_ = v.Close()
			}
			// Inspect the file directly.
			db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{ReadOnly: true, Timeout: cfg.LockTimeout})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_ = db.View(func(tx *bolt.Tx) error {
				got, _ := strconv.Atoi(string(tx.Bucket(bucketMeta).Get(metaSchemaVersion)))
				if got != tc.wantVer {
					t.Errorf("stored schema version = %d, want %d", got, tc.wantVer)
				}
				var marks []string
				if b := tx.Bucket([]byte("marks")); b != nil {
					_ = b.ForEach(func(k, _ []byte) error { marks = append(marks, string(k)); return nil })
				}
				if len(marks) != len(tc.wantMarks) {
					t.Errorf("marks = %v, want %v", marks, tc.wantMarks)
				}
				return nil
			})
		})
	}
}

// TestMigrationV1ToV2: a file written by the issue-3 schema (version 1)
// opens, gains the credential buckets, keeps its records and works; a
// version-1 binary refuses the migrated file.
func TestMigrationV1ToV2(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v1 := testOptions()
	v1.migrations = defaultMigrations()[:1]
	old, err := openWith(ctx, cfg, v1)
	if err != nil {
		t.Fatal(err)
	}
	mustTenant(t, old, "acme")
	alice := mustUser(t, old, "acme", "alice")
	if err := old.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketProviders, bucketOAuthStates, bucketToolSettings} {
			if tx.Bucket(b) != nil {
				t.Errorf("version-1 file already has bucket %s", b)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	v := openT(t, cfg)
	if n, err := v.SchemaVersion(ctx); err != nil || n != len(defaultMigrations()) {
		t.Fatalf("schema version = %d, %v, want %d", n, err, len(defaultMigrations()))
	}
	if _, err := v.GetUser(ctx, "acme", alice); err != nil {
		t.Fatalf("user lost in migration: %v", err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "github", []byte("t")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutOAuthState(ctx, testState("acme", alice, "github", "migrated-0123456789ab", time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := openWith(ctx, cfg, v1); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("version-1 binary on a version-2 file: %v, want ErrSchemaTooNew", err)
	}
}
