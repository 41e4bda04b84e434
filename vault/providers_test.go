package vault

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testClientSecret = "CLIENT-SECRET-canary-7a1b2c"

// testProvider is a valid provider of tenantID pointing at loopback URLs.
func testProvider(tenantID, name string) OAuthProvider {
	return OAuthProvider{
		TenantID:         tenantID,
		Name:             name,
		ClientID:         "client-" + name,
		ClientSecret:     testClientSecret,
		AuthorizationURL: "https://idp.example.com/authorize",
		TokenURL:         "http://127.0.0.1:9999/token",
		Scopes:           []string{"read:user", "repo"},
		APIOrigins:       []string{"https://api.example.com"},
	}
}

func TestValidateProviderName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		msg  string
	}{
		{"github", true, ""},
		{"my_idp-2", true, ""},
		{"9lives", true, ""},
		{"api", true, ""}, // no reserved words for providers
		{strings.Repeat("a", 63), true, ""},
		{"", false, "must not be empty"},
		{strings.Repeat("a", 64), false, "at most 63"},
		{"GitHub", false, "lowercase"},
		{"git hub", false, "lowercase"},
		{"git|hub", false, "lowercase"},
		{"-gh", false, "start with a letter or digit"},
		{"_gh", false, "start with a letter or digit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateProviderName(tc.name)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateProviderName(%q) = %v, want nil", tc.name, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("ValidateProviderName(%q) = %v, want ErrInvalid mentioning %q", tc.name, err, tc.msg)
			}
		})
	}
}

