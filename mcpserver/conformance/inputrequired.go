package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The input-required-result-* scenarios (SEP-2322, multi round-trip
// requests): each fixture first answers with an InputRequiredResult naming
// the input it needs, and completes when the client retries with that input
// in inputResponses (and the requestState echoed back). mcp-go renders the
// results; against a client older than 2026-07-28 it performs the
// elicitation/sampling/roots requests itself and re-invokes the handler, so
// the same fixtures serve both eras.

// Fixture names, as the suite calls them.
const (
	mrtrElicitation   = "test_input_required_result_elicitation"
	mrtrSampling      = "test_input_required_result_sampling"
	mrtrListRoots     = "test_input_required_result_list_roots"
	mrtrRequestState  = "test_input_required_result_request_state"
	mrtrMultipleInput = "test_input_required_result_multiple_inputs"
	mrtrMultiRound    = "test_input_required_result_multi_round"
	mrtrTamperedState = "test_input_required_result_tampered_state"
	mrtrCapabilities  = "test_input_required_result_capabilities"
	mrtrPrompt        = "test_input_required_result_prompt"
)

// inputRequired holds the multi round-trip fixtures and the sealer of their
// requestState.
type inputRequired struct{ states *stateSealer }

func registerInputRequired(s *server.MCPServer, states *stateSealer) {
	f := inputRequired{states: states}
	for _, t := range []struct {
		name, desc string
		h          server.ToolHandlerFunc
	}{
		{mrtrElicitation, "Asks for the user's name through an InputRequiredResult (elicitation)", f.elicitation},
		{mrtrSampling, "Asks the client's LLM a question through an InputRequiredResult (sampling)", f.sampling},
		{mrtrListRoots, "Asks for the client's roots through an InputRequiredResult (roots/list)", f.listRoots},
		{mrtrRequestState, "Round-trips a signed requestState and reports state-ok", f.requestState},
		{mrtrMultipleInput, "Asks for elicitation, sampling and roots in one InputRequiredResult", f.multipleInputs},
		{mrtrMultiRound, "Takes three rounds, with a new requestState each round", f.multiRound},
		{mrtrTamperedState, "Refuses a requestState that fails its integrity check", f.tamperedState},
		{mrtrCapabilities, "Asks only for input the client declared a capability for", f.capabilities},
	} {
		s.AddTool(mcp.NewTool(t.name, mcp.WithDescription(t.desc)), t.h)
	}
	s.AddPrompt(mcp.NewPrompt(mrtrPrompt,
		mcp.WithPromptTitle("Input Required Prompt"),
		mcp.WithPromptDescription("A prompt that asks for context through an InputRequiredResult")),
		f.prompt)
}

func (f inputRequired) elicitation(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if ans, ok := elicited(req.Params.InputResponses, "user_name"); ok {
		if name := stringField(ans, "name"); name != "" {
			return mcp.NewToolResultText("Hello, " + name + "!"), nil
		}
		if ans.Action != mcp.ElicitationResponseActionAccept {
			return mcp.NewToolResultText(fmt.Sprintf("No name given (action=%s)", ans.Action)), nil
		}
	}
	// First call, or the answer is missing or unusable: ask (again).
	return server.NewInputRequestBuilder("").
		Elicit("user_name", nameForm("What is your name?")).
		ToolResult(), nil
}

func (f inputRequired) sampling(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if res := server.SamplingResponse(req.Params.InputResponses, "capital_question"); res != nil {
		return mcp.NewToolResultText("LLM response: " + samplingText(res)), nil
	}
	return server.NewInputRequestBuilder("").
		Sample("capital_question", question("What is the capital of France?", 100)).
		ToolResult(), nil
}

func (f inputRequired) listRoots(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if res := server.RootsResponse(req.Params.InputResponses, "client_roots"); res != nil {
		return mcp.NewToolResultText("Client roots: " + rootURIs(res)), nil
	}
	return server.NewInputRequestBuilder("").Roots("client_roots").ToolResult(), nil
}

func (f inputRequired) requestState(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	ans, answered := elicited(req.Params.InputResponses, "confirm")
	if answered {
		if _, err := f.states.open(mrtrRequestState, req.Params.RequestState); err != nil {
			return nil, fmt.Errorf("%s: %w", mrtrRequestState, err)
		}
		return mcp.NewToolResultText(fmt.Sprintf("state-ok: action=%s, ok=%v", ans.Action, field(ans, "ok"))), nil
	}
	return server.NewInputRequestBuilder(f.states.seal(mrtrRequestState, roundState{Round: 1})).
		Elicit("confirm", confirmForm()).
		ToolResult(), nil
}

func (f inputRequired) multipleInputs(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	in := req.Params.InputResponses
	name, named := elicited(in, "user_name")
	greeting := server.SamplingResponse(in, "greeting")
	roots := server.RootsResponse(in, "client_roots")
	if named && greeting != nil && roots != nil {
		if _, err := f.states.open(mrtrMultipleInput, req.Params.RequestState); err != nil {
			return nil, fmt.Errorf("%s: %w", mrtrMultipleInput, err)
		}
		return mcp.NewToolResultText(fmt.Sprintf("name=%s; greeting=%s; roots=%s",
			stringField(name, "name"), samplingText(greeting), rootURIs(roots))), nil
	}
	return server.NewInputRequestBuilder(f.states.seal(mrtrMultipleInput, roundState{Round: 1})).
		Elicit("user_name", nameForm("What is your name?")).
		Sample("greeting", question("Generate a greeting", 50)).
		Roots("client_roots").
		ToolResult(), nil
}

func (f inputRequired) multiRound(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	step1 := func() *mcp.CallToolResult {
		return server.NewInputRequestBuilder(f.states.seal(mrtrMultiRound, roundState{Round: 1})).
			Elicit("step1", nameForm("Step 1: What is your name?")).
			ToolResult()
	}
	if req.Params.RequestState == "" {
		return step1(), nil
	}
	st, err := f.states.open(mrtrMultiRound, req.Params.RequestState)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mrtrMultiRound, err)
	}
	switch st.Round {
	case 1:
		ans, ok := elicited(req.Params.InputResponses, "step1")
		name := stringField(ans, "name")
		if !ok || name == "" {
			return step1(), nil
		}
		return server.NewInputRequestBuilder(f.states.seal(mrtrMultiRound, roundState{Round: 2, Name: name})).
			Elicit("step2", colorForm()).
			ToolResult(), nil
	case 2:
		ans, ok := elicited(req.Params.InputResponses, "step2")
		if color := stringField(ans, "color"); ok && color != "" {
			return mcp.NewToolResultText(fmt.Sprintf("%s's favorite color is %s", st.Name, color)), nil
		}
		// Ask for the color again, keeping the name.
		return server.NewInputRequestBuilder(req.Params.RequestState).
			Elicit("step2", colorForm()).
			ToolResult(), nil
	default:
		return nil, fmt.Errorf("%s: %w: unknown round %d", mrtrMultiRound, errBadState, st.Round)
	}
}

