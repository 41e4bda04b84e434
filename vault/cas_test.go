package vault

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCredentialCompareAndSwap (acceptance 9, vault part): a write or
// delete with the version read before succeeds only if nothing changed
// since; a delete followed by a new write never brings the old version
// back (versions come from the bucket's sequence).
func TestCredentialCompareAndSwap(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	put := func(val string, expected uint64) (uint64, error) {
		return v.PutCredentialIf(ctx, "acme", alice, CredentialOAuth, "github", []byte(val), expected)
	}
	v1, err := put("first", 0)
	if err != nil || v1 == 0 {
		t.Fatalf("create = v%d, %v", v1, err)
	}
	if _, err := put("again", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over an existing record = %v, want ErrConflict", err)
	}
	val, ver, err := v.GetCredentialVersion(ctx, "acme", alice, CredentialOAuth, "github")
	if err != nil || ver != v1 || string(val) != "first" {
		t.Fatalf("get = %q v%d, %v", val, ver, err)
	}
	v2, err := put("refreshed", v1)
	if err != nil || v2 <= v1 {
		t.Fatalf("swap = v%d, %v", v2, err)
	}
	// A stale writer (a refresh that read v1) loses.
	if _, err := put("stale refresh", v1); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale swap = %v, want ErrConflict", err)
	}
	if err := v.DeleteCredentialIf(ctx, "acme", alice, CredentialOAuth, "github", v1); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale delete = %v, want ErrConflict", err)
	}
	// Disconnect, then a refresh that read v2 finishes: it must not
	// resurrect the connection.
	if err := v.DeleteCredentialIf(ctx, "acme", alice, CredentialOAuth, "github", v2); err != nil {
		t.Fatal(err)
	}
	if _, err := put("late refresh", v2); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap after delete = %v, want ErrConflict", err)
	}
	if _, err := v.GetCredential(ctx, "acme", alice, CredentialOAuth, "github"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted credential came back: %v", err)
	}
	// A new consent after the delete gets a fresh version, never v1 or v2.
	v3, err := put("new consent", 0)
	if err != nil || v3 <= v2 {
		t.Fatalf("re-create = v%d, %v", v3, err)
	}
	if err := v.DeleteCredentialIf(ctx, "acme", "nobody", CredentialOAuth, "github", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete absent = %v", err)
	}
	// Plain PutCredential bumps the version too.
	if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "github", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := put("y", v3); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap after an unconditional put = %v", err)
	}
}

