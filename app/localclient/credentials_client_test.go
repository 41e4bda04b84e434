package localclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

const clientSecret = "client-secret-DO-NOT-LEAK"

// fakeOAuth is an OAuthConnections with one GitHub connection per user.
type fakeOAuth struct {
	mu           sync.Mutex
	disconnected []oauth.Owner
}

func (o *fakeOAuth) Connections(_ context.Context, tenant, user string) ([]oauth.Connection, error) {
	return []oauth.Connection{{Provider: "github", Status: "connected", Scopes: []string{"read:user"}}}, nil
}

func (o *fakeOAuth) Disconnect(_ context.Context, owner oauth.Owner, provider string) error {
	if provider != "github" {
		return fmt.Errorf("no connection: %w", vault.ErrNotFound)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.disconnected = append(o.disconnected, owner)
	return nil
}

func TestClientOAuthProviders(t *testing.T) {
	t.Parallel()
	c, v := newAPI(t)
	ctx := t.Context()
	if _, _, err := c.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}

	ps, err := c.ListOAuthPresets(ctx)
	if err != nil || !slices.ContainsFunc(ps, func(p apiv1.Preset) bool { return p.Name == "github" && p.TokenURL != "" }) {
		t.Fatalf("ListOAuthPresets = %+v, %v", ps, err)
	}

	p, err := c.CreateOAuthProvider(ctx, "acme", apiv1.ProviderRequest{Preset: "github", ClientID: "gh-id", ClientSecret: clientSecret})
	if err != nil {
		t.Fatalf("CreateOAuthProvider: %v", err)
	}
	if p.Name != "github" || p.TenantID != "acme" || !p.ClientSecretSet || p.AuthorizationURL != "https://github.com/login/oauth/authorize" || len(p.Scopes) == 0 {
		t.Errorf("CreateOAuthProvider = %+v", p)
	}
	p, err = c.CreateOAuthProvider(ctx, "acme", apiv1.ProviderRequest{
		ProviderName: "idp", ClientID: "c", ClientSecret: "s",
		AuthorizationURL: "https://idp.example.com/a", TokenURL: "http://127.0.0.1:9/t",
		Scopes: apiv1.Scopes{"openid", "email"}, APIOrigins: []string{"https://api.idp.example.com"},
	})
	if err != nil || p.Name != "idp" || !slices.Equal(p.Scopes, []string{"openid", "email"}) {
		t.Fatalf("CreateOAuthProvider idp = %+v, %v", p, err)
	}

	list, err := c.ListOAuthProviders(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].Name != "github" || list[1].Name != "idp" || !list[0].ClientSecretSet {
		t.Fatalf("ListOAuthProviders = %+v, %v", list, err)
	}
	got, err := c.GetOAuthProvider(ctx, "acme", "github")
	if err != nil || got.ClientID != "gh-id" {
		t.Fatalf("GetOAuthProvider = %+v, %v", got, err)
	}

	newID := "gh-id-2"
	scopes := apiv1.Scopes{"repo"}
	upd, err := c.UpdateOAuthProvider(ctx, "acme", "github", apiv1.ProviderPatch{Scopes: &scopes})
	if err != nil || !slices.Equal(upd.Provider.Scopes, []string{"repo"}) || !upd.Provider.ClientSecretSet || upd.ConnectionsDropped != 0 {
		t.Fatalf("UpdateOAuthProvider = %+v, %v", upd, err)
	}
	// A new client id is a new destination: the secret must come with it.
	if _, err := c.UpdateOAuthProvider(ctx, "acme", "github", apiv1.ProviderPatch{ClientID: &newID}); !errors.Is(err, vault.ErrInvalid) ||
		!strings.Contains(err.Error(), "client_secret is required when client_id changes") {
		t.Fatalf("UpdateOAuthProvider client id without the secret: %v", err)
	}
	if vp, err := v.GetOAuthProvider(ctx, "acme", "github"); err != nil || vp.ClientSecret != clientSecret {
		t.Errorf("the stored client secret changed on an update without one (err %v)", err)
	}

	bad := "http://idp.example.com/t"
	_, err = c.UpdateOAuthProvider(ctx, "acme", "idp", apiv1.ProviderPatch{TokenURL: &bad})
	if !errors.Is(err, vault.ErrInvalid) {
		t.Errorf("update with an http non-loopback URL: %v, want a 400 matching vault.ErrInvalid", err)
	}
	_, err = c.CreateOAuthProvider(ctx, "acme", apiv1.ProviderRequest{Preset: "github", ClientID: "x", ClientSecret: clientSecret})
	if !errors.Is(err, vault.ErrExists) {
		t.Errorf("duplicate create: %v, want vault.ErrExists", err)
	}
	if err != nil && strings.Contains(err.Error(), clientSecret) {
		t.Error("error contains the client secret")
	}

	if err := c.DeleteOAuthProvider(ctx, "acme", "idp"); err != nil {
		t.Fatalf("DeleteOAuthProvider: %v", err)
	}
	if _, err := c.GetOAuthProvider(ctx, "acme", "idp"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("GetOAuthProvider after delete: %v, want ErrNotFound", err)
	}
}

