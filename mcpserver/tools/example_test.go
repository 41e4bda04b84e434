package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// A registry starts with the built-in tools; register your own with the
// tenants that may see them, then ask which tools a tenant gets. A handler
// learns who calls it with CallerFrom and keeps per-session state with
// SessionValues.
func ExampleRegistry() {
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("acme_greet",
			mcp.WithDescription("Greets the caller"),
			mcp.WithString("name", mcp.Required())),
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			caller, _ := tools.CallerFrom(ctx)
			vals := tools.SessionValues(ctx)
			if err := vals.Set(ctx, "last_greeted", []byte(req.GetString("name", ""))); err != nil {
				// Stateless (2026-07-28) requests have no session.
				return mcp.NewToolResultError(err.Error()), nil
			}
			return mcp.NewToolResultText("hello " + req.GetString("name", "") + " from " + caller.TenantID), nil
		},
		AllowedTenants: []string{"acme"},
		ToolSets:       []string{"greetings"},
	})
	if err != nil {
		fmt.Println(err)
	}
	// Names are unique.
	fmt.Println(reg.Register(tools.Tool{Definition: mcp.NewTool("acme_greet"), Handler: nil}) != nil)

	for _, tenant := range []string{"acme", "beta"} {
		fmt.Print(tenant, ":")
		for _, t := range reg.ForTenant(tenant) {
			fmt.Print(" ", t.Definition.Name)
		}
		fmt.Println()
	}
	// Output:
	// true
	// acme: plexus_whoami acme_greet
	// beta: plexus_whoami
}

// A tool that needs the caller's GitHub connection declares it in Requires;
// Plexus checks the connection before calling the handler and, when it is
// missing, answers with an authorization URL instead. In the handler,
// AuthenticatedClient returns the caller's own client (its token refreshes
// itself); return credential errors as they are and Plexus turns them into
// the same result (for example when the user revoked access mid-call).
func ExampleAuthenticatedClient() {
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("github_login", mcp.WithDescription("Your GitHub login")),
		Requires: &tools.Requirement{OAuth: &tools.OAuthRequirement{
			Provider: "github",
			Scopes:   []string{"read:user"},
		}},
		Handler: func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			client, err := tools.AuthenticatedClient(ctx, "github")
			if err != nil {
				return nil, err // consent required: Plexus answers with the authorization URL
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.github.com/user", nil)
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			resp, err := client.Do(req)
			if tools.IsCredentialError(err) {
				return nil, err
			} else if err != nil {
				return mcp.NewToolResultError("github: " + err.Error()), nil
			}
			defer resp.Body.Close()
			var u struct {
				Login string `json:"login"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
				return mcp.NewToolResultError("github: " + err.Error()), nil
			}
			return mcp.NewToolResultText("you are " + u.Login), nil
		},
	})
	fmt.Println(err)

	// Outside Plexus's MCP endpoint there are no credentials.
	_, err = tools.AuthenticatedClient(context.Background(), "github")
	fmt.Println(errors.Is(err, tools.ErrNoCredentials))
	// Output:
	// <nil>
	// true
}

// A tool that needs an API key declares who issues it and how to get one;
// the handler reads it with APIKey (or, as in MCP Plexus, from the
// "<provider>_api_key" argument, which Plexus fills in and hides).
func ExampleAPIKey() {
	reg := tools.NewRegistry()
	err := reg.Register(tools.Tool{
		Definition: mcp.NewTool("forecast",
			mcp.WithString("city", mcp.Required()),
			mcp.WithString(tools.APIKeyArgument("openweathermap"))),
		Requires: &tools.Requirement{APIKey: &tools.APIKeyRequirement{
			Provider:     "openweathermap",
			DisplayName:  "OpenWeatherMap API key",
			Instructions: "Get one at https://home.openweathermap.org/api_keys.",
		}},
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			key, err := tools.APIKey(ctx, "openweathermap")
			if err != nil {
				return nil, err // missing: Plexus answers with where to enter it
			}
			_ = key // use it; never log or return it
			return mcp.NewToolResultText("sunny in " + req.GetString("city", "")), nil
		},
	})
	fmt.Println(err, tools.APIKeyArgument("openweathermap"))
	// Output:
	// <nil> openweathermap_api_key
}
