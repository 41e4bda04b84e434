package tools

import (
	"context"
	"errors"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func readNothing(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	return nil, nil
}

func getNothing(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	return mcp.NewGetPromptResult("", nil), nil
}

func TestRegisterItems(t *testing.T) {
	apiKey := &Requirement{APIKey: &APIKeyRequirement{Provider: "weather", DisplayName: "Weather key"}}
	for _, tc := range []struct {
		name     string
		register func(r *Registry) error
		want     error
	}{
		{"resource ok", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a"), Handler: readNothing, Requires: apiKey})
		}, nil},
		{"resource relative URI", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("a/b", "a"), Handler: readNothing})
		}, ErrInvalidTool},
		{"resource no name", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", " "), Handler: readNothing})
		}, ErrInvalidTool},
		{"resource nil handler", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a")})
		}, ErrInvalidTool},
		{"resource empty tenant", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a"), Handler: readNothing, AllowedTenants: []string{""}})
		}, ErrInvalidTool},
		{"resource bad requirement", func(r *Registry) error {
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a"), Handler: readNothing, Requires: &Requirement{}})
		}, ErrInvalidTool},
		{"resource duplicate", func(r *Registry) error {
			_ = r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a"), Handler: readNothing})
			return r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "b"), Handler: readNothing})
		}, ErrDuplicateTool},
		{"template ok", func(r *Registry) error {
			return r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.NewResourceTemplate("plexus://f/{x}", "f"), Handler: readNothing})
		}, nil},
		{"template missing", func(r *Registry) error {
			return r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.ResourceTemplate{Name: "f"}, Handler: readNothing})
		}, ErrInvalidTool},
		{"template nil handler", func(r *Registry) error {
			return r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.NewResourceTemplate("plexus://f/{x}", "f")})
		}, ErrInvalidTool},
		{"template duplicate", func(r *Registry) error {
			_ = r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.NewResourceTemplate("plexus://f/{x}", "f"), Handler: readNothing})
			return r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.NewResourceTemplate("plexus://f/{x}", "g"), Handler: readNothing})
		}, ErrDuplicateTool},
		{"prompt ok", func(r *Registry) error {
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p", mcp.WithArgument("a")), Handler: getNothing})
		}, nil},
		{"prompt bad name", func(r *Registry) error {
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("has space"), Handler: getNothing})
		}, ErrInvalidTool},
		{"prompt repeated argument", func(r *Registry) error {
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p", mcp.WithArgument("a"), mcp.WithArgument("a")), Handler: getNothing})
		}, ErrInvalidTool},
		{"prompt nil handler", func(r *Registry) error {
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p")})
		}, ErrInvalidTool},
		{"prompt duplicate", func(r *Registry) error {
			_ = r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p"), Handler: getNothing})
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p"), Handler: getNothing})
		}, ErrDuplicateTool},
		{"prompt may share a tool's name", func(r *Registry) error {
			return r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt(WhoamiName), Handler: getNothing})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.register(NewRegistry()); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestItemsForTenant(t *testing.T) {
	r := NewRegistry()
	allowed := []string{"acme"}
	if err := r.RegisterResource(Resource{Definition: mcp.NewResource("plexus://a", "a"), Handler: readNothing,
		AllowedTenants: allowed, ToolSets: []string{"My Set"}}); err != nil {
		t.Fatal(err)
	}
	allowed[0] = "beta" // Register keeps its own copy
	if err := r.RegisterPrompt(Prompt{Definition: mcp.NewPrompt("p"), Handler: getNothing}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterResourceTemplate(ResourceTemplate{Definition: mcp.NewResourceTemplate("plexus://f/{x}", "f"),
		Handler: readNothing, AllowedTenants: []string{"beta"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(r.ResourcesForTenant("acme")); n != 1 {
		t.Errorf("acme resources %d", n)
	}
	if n := len(r.ResourcesForTenant("beta")); n != 0 {
		t.Errorf("beta resources %d", n)
	}
	if n := len(r.ResourceTemplatesForTenant("acme")); n != 0 {
		t.Errorf("acme templates %d", n)
	}
	if n := len(r.PromptsForTenant("beta")); n != 1 {
		t.Errorf("beta prompts %d", n)
	}
	sc, ok := r.ResourceScope("plexus://a")
	if !ok || !sc.InToolSet("My_Set") || sc.AllowedFor("beta") || !sc.AllowedFor("acme") {
		t.Errorf("scope %+v", sc)
	}
	if _, ok := r.PromptScope("nope"); ok {
		t.Error("unknown prompt has a scope")
	}
}