func TestOAuthProviderValidation(t *testing.T) {
	many := make([]string, 65)
	for i := range many {
		many[i] = "s" + strings.Repeat("x", i)
	}
	tests := []struct {
		name   string
		mutate func(*OAuthProvider)
		msg    string // "" = valid
	}{
		{"valid", func(*OAuthProvider) {}, ""},
		{"public client without secret", func(p *OAuthProvider) { p.ClientSecret = "" }, ""},
		{"no scopes", func(p *OAuthProvider) { p.Scopes = nil }, ""},
		{"http localhost", func(p *OAuthProvider) { p.AuthorizationURL = "http://localhost:8080/a" }, ""},
		{"http 127.x", func(p *OAuthProvider) { p.AuthorizationURL = "http://127.9.9.9/a" }, ""},
		{"http ::1", func(p *OAuthProvider) { p.TokenURL = "http://[::1]:1234/t" }, ""},
		{"optional urls", func(p *OAuthProvider) {
			p.UserinfoURL, p.RevocationURL = "https://api.example.com/user", "https://idp.example.com/revoke"
		}, ""},
		{"resource https", func(p *OAuthProvider) { p.Resource = "https://api.example.com/" }, ""},
		{"resource urn", func(p *OAuthProvider) { p.Resource = "urn:example:api" }, ""},
		{"preset", func(p *OAuthProvider) { p.Preset = "github" }, ""},
		{"64 scopes", func(p *OAuthProvider) { p.Scopes = many[:64] }, ""},

		{"bad tenant", func(p *OAuthProvider) { p.TenantID = "API" }, "tenant id"},
		{"empty name", func(p *OAuthProvider) { p.Name = "" }, "provider name: must not be empty"},
		{"uppercase name", func(p *OAuthProvider) { p.Name = "GitHub" }, "provider name"},
		{"long name", func(p *OAuthProvider) { p.Name = strings.Repeat("g", 64) }, "at most 63"},
		{"bad preset", func(p *OAuthProvider) { p.Preset = "Git Hub" }, "preset"},
		{"empty client id", func(p *OAuthProvider) { p.ClientID = "" }, "client id: must not be empty"},
		{"long client id", func(p *OAuthProvider) { p.ClientID = strings.Repeat("c", 513) }, "client id: at most 512"},
		{"control char client id", func(p *OAuthProvider) { p.ClientID = "a\nb" }, "client id: must not contain control"},
		{"long secret", func(p *OAuthProvider) { p.ClientSecret = strings.Repeat(testClientSecret, 500) }, "client secret: at most"},
		{"no authorization url", func(p *OAuthProvider) { p.AuthorizationURL = "" }, "authorization url: must not be empty"},
		{"relative authorization url", func(p *OAuthProvider) { p.AuthorizationURL = "/authorize" }, "authorization url: must be an absolute"},
		{"unparsable url", func(p *OAuthProvider) { p.AuthorizationURL = "https://example.com/%zz" }, "authorization url: not a valid URL"},
		{"http remote", func(p *OAuthProvider) { p.AuthorizationURL = "http://idp.example.com/a" }, "authorization url: must use https"},
		{"http localhost lookalike", func(p *OAuthProvider) { p.TokenURL = "http://localhost.example.com/t" }, "token url: must use https"},
		{"http 128.0.0.1", func(p *OAuthProvider) { p.TokenURL = "http://128.0.0.1/t" }, "token url: must use https"},
		{"ftp", func(p *OAuthProvider) { p.TokenURL = "ftp://idp.example.com/t" }, "token url: scheme"},
		{"user info", func(p *OAuthProvider) { p.TokenURL = "https://u:p@idp.example.com/t" }, "token url: must not contain user info"},
		{"fragment", func(p *OAuthProvider) { p.TokenURL = "https://idp.example.com/t#x" }, "token url: must not contain a fragment"},
		{"no token url", func(p *OAuthProvider) { p.TokenURL = "" }, "token url: must not be empty"},
		{"bad userinfo url", func(p *OAuthProvider) { p.UserinfoURL = "http://api.example.com/user" }, "userinfo url: must use https"},
		{"bad revocation url", func(p *OAuthProvider) { p.RevocationURL = "revoke" }, "revocation url: must be an absolute"},
		{"relative resource", func(p *OAuthProvider) { p.Resource = "/api" }, "resource: must be an absolute"},
		{"resource fragment", func(p *OAuthProvider) { p.Resource = "https://api.example.com/#x" }, "resource: must not contain a fragment"},
		{"empty scope", func(p *OAuthProvider) { p.Scopes = []string{"a", ""} }, "scope 2: must not be empty"},
		{"scope with space", func(p *OAuthProvider) { p.Scopes = []string{"read user"} }, "scope \"read user\""},
		{"scope with quote", func(p *OAuthProvider) { p.Scopes = []string{`a"b`} }, "printable ASCII"},
		{"65 scopes", func(p *OAuthProvider) { p.Scopes = many }, "scopes: at most 64"},

		{"api origins default to userinfo's", func(p *OAuthProvider) {
			p.APIOrigins, p.UserinfoURL = nil, "https://api.example.com/user"
		}, ""},
		{"loopback http api origin", func(p *OAuthProvider) { p.APIOrigins = []string{"http://127.0.0.1:8080"} }, ""},
		{"no api origins", func(p *OAuthProvider) { p.APIOrigins = nil }, "api origins: at least one is required"},
		{"api origin with path", func(p *OAuthProvider) { p.APIOrigins = []string{"https://api.example.com/v1"} }, "api origins: origin 1: an origin is scheme://host"},
		{"http api origin", func(p *OAuthProvider) { p.APIOrigins = []string{"https://a.example", "http://192.0.2.10"} }, "api origins: origin 2: must use https"},
		{"wildcard api origin", func(p *OAuthProvider) { p.APIOrigins = []string{"https://*.example.com"} }, "wildcards"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newTestVault(t)
			mustTenant(t, v, "acme")
			p := testProvider("acme", "github")
			tc.mutate(&p)
			_, err := v.CreateOAuthProvider(t.Context(), p)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("create = %v, want ErrInvalid mentioning %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), testClientSecret) {
				t.Fatal("error contains the client secret")
			}
			// Update applies the same rules.
			if _, _, err := v.UpdateOAuthProvider(t.Context(), p); !errors.Is(err, ErrInvalid) {
				t.Fatalf("update = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestOAuthProviderCRUD(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")

	p := testProvider("acme", "github")
	p.Scopes = []string{"repo", "read:user", "repo"}
	created, err := v.CreateOAuthProvider(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if created.ClientSecret != "" {
		t.Error("create returned the client secret")
	}
	if want := []string{"repo", "read:user"}; !reflect.DeepEqual(created.Scopes, want) {
		t.Errorf("scopes = %q, want %q (deduplicated, order kept)", created.Scopes, want)
	}
	if !created.CreatedAt.Equal(clk.Now()) || !created.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("timestamps = %v/%v, want %v", created.CreatedAt, created.UpdatedAt, clk.Now())
	}
	if _, err := v.CreateOAuthProvider(ctx, p); !errors.Is(err, ErrExists) {
		t.Fatalf("second create = %v, want ErrExists", err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("nope", "github")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("create in unknown tenant = %v, want ErrNotFound", err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "google")); err != nil {
		t.Fatal(err)
	}
	pub := testProvider("acme", "aaa-public")
	pub.ClientSecret = ""
	if _, err := v.CreateOAuthProvider(ctx, pub); err != nil {
		t.Fatal(err)
	}

	got, err := v.GetOAuthProvider(ctx, "acme", "github")
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSecret != testClientSecret || got.ClientID != "client-github" || got.TenantID != "acme" {
		t.Errorf("get = %+v (secret ok: %v)", got, got.ClientSecret == testClientSecret)
	}
	if got, err := v.GetOAuthProvider(ctx, "acme", "aaa-public"); err != nil || got.ClientSecret != "" {
		t.Errorf("public client: secret set %v, err %v", got.ClientSecret != "", err)
	}
	if _, err := v.GetOAuthProvider(ctx, "beta", "github"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant's provider = %v, want ErrNotFound", err)
	}

	list, err := v.ListOAuthProviders(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
		if p.ClientSecret != "" {
			t.Errorf("list: %s carries its client secret", p.Name)
		}
	}
	if want := []string{"aaa-public", "github", "google"}; !reflect.DeepEqual(names, want) {
		t.Errorf("list names = %q, want %q", names, want)
	}
	raw, _ := json.Marshal(list)
	single, _ := json.Marshal(got)
	for _, b := range [][]byte{raw, single} {
		if strings.Contains(string(b), testClientSecret) {
			t.Errorf("JSON contains the client secret: %s", b)
		}
	}
	if l, err := v.ListOAuthProviders(ctx, "beta"); err != nil || len(l) != 0 {
		t.Errorf("beta's list = %v, %v", l, err)
	}
	if _, err := v.ListOAuthProviders(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tenant's list = %v, want ErrNotFound", err)
	}

	// Update with an empty secret keeps the stored one when no destination
	// changes.
	clk.Add(time.Minute)
	upd := testProvider("acme", "github")
	upd.ClientSecret = ""
	upd.Scopes = []string{"gist"}
	out, dropped, err := v.UpdateOAuthProvider(ctx, upd)
	if err != nil || dropped != 0 {
		t.Fatal(dropped, err)
	}
	if out.ClientSecret != "" || !out.CreatedAt.Equal(created.CreatedAt) || !out.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("update returned %+v", out)
	}
	got, _ = v.GetOAuthProvider(ctx, "acme", "github")
	if got.ClientSecret != testClientSecret || !reflect.DeepEqual(got.Scopes, []string{"gist"}) {
		t.Errorf("after update keeping the secret: scopes %q secret kept %v", got.Scopes, got.ClientSecret == testClientSecret)
	}
	// A new secret replaces it.
	upd.ClientID = "new-id"
	upd.ClientSecret = "rotated-secret"
	if _, _, err := v.UpdateOAuthProvider(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetOAuthProvider(ctx, "acme", "github"); got.ClientSecret != "rotated-secret" || got.ClientID != "new-id" {
		t.Error("new client secret not stored")
	}
	if _, _, err := v.UpdateOAuthProvider(ctx, testProvider("acme", "nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update unknown = %v, want ErrNotFound", err)
	}

	if err := v.DeleteOAuthProvider(ctx, "acme", "github"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetOAuthProvider(ctx, "acme", "github"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete = %v", err)
	}
	if err := v.DeleteOAuthProvider(ctx, "acme", "github"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
	if _, err := v.GetOAuthProvider(ctx, "acme", "Bad Name"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("get bad name = %v, want ErrInvalid", err)
	}
}

// TestProviderSecretBoundToRecord: a sealed client secret copied to another
// provider's record does not open.
func TestProviderSecretBoundToRecord(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	for _, k := range [][2]string{{"acme", "github"}, {"acme", "google"}, {"beta", "github"}} {
		if _, err := v.CreateOAuthProvider(ctx, testProvider(k[0], k[1])); err != nil {
			t.Fatal(err)
		}
	}
	src := copyRaw(t, v, bucketProviders, scoped("acme", "github"))
	var rec providerRecord
	if err := json.Unmarshal(src, &rec); err != nil {
		t.Fatal(err)
	}
	for _, dst := range [][2]string{{"acme", "google"}, {"beta", "github"}} {
		var other providerRecord
		if err := json.Unmarshal(copyRaw(t, v, bucketProviders, scoped(dst[0], dst[1])), &other); err != nil {
			t.Fatal(err)
		}
		other.SealedSecret = rec.SealedSecret
		b, _ := json.Marshal(other)
		putRaw(t, v, bucketProviders, scoped(dst[0], dst[1]), b)
		if _, err := v.GetOAuthProvider(ctx, dst[0], dst[1]); !errors.Is(err, ErrDecrypt) {
			t.Errorf("secret moved to %s/%s: %v, want ErrDecrypt", dst[0], dst[1], err)
		}
	}
}

// TestProviderDestinationNeedsSecret (acceptance 3): changing where a
// provider's secrets go (an endpoint URL, the client id or the API
// origins) without giving the client secret again is refused, naming the
// field, and changes nothing; with it, every connection to the provider
// (users' and guests') is dropped and the answer counts them. A public
// client needs no secret. Other changes keep connections.
func TestProviderDestinationNeedsSecret(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		field  string
		mutate func(*OAuthProvider)
	}{
		{"token url", func(p *OAuthProvider) { p.TokenURL = "https://elsewhere.example/token" }},
		{"authorization url", func(p *OAuthProvider) { p.AuthorizationURL = "https://elsewhere.example/auth" }},
		{"revocation url", func(p *OAuthProvider) { p.RevocationURL = "https://elsewhere.example/revoke" }},
		{"userinfo url", func(p *OAuthProvider) { p.UserinfoURL = "https://api.example.com/me" }},
		{"client id", func(p *OAuthProvider) { p.ClientID = "another-client" }},
		{"api origins", func(p *OAuthProvider) { p.APIOrigins = []string{"https://api.example.com", "https://evil.example"} }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			v, _ := newTestVault(t)
			mustTenant(t, v, "acme")
			alice := mustUser(t, v, "acme", "alice")
			bob := mustUser(t, v, "acme", "bob")
			if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
				t.Fatal(err)
			}
			if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "google")); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{alice, bob} {
				for _, p := range []string{"github", "google"} {
					if err := v.PutCredential(ctx, "acme", u, CredentialOAuth, p, []byte(`{"access_token":"t"}`)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := v.PutCredential(ctx, "acme", alice, CredentialAPIKey, "github", []byte("key")); err != nil {
				t.Fatal(err)
			}
			if err := v.CreateSession(ctx, Session{ID: "g1", TenantID: "acme"}); err != nil {
				t.Fatal(err)
			}
			if err := v.SetSessionValue(ctx, "acme", "g1", GuestOAuthValueKeyPrefix+"github", []byte("guest set")); err != nil {
				t.Fatal(err)
			}

			upd := testProvider("acme", "github")
			upd.ClientSecret = ""
			tc.mutate(&upd)
			_, _, err := v.UpdateOAuthProvider(ctx, upd)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "client secret: required when the "+tc.field) {
				t.Fatalf("update without secret = %v, want ErrInvalid naming %q", err, tc.field)
			}
			if got, _ := v.GetOAuthProvider(ctx, "acme", "github"); got.Binding() != mustProvider(t, v, "acme", "github").Binding() || got.ClientSecret != testClientSecret {
				t.Fatal("refused update changed the provider")
			}
			if _, err := v.GetCredential(ctx, "acme", alice, CredentialOAuth, "github"); err != nil {
				t.Fatalf("refused update dropped a connection: %v", err)
			}

			upd.ClientSecret = "new-secret"
			_, dropped, err := v.UpdateOAuthProvider(ctx, upd)
			if err != nil || dropped != 3 {
				t.Fatalf("update with secret = %d dropped, %v; want 3 (two users, one guest)", dropped, err)
			}
			for _, u := range []string{alice, bob} {
				if _, err := v.GetCredential(ctx, "acme", u, CredentialOAuth, "github"); !errors.Is(err, ErrNotFound) {
					t.Errorf("connection of %s kept: %v", u, err)
				}
				if _, err := v.GetCredential(ctx, "acme", u, CredentialOAuth, "google"); err != nil {
					t.Errorf("another provider's connection dropped: %v", err)
				}
			}
			if _, err := v.GetSessionValue(ctx, "acme", "g1", GuestOAuthValueKeyPrefix+"github"); !errors.Is(err, ErrNotFound) {
				t.Errorf("guest's token set kept: %v", err)
			}
			if _, err := v.GetCredential(ctx, "acme", alice, CredentialAPIKey, "github"); err != nil {
				t.Errorf("api key of the same name dropped: %v", err)
			}
			if got := mustProvider(t, v, "acme", "github"); got.ClientSecret != "new-secret" {
				t.Error("new secret not stored")
			}
		})
	}

	// A public client has no secret to give; its connections still go.
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	pub := testProvider("acme", "idp")
	pub.ClientSecret = ""
	if _, err := v.CreateOAuthProvider(ctx, pub); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "idp", []byte("t")); err != nil {
		t.Fatal(err)
	}
	pub.TokenURL = "https://elsewhere.example/token"
	if _, dropped, err := v.UpdateOAuthProvider(ctx, pub); err != nil || dropped != 1 {
		t.Fatalf("public client update = %d, %v", dropped, err)
	}
}

func mustProvider(t *testing.T, v *Vault, tenantID, name string) OAuthProvider {
	t.Helper()
	p, err := v.GetOAuthProvider(t.Context(), tenantID, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProviderEditedOnDiskDoesNotOpen (acceptance 3): a provider record
// whose token URL (or API origins) is changed in the file, without
// Plexus, no longer opens its client secret, and users' token sets for it
// no longer open either (ErrDecrypt: the caller asks for consent again).
func TestProviderEditedOnDiskDoesNotOpen(t *testing.T) {
	for _, edit := range []func(*providerRecord){
		func(r *providerRecord) { r.TokenURL = "https://attacker.example/token" },
		func(r *providerRecord) { r.APIOrigins = append(r.APIOrigins, "https://attacker.example") },
		func(r *providerRecord) { r.ClientID = "attacker" },
	} {
		ctx := t.Context()
		v, _ := newTestVault(t)
		mustTenant(t, v, "acme")
		alice := mustUser(t, v, "acme", "alice")
		if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
			t.Fatal(err)
		}
		if err := v.PutCredential(ctx, "acme", alice, CredentialOAuth, "github", []byte(`{"access_token":"t"}`)); err != nil {
			t.Fatal(err)
		}
		var r providerRecord
		if err := json.Unmarshal(copyRaw(t, v, bucketProviders, scoped("acme", "github")), &r); err != nil {
			t.Fatal(err)
		}
		edit(&r)
		b, _ := json.Marshal(r)
		putRaw(t, v, bucketProviders, scoped("acme", "github"), b)
		if _, err := v.GetOAuthProvider(ctx, "acme", "github"); !errors.Is(err, ErrDecrypt) {
			t.Errorf("edited provider's secret = %v, want ErrDecrypt", err)
		}
		if _, ver, err := v.GetCredentialVersion(ctx, "acme", alice, CredentialOAuth, "github"); !errors.Is(err, ErrDecrypt) || ver == 0 {
			t.Errorf("token set of an edited provider = v%d, %v; want ErrDecrypt with its version", ver, err)
		}
	}
}