func (f inputRequired) tamperedState(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if req.Params.RequestState != "" || len(req.Params.InputResponses) > 0 {
		if _, err := f.states.open(mrtrTamperedState, req.Params.RequestState); err != nil {
			return nil, fmt.Errorf("%s: %w", mrtrTamperedState, err)
		}
		if ans, ok := elicited(req.Params.InputResponses, "confirm"); ok {
			return mcp.NewToolResultText(fmt.Sprintf("requestState verified: action=%s", ans.Action)), nil
		}
	}
	return server.NewInputRequestBuilder(f.states.seal(mrtrTamperedState, roundState{Round: 1})).
		Elicit("confirm", confirmForm()).
		ToolResult(), nil
}

// capabilities asks only for the input the client declared it can give, read
// from the request's own _meta (2026-07-28) or the session (older).
func (f inputRequired) capabilities(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	in := req.Params.InputResponses
	if len(in) > 0 {
		var got []string
		for _, k := range []string{"user_input", "model_output", "client_roots"} {
			if _, ok := in[k]; ok {
				got = append(got, k)
			}
		}
		if len(got) > 0 {
			return mcp.NewToolResultText("received input for: " + strings.Join(got, ", ")), nil
		}
	}
	caps := clientCapabilities(ctx)
	b := server.NewInputRequestBuilder("")
	asked := false
	if caps.Elicitation != nil {
		b.Elicit("user_input", nameForm("What is your name?"))
		asked = true
	}
	if caps.Sampling != nil {
		b.Sample("model_output", question("Say hello", 20))
		asked = true
	}
	if caps.Roots != nil {
		b.Roots("client_roots")
		asked = true
	}
	if !asked {
		return mcp.NewToolResultText("the client declared no capability this tool can ask through"), nil
	}
	return b.ToolResult(), nil
}

