package vault

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func stdioUpstream(tenant, name string) Upstream {
	return Upstream{TenantID: tenant, Name: name, Transport: UpstreamStdio, Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything"}}
}

// TestUpstreamValidation: every rule of an upstream record refuses with
// ErrInvalid and a message naming the field.
func TestUpstreamValidation(t *testing.T) {
	key := func(env string) UpstreamCredential {
		return UpstreamCredential{Kind: CredentialAPIKey, Provider: "openai", Env: env}
	}
	httpUp := func(url string, creds ...UpstreamCredential) Upstream {
		return Upstream{TenantID: "acme", Name: "remote", Transport: UpstreamHTTP, URL: url, Credentials: creds}
	}
	bearer := UpstreamCredential{Kind: CredentialOAuth, Provider: "github", Header: "Authorization", Scheme: "Bearer"}
	tests := []struct {
		name string
		u    Upstream
		want string // "" = valid
	}{
		{"stdio ok", stdioUpstream("acme", "everything"), ""},
		{"stdio with key", func() Upstream {
			u := stdioUpstream("acme", "e")
			u.Credentials = []UpstreamCredential{key("OPENAI_API_KEY")}
			u.Env = map[string]string{"DEBUG": "1"}
			return u
		}(), ""},
		{"http ok", httpUp("https://mcp.example.com/mcp", bearer), ""},
		{"http loopback ok", httpUp("http://127.0.0.1:9/mcp", bearer), ""},
		{"plain http elsewhere without credential", httpUp("http://192.168.1.5:8000/mcp"), ""},
		{"plain http elsewhere with credential", httpUp("http://192.168.1.5:8000/mcp", bearer), "url"},
		{"user info in url", httpUp("http://user:pw@192.168.1.5/mcp"), "user info"},
		{"sse ok", Upstream{TenantID: "acme", Name: "old", Transport: UpstreamSSE, URL: "https://example.com/sse"}, ""},
		{"empty name", stdioUpstream("acme", ""), "upstream name"},
		{"upper case name", stdioUpstream("acme", "Everything"), "upstream name"},
		{"double underscore", stdioUpstream("acme", "a__b"), `"__"`},
		{"trailing underscore", stdioUpstream("acme", "a_"), `"__"`},
		{"long name", stdioUpstream("acme", strings.Repeat("a", 33)), "at most 32"},
		{"bad tenant", stdioUpstream("API", "x"), "tenant id"},
		{"no transport", Upstream{TenantID: "acme", Name: "x", Command: "x"}, "transport"},
		{"stdio without command", Upstream{TenantID: "acme", Name: "x", Transport: UpstreamStdio}, "command: required"},
		{"stdio with url", func() Upstream { u := stdioUpstream("acme", "x"); u.URL = "https://x"; return u }(), "no URL"},
		{"nul in arg", func() Upstream { u := stdioUpstream("acme", "x"); u.Args = []string{"a\x00b"}; return u }(), "argument 1"},
		{"bad env name", func() Upstream { u := stdioUpstream("acme", "x"); u.Env = map[string]string{"1X": "v"}; return u }(), "env name"},
		{"plexus env", func() Upstream {
			u := stdioUpstream("acme", "x")
			u.Credentials = []UpstreamCredential{key("PLEXUS_MASTER_KEY")}
			return u
		}(), "daemon's own"},
		{"env twice", func() Upstream {
			u := stdioUpstream("acme", "x")
			u.Credentials = []UpstreamCredential{key("K"), key("K")}
			return u
		}(), "set twice"},
		{"env plain and secret", func() Upstream {
			u := stdioUpstream("acme", "x")
			u.Env = map[string]string{"K": "v"}
			u.Credentials = []UpstreamCredential{key("K")}
			return u
		}(), "plain variable"},
		{"oauth to stdio", func() Upstream {
			u := stdioUpstream("acme", "x")
			u.Credentials = []UpstreamCredential{{Kind: CredentialOAuth, Provider: "github", Env: "GITHUB_TOKEN"}}
			return u
		}(), "bearer token"},
		{"header to stdio", func() Upstream {
			u := stdioUpstream("acme", "x")
			u.Credentials = []UpstreamCredential{{Kind: CredentialAPIKey, Provider: "k", Header: "X-Key"}}
			return u
		}(), "environment variables, not headers"},
		{"env to http", httpUp("https://x.example/mcp", key("K")), "headers, not environment"},
		{"reserved header", httpUp("https://x.example/mcp", UpstreamCredential{Kind: CredentialAPIKey, Provider: "k", Header: "Mcp-Session-Id"}), "MCP transport"},
		{"bad header", httpUp("https://x.example/mcp", UpstreamCredential{Kind: CredentialAPIKey, Provider: "k", Header: "X Key"}), "header name"},
		{"header twice", httpUp("https://x.example/mcp",
			UpstreamCredential{Kind: CredentialAPIKey, Provider: "k", Header: "x-key"},
			UpstreamCredential{Kind: CredentialAPIKey, Provider: "j", Header: "X-Key"}), "set twice"},
		{"two oauth", httpUp("https://x.example/mcp", bearer,
			UpstreamCredential{Kind: CredentialOAuth, Provider: "google", Header: "X-Google"}), "one OAuth"},
		{"bad kind", httpUp("https://x.example/mcp", UpstreamCredential{Kind: "password", Provider: "k", Header: "X-Key"}), "credential kind"},
		{"bad provider", httpUp("https://x.example/mcp", UpstreamCredential{Kind: CredentialAPIKey, Provider: "K!", Header: "X-Key"}), "provider name"},
		{"http with command", Upstream{TenantID: "acme", Name: "x", Transport: UpstreamHTTP, URL: "https://x.example", Command: "x"}, "no command"},
		{"short timeout", func() Upstream { u := stdioUpstream("acme", "x"); u.CallTimeout = time.Millisecond; return u }(), "call timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkUpstream(tc.u)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

// TestUpstreamCRUD: create, get, list, update (keeps CreatedAt), delete;
// each write is announced to subscribers, naming the upstream.
func TestUpstreamCRUD(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	var mu sync.Mutex
	var seen []Change
	v.Subscribe(func(c Change) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	})

	created, err := v.CreateUpstream(ctx, stdioUpstream("acme", "everything"))
	if err != nil {
		t.Fatal(err)
	}
	if created.CreatedAt.IsZero() || !created.CreatedAt.Equal(created.UpdatedAt) {
		t.Fatalf("times: %+v", created)
	}
	if _, err := v.CreateUpstream(ctx, stdioUpstream("acme", "everything")); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := v.CreateUpstream(ctx, stdioUpstream("nope", "everything")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("create in missing tenant: %v", err)
	}
	if _, err := v.CreateUpstream(ctx, stdioUpstream("acme", "another")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateUpstream(ctx, stdioUpstream("beta", "zeta")); err != nil {
		t.Fatal(err)
	}
	list, err := v.ListUpstreams(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].Name != "another" || list[1].Name != "everything" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	clk.Add(time.Minute)
	up := stdioUpstream("acme", "everything")
	up.Args = []string{"changed"}
	updated, err := v.UpdateUpstream(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	if !updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Fatalf("update times: %+v", updated)
	}
	got, err := v.GetUpstream(ctx, "acme", "everything")
	if err != nil || len(got.Args) != 1 || got.Args[0] != "changed" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := v.UpdateUpstream(ctx, stdioUpstream("acme", "missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := v.DeleteUpstream(ctx, "acme", "everything"); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteUpstream(ctx, "acme", "everything"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := v.GetUpstream(ctx, "acme", "everything"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var ups []Change
	for _, c := range seen {
		if c.Kind == UpstreamChanged {
			ups = append(ups, c)
		}
	}
	want := []Change{
		{Kind: UpstreamChanged, TenantID: "acme", Upstream: "everything"},
		{Kind: UpstreamChanged, TenantID: "acme", Upstream: "another"},
		{Kind: UpstreamChanged, TenantID: "beta", Upstream: "zeta"},
		{Kind: UpstreamChanged, TenantID: "acme", Upstream: "everything"},
		{Kind: UpstreamChanged, TenantID: "acme", Upstream: "everything", UpstreamDeleted: true},
	}
	if len(ups) != len(want) {
		t.Fatalf("announced %+v, want %+v", ups, want)
	}
	for i := range want {
		if ups[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, ups[i], want[i])
		}
	}
}

// FuzzValidateUpstreamName: an accepted name never contains the item
// separator and always fits the 64-character item names.
func FuzzValidateUpstreamName(f *testing.F) {
	for _, s := range []string{"everything", "a__b", "a_", "-a", "A", strings.Repeat("a", 40), "gh-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateUpstreamName(name) != nil {
			return
		}
		if strings.Contains(name, "__") || strings.HasSuffix(name, "_") || len(name) > MaxUpstreamNameLen || name == "" {
			t.Fatalf("accepted %q", name)
		}
	})
}
