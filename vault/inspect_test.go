package vault

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errNoDBus)
	if _, err := Inspect(t.Context(), cfg.Path, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Inspect of no vault: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(cfg.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Inspect created the vault file")
	}
	v := openT(t, cfg)
	mustTenant(t, v, "beta")
	mustTenant(t, v, "acme")

	// Held by an open vault: ErrLocked, quickly.
	start := time.Now()
	if _, err := Inspect(t.Context(), cfg.Path, 50*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("Inspect of an open vault: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Inspect waited %v", d)
	}
	_ = v.Close()

	before, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(t.Context(), cfg.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantFile := filepath.Join(filepath.Dir(cfg.Path), KeyFileName)
	if info.Key.Source != KeySourceFile || info.Key.File != wantFile || !slices.Equal(info.TenantIDs, []string{"acme", "beta"}) ||
		info.SchemaVersion != len(defaultMigrations()) {
		t.Fatalf("Inspect = %+v", info)
	}
	after, _ := os.ReadFile(cfg.Path)
	if !slices.Equal(before, after) {
		t.Error("Inspect changed the vault file")
	}
}