func TestClientToolSettings(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var changed []string
	c, v := newAPIWith(t, adminops.Options{
		Tools: func(string) []apiv1.ToolInfo {
			return []apiv1.ToolInfo{
				{Name: "github_whoami", ToolSets: []string{"github"}, Enabled: true},
				{Name: "weather", ToolSets: []string{"weather"}, Enabled: true},
			}
		},
	})
	v.Subscribe(func(ch vault.Change) {
		if ch.Kind == vault.ToolSettingsChanged {
			mu.Lock()
			defer mu.Unlock()
			changed = append(changed, ch.TenantID)
		}
	})
	ctx := t.Context()
	if _, _, err := c.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	st, err := c.GetToolSettings(ctx, "acme")
	if err != nil || len(st.Tools) != 2 || len(st.DisabledTools) != 0 || !st.Tools[0].Enabled {
		t.Fatalf("GetToolSettings = %+v, %v", st, err)
	}
	st, err = c.SetToolEnabled(ctx, "acme", "weather", false)
	if err != nil || !slices.Equal(st.DisabledTools, []string{"weather"}) || st.Tools[1].Enabled {
		t.Fatalf("SetToolEnabled false = %+v, %v", st, err)
	}
	st, err = c.SetToolSetEnabled(ctx, "acme", "github", false)
	if err != nil || !slices.Equal(st.DisabledToolSets, []string{"github"}) || st.Tools[0].Enabled {
		t.Fatalf("SetToolSetEnabled false = %+v, %v", st, err)
	}
	st, err = c.SetToolSetEnabled(ctx, "acme", "github", true)
	if err != nil || len(st.DisabledToolSets) != 0 {
		t.Fatalf("SetToolSetEnabled true = %+v, %v", st, err)
	}
	st, err = c.PutToolSettings(ctx, "acme", apiv1.ToolSettings{})
	if err != nil || len(st.DisabledTools) != 0 || !st.Tools[1].Enabled {
		t.Fatalf("PutToolSettings = %+v, %v", st, err)
	}
	if _, err := c.SetToolEnabled(ctx, "acme", "nope", false); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("disabling an unknown tool: %v, want a 404", err)
	}
	if _, err := c.SetToolEnabled(ctx, "acme", "a/b", false); err == nil {
		t.Error("a tool name with a slash was accepted")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changed) != 4 {
		t.Errorf("ToolSettingsChanged announcements = %v, want 4", changed)
	}
}

func TestClientConnections(t *testing.T) {
	t.Parallel()
	fo := &fakeOAuth{}
	c, v := newAPIWith(t, adminops.Options{OAuth: fo})
	ctx := t.Context()
	if _, _, err := c.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	_, uid, err := c.CreateUserToken(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", uid, vault.CredentialAPIKey, "openweather", []byte("key-DO-NOT-LEAK")); err != nil {
		t.Fatal(err)
	}
	cs, err := c.ListConnections(ctx, "acme", uid)
	if err != nil || len(cs.Connections) != 1 || cs.Connections[0].Provider != "github" ||
		len(cs.APIKeys) != 1 || cs.APIKeys[0].Provider != "openweather" {
		t.Fatalf("ListConnections = %+v, %v", cs, err)
	}
	if err := c.Disconnect(ctx, "acme", uid, "github"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	fo.mu.Lock()
	got := slices.Clone(fo.disconnected)
	fo.mu.Unlock()
	if len(got) != 1 || got[0] != (oauth.Owner{TenantID: "acme", UserID: uid}) {
		t.Errorf("Disconnect owners = %+v", got)
	}
	if err := c.Disconnect(ctx, "acme", uid, "slack"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Disconnect not connected: %v, want ErrNotFound", err)
	}
	if err := c.DeleteAPIKey(ctx, "acme", uid, "openweather"); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	err = c.DeleteAPIKey(ctx, "acme", uid, "openweather")
	var ae *localclient.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("DeleteAPIKey again: %v, want a 404 APIError", err)
	}
	if _, err := c.ListConnections(ctx, "acme", "nobody"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("ListConnections of an unknown user: %v, want ErrNotFound", err)
	}
}
