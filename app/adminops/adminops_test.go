package adminops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

const clientSecret = "client-secret-DO-NOT-LEAK"

// newOps returns operations over a fresh vault with tenant acme, user
// alice and a GitHub provider from the preset.
func newOps(t *testing.T, o adminops.Options) (*adminops.Service, *vault.Vault) {
	t.Helper()
	v := vaulttest.New(t)
	s := adminops.New(v, o)
	ctx := t.Context()
	if _, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IssueUserToken(ctx, "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, "acme", apiv1.ProviderRequest{Preset: "github", ClientID: "gh", ClientSecret: clientSecret}); err != nil {
		t.Fatal(err)
	}
	return s, v
}

func ptr[T any](v T) *T { return &v }

// TestFieldErrors: every refused request field comes back as an
// *apiv1.FieldError naming it (so the admin UI can put the message next
// to its input), matching vault.ErrInvalid, in plain words.
func TestFieldErrors(t *testing.T) {
	s, _ := newOps(t, adminops.Options{Tools: func(string) []apiv1.ToolInfo { return nil }})
	provider := func(f func(*apiv1.ProviderRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			req := apiv1.ProviderRequest{ProviderName: "idp", ClientID: "c", ClientSecret: "s",
				AuthorizationURL: "https://idp.example.com/a", TokenURL: "https://idp.example.com/t", APIOrigins: []string{"https://api.example.com"}}
			f(&req)
			_, err := s.CreateProvider(ctx, "acme", req)
			return err
		}
	}
	tests := []struct {
		name  string
		call  func(ctx context.Context) error
		field string
		text  string // substring of the message
	}{
		{"tenant without id", func(ctx context.Context) error {
			_, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{Name: "x"})
			return err
		}, "entity_id", "entity_id is required"},
		{"tenant id uppercase", func(ctx context.Context) error {
			_, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "Beta"})
			return err
		}, "entity_id", `tenant id "Beta": use lowercase`},
		{"tenant id reserved", func(ctx context.Context) error {
			_, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "api"})
			return err
		}, "entity_id", "reserved word"},
		{"tenant name with control", func(ctx context.Context) error {
			_, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "beta", Name: "a\x00b"})
			return err
		}, "name", "control characters"},
		{"rename blank", func(ctx context.Context) error {
			_, err := s.RenameTenant(ctx, "acme", "  ")
			return err
		}, "name", "name is required"},
		{"rename too long", func(ctx context.Context) error {
			_, err := s.RenameTenant(ctx, "acme", strings.Repeat("n", 201))
			return err
		}, "name", "at most 200 bytes"},
		{"user without host id", func(ctx context.Context) error {
			_, err := s.IssueUserToken(ctx, "acme", " ")
			return err
		}, "user_id_from_host_app", "user_id_from_host_app is required"},
		{"user with reserved id", func(ctx context.Context) error {
			_, err := s.IssueUserToken(ctx, "acme", "plexus-local-owner")
			return err
		}, "user_id_from_host_app", "reserved"},
		{"unknown preset", provider(func(r *apiv1.ProviderRequest) { r.Preset = "gitlab" }), "preset", `unknown preset "gitlab"; one of: github`},
		{"provider without name", provider(func(r *apiv1.ProviderRequest) { r.ProviderName = "" }), "provider_name", "provider_name is required"},
		{"provider with bad name", provider(func(r *apiv1.ProviderRequest) { r.ProviderName = "Git Hub" }), "provider_name", "lowercase"},
		{"provider without secret", provider(func(r *apiv1.ProviderRequest) { r.ClientSecret = "" }), "client_secret", "client_secret is required"},
		{"provider without client id", provider(func(r *apiv1.ProviderRequest) { r.ClientID = "" }), "client_id", "client_id is required"},
		{"provider without token url", provider(func(r *apiv1.ProviderRequest) { r.TokenURL = "" }), "token_url", "token_url is required (or give a preset"},
		{"provider token url over http", provider(func(r *apiv1.ProviderRequest) { r.TokenURL = "http://idp.example.com/t" }), "token_url", "https"},
		{"provider without origins", provider(func(r *apiv1.ProviderRequest) { r.APIOrigins = nil }), "api_origins", "api_origins is required"},
		{"provider with bad origin", provider(func(r *apiv1.ProviderRequest) { r.APIOrigins = []string{"http://192.0.2.1"} }), "api_origins", "api_origins:"},
		{"provider with bad scope", provider(func(r *apiv1.ProviderRequest) { r.Scopes = apiv1.Scopes{`a"b`} }), "scopes", "quote"},
		{"patch with empty secret", func(ctx context.Context) error {
			_, err := s.UpdateProvider(ctx, "acme", "github", apiv1.ProviderPatch{ClientSecret: ptr("")})
			return err
		}, "client_secret", "must not be empty (omit it to keep the current one)"},
		{"patch of a destination without the secret", func(ctx context.Context) error {
			_, err := s.UpdateProvider(ctx, "acme", "github", apiv1.ProviderPatch{ClientID: ptr("other")})
			return err
		}, "client_secret", "client_secret is required when client_id changes"},
		{"patch with bad scopes", func(ctx context.Context) error {
			_, err := s.UpdateProvider(ctx, "acme", "github", apiv1.ProviderPatch{Scopes: ptr(apiv1.Scopes{"a\x01"})})
			return err
		}, "scopes", "control character"},
		{"disabled tool name", func(ctx context.Context) error {
			_, err := s.PutToolSettings(ctx, "acme", apiv1.ToolSettings{DisabledTools: []string{"bad name"}})
			return err
		}, "disabled_tools", `invalid tool name "bad name"`},
		{"too many disabled tool sets", func(ctx context.Context) error {
			_, err := s.PutToolSettings(ctx, "acme", apiv1.ToolSettings{DisabledToolSets: make([]string, 1001)})
			return err
		}, "disabled_tool_sets", "at most 1000 names"},
		{"switch a bad tool name", func(ctx context.Context) error {
			_, err := s.SetToolEnabled(ctx, "acme", "a/b", false)
			return err
		}, "tool", "invalid tool name"},
		{"switch a bad tool set name", func(ctx context.Context) error {
			_, err := s.SetToolSetEnabled(ctx, "acme", " ", false)
			return err
		}, "tool_set", "invalid tool set name"},
		{"blank api key", func(ctx context.Context) error {
			_, err := s.SetAPIKey(ctx, "acme", "alice", "weather", " ")
			return err
		}, "api_key_value", "api_key_value: must not be empty"},
		{"api key for a bad provider name", func(ctx context.Context) error {
			_, err := s.SetAPIKey(ctx, "acme", "alice", "We ather", "k")
			return err
		}, "provider_name", "provider name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			fe, ok := errors.AsType[*apiv1.FieldError](err)
			if !ok {
				t.Fatalf("error %v is not a FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("FieldError{%q, %q}, want field %q with %q", fe.Field, err, tc.field, tc.text)
			}
			if !errors.Is(err, vault.ErrInvalid) {
				t.Errorf("%v does not match vault.ErrInvalid", err)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Error("the message shows a secret")
			}
		})
	}
}

