package conformance

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The diagnostic fixtures of the server-stateless scenario (SEP-2575, the
// stateless 2026-07-28 core), which the suite uses to probe per-request
// capabilities, the response stream and per-request log levels, and the
// hooks that change the tool and prompt lists while a subscriptions/listen
// stream is open.
const (
	statelessMissingCapability   = "test_missing_capability"
	statelessStreamingElicit     = "test_streaming_elicitation"
	statelessLoggingTool         = "test_logging_tool"
	statelessTriggerToolChange   = "test_trigger_tool_change"
	statelessTriggerPromptChange = "test_trigger_prompt_change"

	// dynamicTool and dynamicPrompt are added and removed again by the
	// trigger fixtures; they never stay listed.
	dynamicTool   = "test_dynamic_tool"
	dynamicPrompt = "test_dynamic_prompt"
)

func registerStateless(s *server.MCPServer) {
	s.AddTool(mcp.NewTool(statelessMissingCapability,
		mcp.WithDescription("Needs the client's sampling capability; refuses a request that did not declare it")),
		missingCapability)
	s.AddTool(mcp.NewTool(statelessStreamingElicit,
		mcp.WithDescription("Asks the user for input mid-call: an InputRequiredResult from 2026-07-28 on, elicitation/create before")),
		streamingElicitation)
	s.AddTool(mcp.NewTool(statelessLoggingTool,
		mcp.WithDescription("Logs three messages (debug, info, warning) at the level the request asked for")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for _, m := range []struct {
				level mcp.LoggingLevel
				text  string
			}{
				{mcp.LoggingLevelDebug, "logging tool: debug message"},
				{mcp.LoggingLevelInfo, "logging tool: info message"},
				{mcp.LoggingLevelWarning, "logging tool: warning message"},
			} {
				n := mcp.NewLoggingMessageNotification(m.level, "conformance-test-server", m.text)
				if err := s.SendLogMessageToClient(ctx, n); err != nil {
					return nil, fmt.Errorf("%s: %w", statelessLoggingTool, err)
				}
			}
			return mcp.NewToolResultText("logging tool done"), nil
		})
	s.AddTool(mcp.NewTool(statelessTriggerToolChange,
		mcp.WithDescription("Adds and removes a tool, so list-changed notifications go out")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddTool(mcp.NewTool(dynamicTool, mcp.WithDescription("Briefly listed by "+statelessTriggerToolChange)),
				func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return mcp.NewToolResultText("dynamic"), nil
				})
			s.DeleteTools(dynamicTool)
			return mcp.NewToolResultText("tool list changed"), nil
		})
	s.AddTool(mcp.NewTool(statelessTriggerPromptChange,
		mcp.WithDescription("Adds and removes a prompt, so list-changed notifications go out")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddPrompt(mcp.NewPrompt(dynamicPrompt, mcp.WithPromptDescription("Briefly listed by "+statelessTriggerPromptChange)),
				func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return mcp.NewGetPromptResult("dynamic", nil), nil
				})
			s.DeletePrompts(dynamicPrompt)
			return mcp.NewToolResultText("prompt list changed"), nil
		})
}

// missingCapability needs sampling. Without it declared it fails with
// mcp.MissingRequiredClientCapabilityError; note that mcp-go v1.2.1 answers
// any tool handler error with -32603, not the -32021 the suite wants.
func missingCapability(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if clientCapabilities(ctx).Sampling == nil {
		return nil, fmt.Errorf("%s: %w", statelessMissingCapability,
			mcp.MissingRequiredClientCapabilityError{Capability: "sampling"})
	}
	if res := server.SamplingResponse(req.Params.InputResponses, "probe"); res != nil {
		return mcp.NewToolResultText("LLM response: " + samplingText(res)), nil
	}
	return server.NewInputRequestBuilder("").
		Sample("probe", question("Reply with OK", 10)).
		ToolResult(), nil
}

// streamingElicitation asks for input mid-call. A 2026-07-28 client gets an
// InputRequiredResult as the response, never a server-to-client request on
// the response stream; an older client gets elicitation/create from mcp-go.
func streamingElicitation(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if ans, ok := elicited(req.Params.InputResponses, "user_input"); ok {
		return mcp.NewToolResultText(fmt.Sprintf("elicitation answered: action=%s, content=%v", ans.Action, ans.Content)), nil
	}
	if server.IsModernRequest(ctx) && clientCapabilities(ctx).Elicitation == nil {
		return nil, fmt.Errorf("%s: %w", statelessStreamingElicit,
			mcp.MissingRequiredClientCapabilityError{Capability: "elicitation"})
	}
	return server.NewInputRequestBuilder("").
		Elicit("user_input", nameForm("What is your name?")).
		ToolResult(), nil
}
