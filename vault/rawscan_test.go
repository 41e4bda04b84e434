package vault

import (
	"bytes"
	"encoding/base64"
	"os"
	"testing"
	"time"
)

// TestRawFileHasNoSecrets writes recognisable secrets, closes the vault and
// scans the raw bbolt file: no secret may appear in it, in any encoding.
func TestRawFileHasNoSecrets(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	kr := cfg.Keyring.(*memKeyring)
	v := openT(t, cfg)
	mustTenant(t, v, "acme")
	const hostSecret = "HOST-SECRET-canary-4f1d2a"
	const sessionValue = "SESSION-VALUE-canary-9c3e7b"
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
	if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: "acme", UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetSessionValue(ctx, "acme", "s1", "k", []byte(sessionValue)); err != nil {
		t.Fatal(err)
	}
	const apiKey = "API-KEY-canary-31d8e0"
	const oauthToken = "OAUTH-ACCESS-TOKEN-canary-b2c4d6"
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather", []byte(apiKey)); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", u.ID, CredentialOAuth, "github", []byte(`{"access_token":"`+oauthToken+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutOAuthState(ctx, OAuthState{
		State: "raw-scan-state-0123456789", TenantID: "acme", UserID: u.ID, Provider: "github",
		Verifier: testVerifier, Browser: testBrowser, ExpiresAt: time.Now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	masterB64 := kr.items[keyringService+"/"+defaultKeyringAccount]
	master, _ := base64.StdEncoding.DecodeString(masterB64)
	secrets := map[string][]byte{
		"token":                []byte(token),
		"token body":           []byte(token[len(TokenPrefix):]),
		"host-app secret":      []byte(hostSecret),
		"session value":        []byte(sessionValue),
		"master key (base64)":  []byte(masterB64),
		"master key (raw)":     master,
		"session value base64": []byte(base64.StdEncoding.EncodeToString([]byte(sessionValue))),
		"client secret":        []byte(testClientSecret),
		"client secret base64": []byte(base64.StdEncoding.EncodeToString([]byte(testClientSecret))),
		"oauth token":          []byte(oauthToken),
		"api key":              []byte(apiKey),
		"api key base64":       []byte(base64.StdEncoding.EncodeToString([]byte(apiKey))),
		"pkce verifier":        []byte(testVerifier),
		"oauth state":          []byte("raw-scan-state-0123456789"), // stored as its SHA-256 only (issue 13)
		"browser binding":      []byte(testBrowser),
	}
	for name, s := range secrets {
		if len(s) == 0 {
			t.Fatalf("%s: empty probe", name)
		}
		if bytes.Contains(raw, s) {
			t.Errorf("%s found in the raw vault file", name)
		}
	}
	// Sanity: the scan can see plain records (ids and client ids are not secret).
	for _, plain := range []string{"acme", "client-github", "https://api.example.com"} {
		if !bytes.Contains(raw, []byte(plain)) {
			t.Fatalf("scan is blind: %q not found in the file", plain)
		}
	}
}
