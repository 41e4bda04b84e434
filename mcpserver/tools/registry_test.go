package tools

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func noop(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return mcp.NewToolResultText("ok"), nil
}

func TestRegister(t *testing.T) {
	for _, tc := range []struct {
		name string
		tool Tool
		want error
	}{
		{"ok", Tool{Definition: mcp.NewTool("a_tool"), Handler: noop}, nil},
		{"empty name", Tool{Definition: mcp.NewTool(""), Handler: noop}, ErrInvalidTool},
		{"bad name", Tool{Definition: mcp.NewTool("has space"), Handler: noop}, ErrInvalidTool},
		{"nil handler", Tool{Definition: mcp.NewTool("b_tool")}, ErrInvalidTool},
		{"empty tenant", Tool{Definition: mcp.NewTool("c_tool"), Handler: noop, AllowedTenants: []string{""}}, ErrInvalidTool},
		{"duplicate of built-in", Tool{Definition: mcp.NewTool(WhoamiName), Handler: noop}, ErrDuplicateTool},
		{"read-only but destructive by default", Tool{Definition: mcp.NewTool("d_tool", mcp.WithReadOnlyHintAnnotation(true)), Handler: noop}, ErrInvalidTool},
		{"read-only and not destructive", Tool{Definition: mcp.NewTool("e_tool", mcp.WithReadOnlyHintAnnotation(true),
			mcp.WithDestructiveHintAnnotation(false)), Handler: noop}, nil},
		{"destructive writer", Tool{Definition: mcp.NewTool("f_tool", mcp.WithReadOnlyHintAnnotation(false)), Handler: noop}, nil},
		{"no hints", Tool{Definition: mcp.Tool{Name: "g_tool"}, Handler: noop}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewRegistry().Register(tc.tool)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Register = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestForTenantAndFilter(t *testing.T) {
	r := NewRegistry()
	for _, tl := range []Tool{
		{Definition: mcp.NewTool("acme_tool"), Handler: noop, AllowedTenants: []string{"acme"}},
		{Definition: mcp.NewTool("shared_tool"), Handler: noop, AllowedTenants: []string{"acme", "beta"}},
	} {
		if err := r.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ts []Tool) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Definition.Name)
		}
		return out
	}
	for tenant, want := range map[string][]string{
		"acme":  {WhoamiName, "acme_tool", "shared_tool"},
		"beta":  {WhoamiName, "shared_tool"},
		"gamma": {WhoamiName},
	} {
		if got := names(r.ForTenant(tenant)); !slices.Equal(got, want) {
			t.Errorf("ForTenant(%s) = %v, want %v", tenant, got, want)
		}
	}
	in := []mcp.Tool{mcp.NewTool("acme_tool"), mcp.NewTool("shared_tool"), mcp.NewTool("fixture")}
	got := r.Filter("beta")(t.Context(), in)
	var gotNames []string
	for _, tl := range got {
		gotNames = append(gotNames, tl.Name)
	}
	if want := []string{"shared_tool", "fixture"}; !slices.Equal(gotNames, want) {
		t.Fatalf("Filter(beta) = %v, want %v", gotNames, want)
	}
	if len(in) != 3 || in[0].Name != "acme_tool" {
		t.Fatal("Filter changed its input")
	}
}

// memStore is an in-memory SessionStore.
type memStore map[string][]byte

func (m memStore) GetSessionValue(_ context.Context, tenant, sid, key string) ([]byte, error) {
	v, ok := m[tenant+"/"+sid+"/"+key]
	if !ok {
		return nil, ErrNoValue
	}
	return v, nil
}

func (m memStore) SetSessionValue(_ context.Context, tenant, sid, key string, v []byte) error {
	m[tenant+"/"+sid+"/"+key] = v
	return nil
}

func TestSessionValues(t *testing.T) {
	st := memStore{}
	ctx := WithSessionStore(WithCaller(t.Context(), Caller{TenantID: "acme", SessionID: "s1"}), st)
	vals := SessionValues(ctx)
	if _, err := vals.Get(ctx, "k"); !errors.Is(err, ErrNoValue) {
		t.Fatalf("Get unset = %v", err)
	}
	if err := vals.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if b, err := vals.Get(ctx, "k"); err != nil || string(b) != "v" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if err := vals.Set(ctx, "", nil); err == nil {
		t.Fatal("empty key accepted")
	}
	for name, c := range map[string]context.Context{
		"stateless": WithSessionStore(WithCaller(t.Context(), Caller{TenantID: "acme"}), st),
		"no caller": t.Context(),
	} {
		v := SessionValues(c)
		if _, err := v.Get(c, "k"); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: Get = %v, want ErrNoSession", name, err)
		}
		if err := v.Set(c, "k", nil); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: Set = %v, want ErrNoSession", name, err)
		}
	}
}

