package oauthtest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

func retrieveCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestProviderEnforcesTheProtocol(t *testing.T) {
	p := New(t, WithRequiredResource("https://api.test/"))
	cfg := &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: p.AuthorizationURL(), TokenURL: p.TokenURL()},
		RedirectURL: "http://127.0.0.1:1/cb", Scopes: []string{"read:user"},
	}
	res := oauth2.SetAuthURLParam("resource", "https://api.test/")
	code := func(verifier string) string {
		cb := p.Authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), res))
		u, _ := url.Parse(cb)
		if u.Query().Get("state") != "st" {
			t.Fatalf("state not echoed: %s", cb)
		}
		return u.Query().Get("code")
	}
	ctx := context.Background()
	v := oauth2.GenerateVerifier()

	c := code(v)
	if _, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(oauth2.GenerateVerifier()), res); retrieveCode(err) != "invalid_grant" {
		t.Fatalf("wrong verifier: %v", err)
	}
	if _, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(v), res); retrieveCode(err) != "invalid_grant" {
		t.Fatalf("code reused after a failed attempt: %v", err)
	}
	c = code(v)
	if _, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(v)); retrieveCode(err) != "invalid_target" {
		t.Fatalf("missing resource: %v", err)
	}
	c = code(v)
	tok, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(v), res)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(v), res); retrieveCode(err) != "invalid_grant" {
		t.Fatalf("code used twice: %v", err)
	}
	if !p.AccessTokenValid(tok.AccessToken) || !p.RefreshTokenValid(tok.RefreshToken) {
		t.Fatal("issued tokens not valid")
	}
	bad := *cfg
	bad.ClientSecret = "wrong"
	if _, err := bad.Exchange(ctx, code(v), oauth2.VerifierOption(v), res); retrieveCode(err) != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := p.TryAuthorize(p.AuthorizationURL() + "?client_id=nope&response_type=code"); err == nil {
		t.Fatal("unknown client authorized")
	}
	if _, err := p.TryAuthorize(cfg.AuthCodeURL("st")); err == nil {
		t.Fatal("authorized without PKCE")
	}

	resp, err := cfg.Client(ctx, tok).Get(p.UserinfoURL())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("api: %v %v", resp, err)
	}
	resp.Body.Close()
	p.ExpireAccessTokens()
	resp, err = oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)).Get(p.UserinfoURL())
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired token: %v %v", resp, err)
	}
	resp.Body.Close()
	p.RevokeRefreshTokens()
	if p.RefreshTokenValid(tok.RefreshToken) {
		t.Fatal("refresh token survived RevokeRefreshTokens")
	}
}
