package vault

import (
	"testing"
)

// TestSecretSet stores one secret of each kind and checks that the set
// built from the vault finds each as a value and inside a longer text,
// finds nothing else, and notices a later write.
func TestSecretSet(t *testing.T) {
	ctx := t.Context()
	v := openT(t, testConfig(t))
	mustTenant(t, v, "acme")
	const (
		hostSecret = "HOST-SECRET-set-4f1d2a"
		apiKey     = "API-KEY-set-31d8e0"
		access     = "OAUTH-ACCESS-set-b2c4d6"
		refresh    = "OAUTH-REFRESH-set-e5f6a7"
	)
	if err := v.SetHostAppSecret(ctx, "acme", hostSecret); err != nil {
		t.Fatal(err)
	}
	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := v.IssueToken(ctx, "acme", u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather", []byte(apiKey)); err != nil {
		t.Fatal(err)
	}
	set := `{"access_token":"` + access + `","refresh_token":"` + refresh + `","token_type":"Bearer","expiry":"2026-12-04T10:00:00Z"}`
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialOAuth, "github", []byte(set)); err != nil {
		t.Fatal(err)
	}
	s, err := v.Secrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.SecretsChanged(s) {
		t.Error("SecretsChanged right after Secrets")
	}
	for name, secret := range map[string]string{"host-app secret": hostSecret, "api key": apiKey, "access token": access,
		"refresh token": refresh, "client secret": testClientSecret, "user token": token} {
		if !s.Is(secret) || !s.Contains(secret) {
			t.Errorf("%s: not in the set", name)
		}
		if !s.Contains("Authorization: Bearer " + secret) {
			t.Errorf("%s: not found after Bearer", name)
		}
		if !s.Contains("x" + secret + "y") {
			switch name {
			case "host-app secret", "user token": // digests only: whole runs
			default:
				t.Errorf("%s: not found inside a word", name)
			}
		}
		if s.Contains(secret[:len(secret)-1]) {
			t.Errorf("%s: a prefix matched", name)
		}
	}
	for _, not := range []string{"", "Bearer", "2026-12-04T10:00:00Z", "hello world", "alice"} {
		if s.Contains(not) {
			t.Errorf("%q matched", not)
		}
	}
	if _, _, err := v.EnsureUser(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if !v.SecretsChanged(s) {
		t.Error("SecretsChanged after a write: false")
	}
	if u := NewSecretSet("OTHER-secret-0002").Union(s); !u.Contains(apiKey) || !u.Contains("x OTHER-secret-0002") || u.tx != 0 {
		t.Error("Union: wrong set")
	}
	if got := s.Add("EXTRA-secret-0001"); !got.Contains("use EXTRA-secret-0001 now") || !got.Contains(apiKey) || s.Contains("EXTRA-secret-0001") {
		t.Error("Add: wrong set")
	}
}

func FuzzSecretSetContains(f *testing.F) {
	s := NewSecretSet("abcdefgh12345678", "short", "ZZZZZZZZZ")
	for _, seed := range []string{"", "abcdefgh12345678", "xxabcdefgh12345678yy", "a short one", "ZZZZZZZZZZ", "abcdefgh1234567"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := s.Contains(in)
		want := containsNaive(in, "abcdefgh12345678") || containsNaive(in, "ZZZZZZZZZ") || in == "short"
		if want && !got {
			t.Fatalf("Contains(%q) = false", in)
		}
	})
}

func containsNaive(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