func (f inputRequired) prompt(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	if ans, ok := elicited(req.Params.InputResponses, "user_context"); ok {
		if text := stringField(ans, "context"); text != "" {
			return mcp.NewGetPromptResult("A prompt built from elicited context", []mcp.PromptMessage{
				mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Use this context: "+text)),
			}), nil
		}
	}
	return server.NewInputRequestBuilder("").
		Elicit("user_context", mcp.ElicitationParams{
			Mode:    mcp.ElicitationModeForm,
			Message: "What context should the prompt use?",
			RequestedSchema: map[string]any{
				"type":       "object",
				"properties": map[string]any{"context": map[string]any{"type": "string"}},
				"required":   []string{"context"},
			},
		}).
		PromptResult(), nil
}

// nameForm is a form elicitation asking for a required string "name".
func nameForm(message string) mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: message,
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"name": map[string]any{"type": "string"}},
			"required":   []string{"name"},
		},
	}
}

// colorForm is a form elicitation asking for a required string "color".
func colorForm() mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: "Step 2: What is your favorite color?",
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"color": map[string]any{"type": "string"}},
			"required":   []string{"color"},
		},
	}
}

// confirmForm is a form elicitation asking for a required boolean "ok".
func confirmForm() mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: "Please confirm",
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"ok": map[string]any{"type": "boolean"}},
			"required":   []string{"ok"},
		},
	}
}

// question is a sampling request of one user text message.
func question(text string, maxTokens int) mcp.CreateMessageParams {
	return mcp.CreateMessageParams{
		Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(text)}},
		MaxTokens: maxTokens,
	}
}

// elicited returns the client's answer to the elicitation asked under id. It
// reports false when there is none or it is not a valid elicitation result
// (unknown action), so that the fixture asks again.
func elicited(in mcp.InputResponses, id string) (*mcp.ElicitationResult, bool) {
	res := server.ElicitationResponse(in, id)
	if res == nil {
		return nil, false
	}
	switch res.Action {
	case mcp.ElicitationResponseActionAccept, mcp.ElicitationResponseActionDecline, mcp.ElicitationResponseActionCancel:
		return res, true
	default:
		return nil, false
	}
}

// field returns the content field key of an accepted elicitation, or nil.
func field(res *mcp.ElicitationResult, key string) any {
	if res == nil || res.Action != mcp.ElicitationResponseActionAccept {
		return nil
	}
	content, _ := res.Content.(map[string]any)
	return content[key]
}

// stringField returns the string content field key of an accepted
// elicitation, or "".
func stringField(res *mcp.ElicitationResult, key string) string {
	s, _ := field(res, key).(string)
	return s
}

// samplingText returns the text of a sampling result, decoded (a map) or
// built in Go (mcp.TextContent).
func samplingText(res *mcp.CreateMessageResult) string {
	switch c := res.Content.(type) {
	case mcp.TextContent:
		return c.Text
	case map[string]any:
		if t, _ := c["text"].(string); t != "" {
			return t
		}
	}
	return "(no text)"
}

// rootURIs lists the roots' URIs, comma-separated.
func rootURIs(res *mcp.ListRootsResult) string {
	if len(res.Roots) == 0 {
		return "(none)"
	}
	uris := make([]string, 0, len(res.Roots))
	for _, r := range res.Roots {
		uris = append(uris, r.URI)
	}
	return strings.Join(uris, ", ")
}

// clientCapabilities returns what the client declared: per request from
// 2026-07-28 on, else at initialize for its session.
func clientCapabilities(ctx context.Context) mcp.ClientCapabilities {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern && info.ClientCapabilities != nil {
		return *info.ClientCapabilities
	}
	if cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return cs.GetClientCapabilities()
	}
	return mcp.ClientCapabilities{}
}