// TestSwapSessionValue: the guests' compare-and-swap.
func TestSwapSessionValue(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	if err := v.CreateSession(ctx, Session{ID: "g1", TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	const key = "oauth:github"
	swap := func(old, val []byte) error { return v.SwapSessionValue(ctx, "acme", "g1", key, old, val) }
	if err := swap([]byte("x"), []byte("a")); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap from a value on an unset key = %v", err)
	}
	if err := swap(nil, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := swap(nil, []byte("b")); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over a value = %v", err)
	}
	if err := swap([]byte("stale"), []byte("b")); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale swap = %v", err)
	}
	if err := swap([]byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetSessionValue(ctx, "acme", "g1", key); string(got) != "b" {
		t.Fatalf("value = %q", got)
	}
	if err := swap([]byte("b"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "g1", key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted value = %v", err)
	}
	if err := v.SwapSessionValue(ctx, "acme", "gone", key, nil, []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("swap in an absent session = %v", err)
	}
}

// TestMigrationV2ToV3: a version-2 file (providers with client secrets
// sealed under the old AAD, token sets and API keys without versions, a
// pending state under its clear-text string) opens: providers get API
// origins (the preset's, else the userinfo URL's, else the token URL's),
// secrets and token sets open under the new binding AAD, every credential
// has a version, and the clear-text state is gone.
func TestMigrationV2ToV3(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v2 := testOptions()
	v2.migrations = defaultMigrations()[:2]
	old, err := openWith(ctx, cfg, v2)
	if err != nil {
		t.Fatal(err)
	}
	mustTenant(t, old, "acme")
	alice := mustUser(t, old, "acme", "alice")
	type v2Provider struct {
		TenantID         string   `json:"entity_id"`
		Name             string   `json:"provider_name"`
		Preset           string   `json:"preset,omitempty"`
		ClientID         string   `json:"client_id"`
		AuthorizationURL string   `json:"authorization_url"`
		TokenURL         string   `json:"token_url"`
		UserinfoURL      string   `json:"userinfo_url,omitempty"`
		Scopes           []string `json:"scopes"`
		SealedSecret     []byte   `json:"client_secret_sealed,omitempty"`
	}
	providers := []v2Provider{
		{TenantID: "acme", Name: "github", Preset: "github", ClientID: "gh", AuthorizationURL: "https://github.com/login/oauth/authorize",
			TokenURL: "https://github.com/login/oauth/access_token", UserinfoURL: "https://api.github.com/user"},
		{TenantID: "acme", Name: "idp", ClientID: "idp", AuthorizationURL: "https://idp.example/auth",
			TokenURL: "https://idp.example/token", UserinfoURL: "https://api.idp.example/me"},
		{TenantID: "acme", Name: "bare", ClientID: "bare", AuthorizationURL: "https://bare.example/auth", TokenURL: "https://bare.example:8443/token"},
	}
	err = old.db.Update(func(tx *bolt.Tx) error {
		for _, p := range providers {
			sealed, err := sealWith(old.aead, "oauth-provider|acme|"+p.Name, []byte("secret-of-"+p.Name))
			if err != nil {
				return err
			}
			p.SealedSecret = sealed
			if err := putJSON(tx.Bucket(bucketProviders), scoped("acme", p.Name), p); err != nil {
				return err
			}
			tok, err := sealWith(old.aead, credentialAAD("acme", alice, CredentialOAuth, p.Name), []byte(`{"access_token":"at-`+p.Name+`"}`))
			if err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bucketCredentials), credentialKey("acme", alice, CredentialOAuth, p.Name),
				map[string]any{"updated_at": time.Now(), "sealed": tok}); err != nil {
				return err
			}
		}
		key, err := sealWith(old.aead, credentialAAD("acme", alice, CredentialAPIKey, "weather"), []byte("wx"))
		if err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketCredentials), credentialKey("acme", alice, CredentialAPIKey, "weather"),
			map[string]any{"updated_at": time.Now(), "sealed": key}); err != nil {
			return err
		}
		return tx.Bucket(bucketOAuthStates).Put([]byte("clear-text-state-0123456789"), []byte(`{"entity_id":"acme"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	v := openT(t, cfg)
	if n, _ := v.SchemaVersion(ctx); n != len(defaultMigrations()) {
		t.Fatalf("schema version %d, want %d", n, len(defaultMigrations()))
	}
	want := map[string][]string{
		"github": {"https://api.github.com"},
		"idp":    {"https://api.idp.example"},
		"bare":   {"https://bare.example:8443"},
	}
	for name, origins := range want {
		p, err := v.GetOAuthProvider(ctx, "acme", name)
		if err != nil || p.ClientSecret != "secret-of-"+name {
			t.Fatalf("%s after migration: secret ok %v, %v", name, p.ClientSecret == "secret-of-"+name, err)
		}
		if got, _ := json.Marshal(p.APIOrigins); string(got) != mustJSON(origins) {
			t.Errorf("%s api origins = %s, want %v", name, got, origins)
		}
		val, ver, err := v.GetCredentialVersion(ctx, "acme", alice, CredentialOAuth, name)
		if err != nil || ver == 0 || string(val) != `{"access_token":"at-`+name+`"}` {
			t.Errorf("%s token set after migration: v%d %v", name, ver, err)
		}
	}
	if _, ver, err := v.GetCredentialVersion(ctx, "acme", alice, CredentialAPIKey, "weather"); err != nil || ver == 0 {
		t.Errorf("api key after migration: v%d, %v", ver, err)
	}
	_ = v.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketOAuthStates).Stats().KeyN; n != 0 {
			t.Errorf("%d clear-text states kept", n)
		}
		return nil
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
