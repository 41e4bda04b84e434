package adminops_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
)

// fakeRuntime stands for the daemon's running upstreams.
type fakeRuntime struct {
	restarted []string
}

func (f *fakeRuntime) UpstreamState(_ context.Context, tenant, name string, _ time.Duration) (mcpserver.UpstreamState, bool) {
	return mcpserver.UpstreamState{Listed: true, Tools: 3, Instances: []mcpserver.UpstreamInstance{{Status: upstream.Status{State: upstream.StateRunning, PID: 42, Starts: 1}}},
		Log: []upstream.LogLine{{Source: "stderr", Text: "hello from " + tenant + "/" + name}}}, true
}

func (f *fakeRuntime) RestartUpstream(tenant, name string) bool {
	f.restarted = append(f.restarted, tenant+"/"+name)
	return true
}

// TestUpstreamOperations: add (the command line split into words, the
// credential a reference), list, show with status, update, log, restart,
// remove.
func TestUpstreamOperations(t *testing.T) {
	rt := &fakeRuntime{}
	s, v := newOps(t, adminops.Options{Upstreams: rt})
	ctx := t.Context()
	up, err := s.AddUpstream(ctx, "acme", apiv1.UpstreamRequest{
		Name:        "everything",
		Command:     `npx -y "@modelcontextprotocol/server-everything"`,
		Credentials: []apiv1.UpstreamCredential{{Kind: "api_key", Provider: "openai", Env: "OPENAI_API_KEY"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Transport != "stdio" || up.Command != "npx" || !slices.Equal(up.Args, []string{"-y", "@modelcontextprotocol/server-everything"}) ||
		!up.PerUser || up.Status == nil || up.Status.Tools != 3 || up.Status.Instances[0].PID != 42 {
		t.Fatalf("added %+v (status %+v)", up, up.Status)
	}
	stored, err := v.GetUpstream(ctx, "acme", "everything")
	if err != nil || stored.Credentials[0] != (vault.UpstreamCredential{Kind: vault.CredentialAPIKey, Provider: "openai", Env: "OPENAI_API_KEY"}) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if _, err := s.AddUpstream(ctx, "acme", apiv1.UpstreamRequest{Name: "everything", Command: "x"}); !errors.Is(err, vault.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	list, err := s.ListUpstreams(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Name != "everything" {
		t.Fatalf("list %+v, %v", list, err)
	}
	up, err = s.UpdateUpstream(ctx, "acme", "everything", apiv1.UpstreamRequest{Command: "node server.js", Env: map[string]string{"DEBUG": "1"}})
	if err != nil || up.Command != "node" || up.PerUser || up.Env["DEBUG"] != "1" {
		t.Fatalf("update %+v, %v", up, err)
	}
	if _, err := s.UpdateUpstream(ctx, "acme", "everything", apiv1.UpstreamRequest{Name: "other", Command: "x"}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("rename: %v", err)
	}
	lg, err := s.UpstreamLog(ctx, "acme", "everything")
	if err != nil || len(lg.Lines) != 1 || lg.Lines[0].Text != "hello from acme/everything" {
		t.Fatalf("log %+v, %v", lg, err)
	}
	if _, err := s.RestartUpstream(ctx, "acme", "everything"); err != nil || !slices.Equal(rt.restarted, []string{"acme/everything"}) {
		t.Fatalf("restart: %v %v", err, rt.restarted)
	}
	if err := s.DeleteUpstream(ctx, "acme", "everything"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUpstream(ctx, "acme", "everything"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.DeleteUpstream(ctx, "acme", "everything"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestUpstreamFieldErrors: refused upstream requests name the field.
func TestUpstreamFieldErrors(t *testing.T) {
	s, _ := newOps(t, adminops.Options{})
	tests := []struct {
		name  string
		req   apiv1.UpstreamRequest
		field string
		text  string
	}{
		{"no name", apiv1.UpstreamRequest{Command: "x"}, "name", "name is required"},
		{"bad name", apiv1.UpstreamRequest{Name: "a__b", Command: "x"}, "name", `"__"`},
		{"neither", apiv1.UpstreamRequest{Name: "x"}, "command", "either a command"},
		{"shell pipe", apiv1.UpstreamRequest{Name: "x", Command: "server | tee log"}, "command", "without one"},
		{"open quote", apiv1.UpstreamRequest{Name: "x", Command: `server "arg`}, "command", "not closed"},
		{"plain http with key", apiv1.UpstreamRequest{Name: "x", URL: "http://example.com/mcp",
			Credentials: []apiv1.UpstreamCredential{{Kind: "api_key", Provider: "k", Header: "X-Key"}}}, "url", "https"},
		{"env to http", apiv1.UpstreamRequest{Name: "x", URL: "https://example.com/mcp",
			Credentials: []apiv1.UpstreamCredential{{Kind: "api_key", Provider: "k", Env: "K"}}}, "credentials", "headers"},
		{"oauth to stdio", apiv1.UpstreamRequest{Name: "x", Command: "server",
			Credentials: []apiv1.UpstreamCredential{{Kind: "oauth", Provider: "github"}}}, "credentials", "bearer token"},
		{"oauth unknown provider", apiv1.UpstreamRequest{Name: "x", URL: "https://api.githubcopilot.com/mcp/",
			Credentials: []apiv1.UpstreamCredential{{Kind: "oauth", Provider: "gitlab"}}}, "credentials", "no OAuth provider"},
		// The github preset's tokens go to api.github.com only.
		{"oauth elsewhere", apiv1.UpstreamRequest{Name: "x", URL: "https://mcp.example.com/mcp",
			Credentials: []apiv1.UpstreamCredential{{Kind: "oauth", Provider: "github"}}}, "credentials", "go only to its api origins"},
		{"timeout", apiv1.UpstreamRequest{Name: "x", Command: "s", CallTimeoutSeconds: -1}, "call_timeout_seconds", "between"},
		{"plexus env", apiv1.UpstreamRequest{Name: "x", Command: "s", Env: map[string]string{"PLEXUS_MASTER_KEY": "x"}}, "env", "daemon's own"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddUpstream(t.Context(), "acme", tc.req)
			fe, ok := errors.AsType[*apiv1.FieldError](err)
			if !ok || fe.Field != tc.field || !strings.Contains(err.Error(), tc.text) || !errors.Is(err, vault.ErrInvalid) {
				t.Fatalf("err = %v (field %v), want field %q mentioning %q", err, fe, tc.field, tc.text)
			}
		})
	}
	// An OAuth credential to an API origin of the provider is accepted.
	up, err := s.AddUpstream(t.Context(), "acme", apiv1.UpstreamRequest{Name: "gh", URL: "https://api.github.com/mcp",
		Credentials: []apiv1.UpstreamCredential{{Kind: "oauth", Provider: "github"}}})
	if err != nil || up.Transport != "http" || up.Credentials[0].Header != "Authorization" || up.Credentials[0].Scheme != "Bearer" {
		t.Fatalf("oauth upstream: %+v, %v", up, err)
	}
}

var splitCases = []struct {
	in   string
	want []string
	err  string
}{
	{"npx -y @modelcontextprotocol/server-everything", []string{"npx", "-y", "@modelcontextprotocol/server-everything"}, ""},
	{`  node  "my server.js"   --flag='a b' `, []string{"node", "my server.js", "--flag=a b"}, ""},
	{`a\ b 'c"d' "e\"f" ''`, []string{"a b", `c"d`, `e"f`, ""}, ""},
	{`uvx mcp-server-fetch --user-agent="x/1.0"`, []string{"uvx", "mcp-server-fetch", "--user-agent=x/1.0"}, ""},
	{`'$HOME' "\$x" a~b`, []string{"$HOME", "$x", "a~b"}, ""},
	{"", nil, ""},
	{"server > log", nil, "'>'"},
	{"a && b", nil, "'&'"},
	{"echo $HOME", nil, "'$'"},
	{`echo "$HOME"`, nil, "inside double quotes"},
	{"ls *.js", nil, "'*'"},
	{"~/bin/server", nil, "'~'"},
	{"a 'b", nil, "single quote"},
	{`a "b`, nil, "double quote"},
	{`a \`, nil, "backslash"},
	{"a\nb", nil, "one line"},
}

func TestSplitCommandLine(t *testing.T) {
	for _, tc := range splitCases {
		got, err := adminops.SplitCommandLine(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Split(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplitCommandLine: no panic; a split line's words contain no NUL or
// newline, and an unquoted shell character never passes.
func FuzzSplitCommandLine(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		words, err := adminops.SplitCommandLine(in)
		if err != nil {
			return
		}
		if len(words) > 257 {
			t.Fatalf("%d words", len(words))
		}
		for _, w := range words {
			if strings.ContainsAny(w, "\x00\n") {
				t.Fatalf("word %q", w)
			}
		}
		if !strings.ContainsAny(in, `'"\`) && strings.ContainsAny(in, "|&;<>()$`*?[") {
			t.Fatalf("accepted %q", in)
		}
	})
}
