package vault

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// copyRaw returns a copy of the raw bytes stored under key in bucket.
func copyRaw(t testing.TB, v *Vault, bucket, key []byte) []byte {
	t.Helper()
	var out []byte
	_ = v.db.View(func(tx *bolt.Tx) error {
		out = append([]byte(nil), tx.Bucket(bucket).Get(key)...)
		return nil
	})
	if out == nil {
		t.Fatalf("no record %q in %s", key, bucket)
	}
	return out
}

// putRaw writes raw bytes under key in bucket, bypassing the vault's API.
func putRaw(t testing.TB, v *Vault, bucket, key, val []byte) {
	t.Helper()
	if err := v.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, val) }); err != nil {
		t.Fatal(err)
	}
}

func mustUser(t testing.TB, v *Vault, tenantID, host string) string {
	t.Helper()
	u, _, err := v.EnsureUser(t.Context(), tenantID, host)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestCredentials(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	alice, bob := mustUser(t, v, "acme", "alice"), mustUser(t, v, "acme", "bob")

	const key = "API-KEY-canary-31d8e0"
	if err := v.PutCredential(ctx, "acme", alice, CredentialAPIKey, "weather", []byte(key)); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "weather")
	if err != nil || string(got) != key {
		t.Fatalf("get = %q, %v", got, err)
	}
	// Same provider name, other kind or user: separate records.
	for _, c := range []struct {
		user string
		kind CredentialKind
	}{{alice, CredentialOAuth}, {bob, CredentialAPIKey}} {
		if _, err := v.GetCredential(ctx, "acme", c.user, c.kind, "weather"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get %s/%s = %v, want ErrNotFound", c.user, c.kind, err)
		}
	}
	// Replace.
	clk.Add(time.Minute)
	if err := v.PutCredential(ctx, "acme", alice, CredentialAPIKey, "weather", []byte("k2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); string(got) != "k2" {
		t.Fatalf("after replace: %q", got)
	}
	if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "github", []byte(`{"access_token":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", bob, CredentialOAuth, "github", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	mine, err := v.ListCredentials(ctx, "acme", alice)
	if err != nil {
		t.Fatal(err)
	}
	want := []CredentialInfo{
		{TenantID: "acme", UserID: alice, Kind: CredentialAPIKey, Provider: "weather", UpdatedAt: clk.Now()},
		{TenantID: "acme", UserID: alice, Kind: CredentialOAuth, Provider: "github", UpdatedAt: clk.Now()},
	}
	if !reflect.DeepEqual(mine, want) {
		t.Errorf("alice's list = %+v, want %+v", mine, want)
	}
	raw, _ := json.Marshal(mine)
	if strings.Contains(string(raw), "k2") || strings.Contains(string(raw), "access_token") {
		t.Errorf("list JSON carries values: %s", raw)
	}
	all, err := v.ListCredentials(ctx, "acme", "")
	if err != nil || len(all) != 3 {
		t.Errorf("all = %+v, %v, want 3", all, err)
	}
	if none, err := v.ListCredentials(ctx, "acme", "nobody"); err != nil || len(none) != 0 {
		t.Errorf("unknown user's list = %+v, %v", none, err)
	}
	if _, err := v.ListCredentials(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tenant's list = %v, want ErrNotFound", err)
	}

	if err := v.DeleteCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
	if _, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete = %v", err)
	}
}

func TestPutCredentialRules(t *testing.T) {
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice := mustUser(t, v, "acme", "alice")
	tests := []struct {
		name     string
		tenant   string
		user     string
		kind     CredentialKind
		provider string
		value    []byte
		want     error
		msg      string
	}{
		{"ok", "acme", alice, CredentialAPIKey, "weather", []byte("k"), nil, ""},
		{"64 KiB", "acme", alice, CredentialOAuth, "github", make([]byte, 64<<10), nil, ""},
		{"unknown tenant", "nope", alice, CredentialAPIKey, "weather", []byte("k"), ErrNotFound, "tenant"},
		{"unknown user", "acme", "no-such-user", CredentialAPIKey, "weather", []byte("k"), ErrNotFound, "user"},
		{"user of another tenant", "beta", alice, CredentialAPIKey, "weather", []byte("k"), ErrNotFound, "user"},
		{"guest (no user)", "acme", "", CredentialAPIKey, "weather", []byte("k"), ErrInvalid, "user id: must not be empty"},
		{"bad kind", "acme", alice, "password", "weather", []byte("k"), ErrInvalid, "credential kind"},
		{"bad provider", "acme", alice, CredentialAPIKey, "Weather API", []byte("k"), ErrInvalid, "provider name"},
		{"provider with bar", "acme", alice, CredentialAPIKey, "a|b", []byte("k"), ErrInvalid, "provider name"},
		{"empty value", "acme", alice, CredentialAPIKey, "weather", nil, ErrInvalid, "must not be empty"},
		{"too big", "acme", alice, CredentialAPIKey, "weather", make([]byte, 64<<10+1), ErrInvalid, "at most 65536"},
		{"bad tenant id", "API", alice, CredentialAPIKey, "weather", []byte("k"), ErrInvalid, "tenant id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.PutCredential(t.Context(), tc.tenant, tc.user, tc.kind, tc.provider, tc.value)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("put: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("put = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestCredentialBoundToRecord: a sealed credential copied to another
// tenant's, user's, kind's or provider's key does not open.
func TestCredentialBoundToRecord(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice, bob := mustUser(t, v, "acme", "alice"), mustUser(t, v, "acme", "bob")
	carol := mustUser(t, v, "beta", "carol")
	src := credentialKey("acme", alice, CredentialOAuth, "github")
	if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "github", []byte("alice-token")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		tenant   string
		user     string
		kind     CredentialKind
		provider string
	}{
		{"other user", "acme", bob, CredentialOAuth, "github"},
		{"other tenant", "beta", carol, CredentialOAuth, "github"},
		{"other kind", "acme", alice, CredentialAPIKey, "github"},
		{"other provider", "acme", alice, CredentialOAuth, "gitlab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			putRaw(t, v, bucketCredentials, credentialKey(tc.tenant, tc.user, tc.kind, tc.provider), copyRaw(t, v, bucketCredentials, src))
			got, err := v.GetCredential(ctx, tc.tenant, tc.user, tc.kind, tc.provider)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("copied credential = %q, %v; want ErrDecrypt", got, err)
			}
			if strings.Contains(err.Error(), "alice-token") {
				t.Fatal("error contains the value")
			}
		})
	}
	if got, err := v.GetCredential(ctx, "acme", alice, CredentialOAuth, "github"); err != nil || string(got) != "alice-token" {
		t.Fatalf("original = %q, %v", got, err)
	}
}

// TestDeleteOAuthProviderCascade: deleting a provider removes every user's
// OAuth credential and every guest's token set for it in that tenant, and
// nothing else.
func TestDeleteOAuthProviderCascade(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	users := map[string][]string{}
	for _, id := range []string{"acme", "beta"} {
		mustTenant(t, v, id)
		for _, p := range []string{"github", "google"} {
			if _, err := v.CreateOAuthProvider(ctx, testProvider(id, p)); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range []string{"alice", "bob"} {
			u := mustUser(t, v, id, h)
			users[id] = append(users[id], u)
			for _, c := range []struct {
				kind     CredentialKind
				provider string
			}{{CredentialOAuth, "github"}, {CredentialOAuth, "google"}, {CredentialAPIKey, "github"}} {
				if err := v.PutCredential(ctx, id, u, c.kind, c.provider, []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := v.CreateSession(ctx, Session{ID: "guest-1", TenantID: id}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"oauth:github", "oauth:google", "oauth:github-enterprise", "note"} {
			if err := v.SetSessionValue(ctx, id, "guest-1", k, []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := v.DeleteOAuthProvider(ctx, "acme", "github"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "beta"} {
		for _, u := range users[id] {
			_, err := v.GetCredential(ctx, id, u, CredentialOAuth, "github")
			if gone := errors.Is(err, ErrNotFound); gone != (id == "acme") {
				t.Errorf("%s oauth github of %s: %v", id, u, err)
			}
			if _, err := v.GetCredential(ctx, id, u, CredentialOAuth, "google"); err != nil {
				t.Errorf("%s oauth google: %v", id, err)
			}
			if _, err := v.GetCredential(ctx, id, u, CredentialAPIKey, "github"); err != nil {
				t.Errorf("%s api key github: %v", id, err)
			}
		}
		for _, k := range []string{"oauth:github", "oauth:google", "oauth:github-enterprise", "note"} {
			_, err := v.GetSessionValue(ctx, id, "guest-1", k)
			if gone := errors.Is(err, ErrNotFound); gone != (id == "acme" && k == "oauth:github") {
				t.Errorf("%s guest value %s: %v", id, k, err)
			}
		}
	}
	if _, err := v.GetOAuthProvider(ctx, "beta", "github"); err != nil {
		t.Errorf("beta's github: %v", err)
	}
}

func TestValidateAPIKeyValue(t *testing.T) {
	t.Parallel()
	const secret = "sk-DO-NOT-ECHO"
	for _, tc := range []struct {
		name, key, want string
	}{
		{"ok", secret, ""},
		{"ok unicode", "clé-" + secret, ""},
		{"empty", "", "must not be empty"},
		{"blank", " \u00a0 ", "must not be empty"},
		{"too long", strings.Repeat("k", MaxAPIKeyLen+1), "longer than 8192 bytes"},
		{"longest", strings.Repeat("k", MaxAPIKeyLen), ""},
		{"bad utf-8", secret + "\xff", "not valid UTF-8"},
		{"newline", secret + "\n", "control characters"},
		{"tab", "a\tb", "control characters"},
	} {
		err := ValidateAPIKeyValue(tc.key)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want ErrInvalid with %q", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), secret):
			t.Errorf("%s: the error quotes the key", tc.name)
		}
	}
}