func TestWhoami(t *testing.T) {
	ctx := WithCaller(t.Context(), Caller{TenantID: "acme", UserID: "u1", SessionID: "s1", Protocol: "2025-11-25"})
	res, err := whoami(ctx, mcp.CallToolRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenant":"acme","user":"u1","guest":false,"session_fingerprint":"` + SessionFingerprint("s1") + `","protocol":"2025-11-25"}`
	if got := res.Content[0].(mcp.TextContent).Text; got != want {
		t.Fatalf("whoami = %s, want %s", got, want)
	}
	res, _ = whoami(t.Context(), mcp.CallToolRequest{})
	if !res.IsError {
		t.Fatal("whoami without a caller did not fail")
	}
	var _ server.ToolHandlerFunc = whoami
}

func TestRegisterRequirement(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *Requirement
		ok   bool
	}{
		{"none", nil, true},
		{"oauth", &Requirement{OAuth: &OAuthRequirement{Provider: "github", Scopes: []string{"repo"}}}, true},
		{"api key", &Requirement{APIKey: &APIKeyRequirement{Provider: "owm", DisplayName: "OWM key"}}, true},
		{"both", &Requirement{OAuth: &OAuthRequirement{Provider: "github"}, APIKey: &APIKeyRequirement{Provider: "owm", DisplayName: "k"}}, true},
		{"empty", &Requirement{}, false},
		{"oauth no provider", &Requirement{OAuth: &OAuthRequirement{}}, false},
		{"oauth bad provider", &Requirement{OAuth: &OAuthRequirement{Provider: "git hub"}}, false},
		{"api key no display name", &Requirement{APIKey: &APIKeyRequirement{Provider: "owm"}}, false},
		// The vault's rule (vault.ValidateProviderName): a name it can
		// never store is refused at registration, not at the first call.
		{"api key upper case", &Requirement{APIKey: &APIKeyRequirement{Provider: "OpenWeather", DisplayName: "k"}}, false},
		{"oauth upper case", &Requirement{OAuth: &OAuthRequirement{Provider: "GitHub"}}, false},
		{"api key dot", &Requirement{APIKey: &APIKeyRequirement{Provider: "open.weather", DisplayName: "k"}}, false},
		{"api key leading dash", &Requirement{APIKey: &APIKeyRequirement{Provider: "-owm", DisplayName: "k"}}, false},
		{"api key 64 chars", &Requirement{APIKey: &APIKeyRequirement{Provider: strings.Repeat("a", 64), DisplayName: "k"}}, false},
		{"api key 63 chars", &Requirement{APIKey: &APIKeyRequirement{Provider: strings.Repeat("a", 63), DisplayName: "k"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NewRegistry().Register(Tool{Definition: mcp.NewTool("t"), Handler: noop, Requires: tc.req})
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidTool)) {
				t.Fatalf("Register = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// Register copies the requirement.
	r := NewRegistry()
	req := &Requirement{OAuth: &OAuthRequirement{Provider: "github", Scopes: []string{"repo"}}}
	if err := r.Register(Tool{Definition: mcp.NewTool("t"), Handler: noop, Requires: req}); err != nil {
		t.Fatal(err)
	}
	req.OAuth.Scopes[0] = "changed"
	if got, _ := r.Lookup("t"); got.Requires.OAuth.Scopes[0] != "repo" {
		t.Fatal("Register kept the caller's slice")
	}
}

func TestToolSets(t *testing.T) {
	tl := Tool{ToolSets: []string{"api key examples", "ops"}}
	for set, want := range map[string]bool{"ops": true, " ops ": true, "api_key_examples": true, "api key examples": true, "other": false, "": false} {
		if got := tl.InToolSet(set); got != want {
			t.Errorf("InToolSet(%q) = %v", set, got)
		}
	}
	if got := APIKeyArgument("My-Service Alpha"); got != "my_service_alpha_api_key" {
		t.Errorf("APIKeyArgument = %q", got)
	}
}

// fakeCreds is a Credentials answering from maps.
type fakeCreds struct {
	keys   map[string]string
	scopes *[]string
}

func (f fakeCreds) HTTPClient(_ context.Context, provider string, scopes []string) (*http.Client, error) {
	*f.scopes = scopes
	if provider != "github" {
		return nil, ErrConsentRequired
	}
	return http.DefaultClient, nil
}

func (f fakeCreds) APIKey(_ context.Context, provider string) (string, error) {
	k, ok := f.keys[provider]
	if !ok {
		return "", ErrAPIKeyMissing
	}
	return k, nil
}

func TestCredentialsFromContext(t *testing.T) {
	var scopes []string
	ctx := WithCredentials(t.Context(), fakeCreds{keys: map[string]string{"owm": "k"}, scopes: &scopes})
	if k, err := APIKey(ctx, "owm"); err != nil || k != "k" {
		t.Fatalf("APIKey = %q, %v", k, err)
	}
	if _, err := APIKey(ctx, "other"); !errors.Is(err, ErrAPIKeyMissing) || !IsCredentialError(err) {
		t.Fatalf("APIKey(other) = %v", err)
	}
	if _, err := AuthenticatedClient(ctx, "slack"); !errors.Is(err, ErrConsentRequired) || !IsCredentialError(err) {
		t.Fatalf("AuthenticatedClient(slack) = %v", err)
	}
	// Scopes come from the running tool's requirement for that provider.
	ctx = WithRequirement(ctx, &Requirement{OAuth: &OAuthRequirement{Provider: "github", Scopes: []string{"repo"}}})
	if _, err := AuthenticatedClient(ctx, "github"); err != nil || len(scopes) != 1 || scopes[0] != "repo" {
		t.Fatalf("AuthenticatedClient(github) = %v, scopes %v", err, scopes)
	}
	if _, err := APIKey(t.Context(), "owm"); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
}

func TestReservedSessionKeys(t *testing.T) {
	ctx := WithSessionStore(WithCaller(t.Context(), Caller{TenantID: "acme", SessionID: "s1"}), memStore{})
	for _, k := range []string{"oauth:github", "api_key:owm"} {
		if err := SessionValues(ctx).Set(ctx, k, []byte("x")); err == nil {
			t.Errorf("Set(%q) accepted", k)
		}
		if _, err := SessionValues(ctx).Get(ctx, k); err == nil || errors.Is(err, ErrNoValue) {
			t.Errorf("Get(%q) = %v", k, err)
		}
	}
}