// TestErrorKinds: what is missing is vault.ErrNotFound, what is taken
// vault.ErrExists, what this daemon lacks ErrUnsupported; none of them is
// a field error, and the messages name the record once.
func TestErrorKinds(t *testing.T) {
	s, _ := newOps(t, adminops.Options{Tools: func(string) []apiv1.ToolInfo { return []apiv1.ToolInfo{{Name: "weather"}} }})
	tests := []struct {
		name string
		call func(ctx context.Context) error
		kind error
		text string // the whole message
	}{
		{"missing tenant", func(ctx context.Context) error { _, err := s.GetTenant(ctx, "nope"); return err },
			vault.ErrNotFound, `tenant "nope": not found`},
		{"missing user", func(ctx context.Context) error { return s.DeleteUser(ctx, "acme", "bob") },
			vault.ErrNotFound, `user "bob" of tenant "acme": not found`},
		{"missing provider", func(ctx context.Context) error { _, err := s.GetProvider(ctx, "acme", "slack"); return err },
			vault.ErrNotFound, `oauth provider "slack" of tenant "acme": not found`},
		{"unknown tool", func(ctx context.Context) error { _, err := s.SetToolEnabled(ctx, "acme", "nope", false); return err },
			vault.ErrNotFound, `tenant acme has no tool "nope"`},
		{"tenant taken", func(ctx context.Context) error {
			_, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "acme"})
			return err
		}, vault.ErrExists, `tenant "acme": already exists`},
		{"no oauth engine", func(ctx context.Context) error { return s.Disconnect(ctx, "acme", "alice", "github") },
			adminops.ErrUnsupported, "this daemon has no external OAuth engine"},
		{"no status", func(ctx context.Context) error { _, err := s.Status(ctx); return err },
			adminops.ErrUnsupported, "this server has no daemon status"},
		{"no shutdown", func(ctx context.Context) error { _, err := s.Shutdown(ctx); return err },
			adminops.ErrUnsupported, "this server cannot be stopped through the admin API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if !errors.Is(err, tc.kind) || err.Error() != tc.text {
				t.Fatalf("error %q, want %q matching %v", err, tc.text, tc.kind)
			}
			if _, ok := errors.AsType[*apiv1.FieldError](err); ok {
				t.Error("a FieldError")
			}
		})
	}
}

