package conformance

import (
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// TestFixtures: the fixtures the suite calls are there and answer.
func TestFixtures(t *testing.T) {
	s := server.NewMCPServer("conf", "1", ServerOptions()...)
	Register(s)
	for _, name := range []string{"test_simple_text", "test_image_content", "test_error_handling", "test_tool_with_progress", "test_sampling", "test_elicitation"} {
		if s.GetTool(name) == nil {
			t.Errorf("tool %s missing", name)
		}
	}
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	call := mcp.CallToolRequest{}
	call.Params.Name = "test_simple_text"
	res, err := c.CallTool(ctx, call)
	if err != nil || res.Content[0].(mcp.TextContent).Text != "This is a simple text response for testing." {
		t.Fatalf("test_simple_text = %v, %v", res, err)
	}
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "test://static-text"
	if _, err := c.ReadResource(ctx, rr); err != nil {
		t.Fatalf("read test://static-text: %v", err)
	}
	gp := mcp.GetPromptRequest{}
	gp.Params.Name = "test_simple_prompt"
	if _, err := c.GetPrompt(ctx, gp); err != nil {
		t.Fatalf("get test_simple_prompt: %v", err)
	}
}
