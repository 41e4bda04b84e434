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
	for _, name := range []string{
		"test_simple_text", "test_image_content", "test_error_handling", "test_tool_with_progress", "test_sampling", "test_elicitation",
		// 2026-07-28: server-stateless and input-required-result-*.
		"test_missing_capability", "test_streaming_elicitation", "test_logging_tool", "test_trigger_tool_change", "test_trigger_prompt_change",
		"test_input_required_result_elicitation", "test_input_required_result_sampling", "test_input_required_result_list_roots",
		"test_input_required_result_request_state", "test_input_required_result_multiple_inputs", "test_input_required_result_multi_round",
		"test_input_required_result_tampered_state", "test_input_required_result_capabilities",
	} {
		if s.GetTool(name) == nil {
			t.Errorf("tool %s missing", name)
		}
	}
	if _, ok := s.ListPrompts()["test_input_required_result_prompt"]; !ok {
		t.Error("prompt test_input_required_result_prompt missing")
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