// TestCreateTenantHasItsSecret: the secret CreateTenant returns is the one
// the vault checks, and RotateHostAppSecret replaces it.
func TestCreateTenantHasItsSecret(t *testing.T) {
	ctx := t.Context()
	v := vaulttest.New(t)
	s := adminops.New(v, adminops.Options{})
	created, err := s.CreateTenant(ctx, apiv1.CreateTenantRequest{ID: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Tenant.Name != "beta" || !created.Tenant.HasHostAppSecret || !strings.HasPrefix(created.HostAppSecret, "phs_") {
		t.Fatalf("CreateTenant = %+v", created)
	}
	if ok, err := v.CheckHostAppSecret(ctx, "beta", created.HostAppSecret); !ok || err != nil {
		t.Fatalf("the returned secret does not check: %v, %v", ok, err)
	}
	rotated, err := s.RotateHostAppSecret(ctx, "beta")
	if err != nil || rotated.HostAppSecret == created.HostAppSecret {
		t.Fatalf("RotateHostAppSecret = %+v, %v", rotated, err)
	}
	if ok, _ := v.CheckHostAppSecret(ctx, "beta", created.HostAppSecret); ok {
		t.Fatal("the old secret still checks")
	}
}

// failingCreate is a Store whose atomic create fails the way a crash
// inside the transaction would look to the caller.
type failingCreate struct {
	adminops.Store
	calls atomic.Int32
}

func (f *failingCreate) CreateTenantWithSecret(context.Context, vault.Tenant, string) (vault.Tenant, error) {
	f.calls.Add(1)
	return vault.Tenant{}, errors.New("write failed")
}

// TestCreateTenantIsOneWrite: creating a tenant is one call to the
// vault's atomic create, nothing before or after it, so a failure leaves
// nothing to undo (the vault test shows the transaction rolls back).
func TestCreateTenantIsOneWrite(t *testing.T) {
	st := &failingCreate{Store: vaulttest.New(t)}
	s := adminops.New(st, adminops.Options{})
	_, err := s.CreateTenant(t.Context(), apiv1.CreateTenantRequest{ID: "beta"})
	if err == nil || st.calls.Load() != 1 {
		t.Fatalf("CreateTenant = %v after %d atomic creates, want one failed create", err, st.calls.Load())
	}
	if ts, err := s.ListTenants(t.Context()); err != nil || len(ts) != 0 {
		t.Fatalf("tenants after a failed create: %+v, %v", ts, err)
	}
}

// TestDeleteTenantSaysWhatWent: the counts the admin UI's danger zone
// shows before (CountTenant) and after (DeleteTenant) agree.
func TestDeleteTenantSaysWhatWent(t *testing.T) {
	s, v := newOps(t, adminops.Options{})
	ctx := t.Context()
	if _, err := s.SetAPIKey(ctx, "acme", "alice", "weather", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "weather", "k2"); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", "alice", vault.CredentialOAuth, "github", []byte(`{"access_token":"x"}`)); err != nil {
		t.Fatal(err)
	}
	want := adminops.TenantCounts{Users: 2, Tokens: 1, Providers: 1, OAuthConnections: 1, APIKeys: 2}
	if got, err := s.CountTenant(ctx, "acme"); err != nil || got != want {
		t.Fatalf("CountTenant = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.DeleteTenant(ctx, "acme"); err != nil || got != want {
		t.Fatalf("DeleteTenant = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.GetTenant(ctx, "acme"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("GetTenant after delete: %v", err)
	}
}

// TestSetAPIKeyChecksBeforeWriting: a refused key or provider name leaves
// the vault as it was; in particular naming the local owner does not
// create them.
func TestSetAPIKeyChecksBeforeWriting(t *testing.T) {
	s, _ := newOps(t, adminops.Options{})
	ctx := t.Context()
	for _, tc := range []struct{ provider, key string }{{"weather", ""}, {"weather", "a\nb"}, {"Weather!", "k"}} {
		if _, err := s.SetAPIKey(ctx, "acme", apiv1.LocalOwner, tc.provider, tc.key); !errors.Is(err, vault.ErrInvalid) {
			t.Fatalf("SetAPIKey(%q, %q) = %v, want ErrInvalid", tc.provider, tc.key, err)
		}
	}
	us, err := s.ListUsers(ctx, "acme")
	if err != nil || len(us) != 1 || us[0].ID != "alice" {
		t.Fatalf("users after refused keys: %+v, %v (the local owner was created?)", us, err)
	}
	saved, err := s.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "weather", "k")
	if err != nil || saved.UserID != vault.LocalOwnerHostUserID || saved.Provider != "weather" {
		t.Fatalf("SetAPIKey for the local owner = %+v, %v", saved, err)
	}
	if apiv1.LocalOwner != vault.LocalOwnerAlias {
		t.Fatalf("apiv1.LocalOwner %q differs from vault.LocalOwnerAlias %q", apiv1.LocalOwner, vault.LocalOwnerAlias)
	}
}

// fakeOAuth is an in-memory OAuthConnections.
type fakeOAuth struct{ conns []oauth.Connection }

func (f *fakeOAuth) Connections(context.Context, string, string) ([]oauth.Connection, error) {
	return f.conns, nil
}

func (f *fakeOAuth) Disconnect(_ context.Context, _ oauth.Owner, provider string) error {
	return fmt.Errorf("no connection to %q: %w", provider, vault.ErrNotFound)
}

// TestStatusAndConnections: views built from the daemon's own types
// (DaemonInfo, oauth.Connection) and the clock.
func TestStatusAndConnections(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var stopped atomic.Bool
	fo := &fakeOAuth{conns: []oauth.Connection{{Provider: "github", Status: "connected", Scopes: []string{"repo"}, UpdatedAt: started}}}
	s, _ := newOps(t, adminops.Options{
		Now:   func() time.Time { return started.Add(90 * time.Second) },
		OAuth: fo,
		System: adminops.System{
			Info: func() adminops.DaemonInfo {
				return adminops.DaemonInfo{PID: 7, StartedAt: started, Key: vault.KeyInfo{Source: vault.KeySourceFile, File: "/k"}}
			},
			Shutdown: func() { stopped.Store(true) },
		},
	})
	ctx := t.Context()
	st, err := s.Status(ctx)
	if err != nil || st.PID != 7 || st.UptimeSeconds != 90 || st.Key != (apiv1.KeyInfo{Source: "file", File: "/k"}) ||
		st.KeyWarning == "" || st.Tenants.Count != 1 || !slices.Equal(st.Tenants.IDs, []string{"acme"}) {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	cs, err := s.Connections(ctx, "acme", "alice")
	if err != nil || len(cs.Connections) != 1 || cs.Connections[0].Provider != "github" || cs.APIKeys == nil {
		t.Fatalf("Connections = %+v, %v", cs, err)
	}
	if err := s.Disconnect(ctx, "acme", "alice", "slack"); err == nil || err.Error() != `no connection to "slack": not found` {
		t.Fatalf("Disconnect = %v", err)
	}
	if resp, err := s.Shutdown(ctx); err != nil || resp != (apiv1.ShutdownResponse{Status: "stopping", PID: 7}) || !stopped.Load() {
		t.Fatalf("Shutdown = %+v, %v (stopped %v)", resp, err, stopped.Load())
	}
}
