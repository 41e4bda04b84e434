package tools

import (
	"context"
	"errors"
	"slices"
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
	want := `{"tenant":"acme","user":"u1","guest":false,"session":"s1","protocol":"2025-11-25"}`
	if got := res.Content[0].(mcp.TextContent).Text; got != want {
		t.Fatalf("whoami = %s, want %s", got, want)
	}
	res, _ = whoami(t.Context(), mcp.CallToolRequest{})
	if !res.IsError {
		t.Fatal("whoami without a caller did not fail")
	}
	var _ server.ToolHandlerFunc = whoami
}
