package vaulttest_test

import (
	"testing"

	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

func TestNewAndReopen(t *testing.T) {
	kr := vaulttest.NewKeyring()
	path := t.TempDir() + "/plexus.db"
	v := vaulttest.NewAt(t, path, kr)
	if v.KeySource() != vault.KeySourceKeyring {
		t.Fatalf("KeySource = %q, want keyring", v.KeySource())
	}
	if _, err := v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v2 := vaulttest.NewAt(t, path, kr)
	if _, err := v2.GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("tenant lost after reopen: %v", err)
	}
	if kr.Len() != 1 {
		t.Fatalf("keyring items = %d, want 1", kr.Len())
	}
	if v3 := vaulttest.New(t); v3 == nil {
		t.Fatal("New returned nil")
	}
}
