package mcpserver

// Tool search and dispatch (issue 11), for clients that ignore
// notifications/tools/list_changed and so never see a tool added after
// their tools/list: with the tenant's tool search on (vault
// SetToolSearch), the tenant lists plexus_search_tools (a query in words,
// the best matching tools back with their input schemas, ranked by BM25
// over names and descriptions) and plexus_call_tool (a tool's name and
// arguments).
//
// Search sees what the caller's tools/list would show now: the tenant's
// tool settings apply (the same tool filter), gated tools are marked
// locked while the caller's session has not unlocked them, and the five
// plexus_* control tools are left out. plexus_call_tool does not call the
// tool's handler itself: it hands a tools/call request to the tenant's
// MCP server in the caller's context, so the call takes the same path as a
// direct one (tool filter, call recorder, metrics, recovery, gate,
// arguments check, credentials) and a hidden or disabled tool answers
// "not found" as it would directly. It refuses to call itself, the search
// tool and the gate tools (call those directly).

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Names of the search tools.
const (
	SearchToolsName = "plexus_search_tools"
	CallToolName    = "plexus_call_tool"
)

const (
	defaultSearchLimit = 5
	maxSearchLimit     = 50
	maxSearchQuery     = 500
	// bm25K1 and bm25B are BM25's usual parameters; a name's words count
	// nameWeight times.
	bm25K1     = 1.2
	bm25B      = 0.75
	nameWeight = 3
)

// isSearchTool reports whether name is one of the search tools.
func isSearchTool(name string) bool { return name == SearchToolsName || name == CallToolName }

// isControlTool reports whether name is one of Plexus's gate or search
// tools, which plexus_call_tool does not call and search does not list.
func isControlTool(name string) bool { return isGateTool(name) || isSearchTool(name) }

// searchTools are the search tools of tenantID's server ms.
func (s *Server) searchTools(tenantID string, ms *server.MCPServer) []server.ServerTool {
	var seq atomic.Uint64
	return []server.ServerTool{
		{
			Tool: mcp.NewTool(SearchToolsName,
				mcp.WithDescription("Finds tools of this server by what they do, including tools added after your tool list was loaded. Returns the best matches with their input schemas; call one with "+CallToolName+"."),
				mcp.WithString("query", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(maxSearchQuery), mcp.Description("What the tool should do, in a few words (\"list github repositories\").")),
				mcp.WithNumber("limit", mcp.Min(1), mcp.Max(maxSearchLimit), mcp.Description("How many tools at most (default 5).")),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithOpenWorldHintAnnotation(false),
			),
			Handler: s.searchHandler(tenantID, ms),
		},
		{
			Tool: mcp.NewTool(CallToolName,
				mcp.WithDescription("Calls one of this server's tools by name, for a tool found with "+SearchToolsName+" that your tool list does not show yet. The call is checked exactly like a direct one."),
				mcp.WithString("name", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(256), mcp.Description("The tool's name, as "+SearchToolsName+" gave it.")),
				mcp.WithObject("arguments", mcp.Description("The tool's arguments, matching its input schema.")),
				mcp.WithDestructiveHintAnnotation(true),
				mcp.WithOpenWorldHintAnnotation(true),
			),
			Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return s.dispatch(ctx, ms, req, seq.Add(1))
			},
		},
	}
}

// SearchHit is one tool plexus_search_tools found.
type SearchHit struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema"`
	// Locked is set for a tool behind a gate this session has not
	// unlocked (call plexus_gate_unlock first).
	Locked bool    `json:"locked,omitempty"`
	Score  float64 `json:"score"`
}

func (s *Server) searchHandler(tenantID string, ms *server.MCPServer) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		query := req.GetString("query", "")
		limit := req.GetInt("limit", defaultSearchLimit)
		if limit < 1 || limit > maxSearchLimit {
			return mcp.NewToolResultError(fmt.Sprintf("limit: between 1 and %d", maxSearchLimit)), nil
		}
		q := searchTerms(query)
		if len(q) == 0 {
			return mcp.NewToolResultError("query: say in a few words what the tool should do"), nil
		}
		all := ms.ListTools()
		candidates := make([]mcp.Tool, 0, len(all))
		for name, st := range all {
			if !isControlTool(name) {
				candidates = append(candidates, st.Tool)
			}
		}
		// The tool filter decides visibility, as for tools/list (a
		// tools/call's context has no tool_set_filter: search looks at
		// every visible tool).
		visible := s.toolFilter(tenantID)(ctx, candidates)
		gates, err := s.tenantGates(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		session := sessionKey(ctx)
		hits := rankTools(visible, q)
		if len(hits) > limit {
			hits = hits[:limit]
		}
		out := make([]SearchHit, 0, len(hits))
		for _, h := range hits {
			raw, err := inputSchemaJSON(h.tool)
			if err != nil {
				return nil, fmt.Errorf("input schema of %s: %w", h.tool.Name, err)
			}
			out = append(out, SearchHit{
				Name: h.tool.Name, Title: h.tool.Title, Description: h.tool.Description, InputSchema: raw,
				Locked: len(gates) > 0 && s.lockedGate(tenantID, session, h.tool.Name, gates) != "",
				Score:  math.Round(h.score*1000) / 1000,
			})
		}
		body := struct {
			Tools []SearchHit `json:"tools"`
			Hint  string      `json:"hint"`
		}{out, "Call a tool with " + CallToolName + " {\"name\": ..., \"arguments\": {...}}."}
		if len(out) == 0 {
			body.Hint = "No tool matches; try other words."
		}
		text, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		return mcp.NewToolResultStructured(body, string(text)), nil
	}
}

// inputSchemaJSON is a tool's input schema as tools/list shows it.
func inputSchemaJSON(t mcp.Tool) (json.RawMessage, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var v struct {
		InputSchema json.RawMessage `json:"inputSchema"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v.InputSchema, nil
}

// dispatch is plexus_call_tool: a tools/call request for the named tool,
// handled by the tenant's MCP server in the caller's context.
func (s *Server) dispatch(ctx context.Context, ms *server.MCPServer, req mcp.CallToolRequest, n uint64) (*mcp.CallToolResult, error) {
	name := req.GetString("name", "")
	if isControlTool(name) {
		return mcp.NewToolResultError(fmt.Sprintf("%s does not call %s: call it directly.", CallToolName, name)), nil
	}
	args := req.GetArguments()["arguments"]
	if args == nil {
		args = map[string]any{}
	}
	msg, err := json.Marshal(map[string]any{
		"jsonrpc": mcp.JSONRPC_VERSION,
		// An id of its own, so it never meets the outer request's in
		// mcp-go's table of requests in flight.
		"id":     CallToolName + "-" + strconv.FormatUint(n, 10),
		"method": string(mcp.MethodToolsCall),
		"params": map[string]any{"name": name, "arguments": args},
	})
	if err != nil {
		return mcp.NewToolResultError("arguments: " + err.Error()), nil
	}
	switch resp := ms.HandleMessage(ctx, msg).(type) {
	case mcp.JSONRPCResponse:
		switch r := resp.Result.(type) {
		case *mcp.CallToolResult:
			return r, nil
		case mcp.CallToolResult:
			return &r, nil
		}
		return nil, fmt.Errorf("%s: unexpected result %T", CallToolName, resp.Result)
	case mcp.JSONRPCError:
		return mcp.NewToolResultError(resp.Error.Message), nil
	case *mcp.JSONRPCError:
		return mcp.NewToolResultError(resp.Error.Message), nil
	default:
		return nil, fmt.Errorf("%s: unexpected answer %T", CallToolName, resp)
	}
}

// searchTerms splits text into lower-case words (letters and digits; "_"
// and "-" split too), a plural "s" dropped from words longer than 3.
func searchTerms(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for i, w := range words {
		if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
			words[i] = w[:len(w)-1]
		}
	}
	return words
}

type rankedTool struct {
	tool  mcp.Tool
	score float64
}

// rankTools scores each tool against the query terms with BM25 over its
// name (counted nameWeight times), title and description, and returns the
// ones that match, best first (ties by name).
func rankTools(ts []mcp.Tool, q []string) []rankedTool {
	docs := make([]map[string]int, len(ts))
	lens := make([]int, len(ts))
	df := map[string]int{}
	total := 0
	for i, t := range ts {
		tf := map[string]int{}
		n := 0
		for _, w := range searchTerms(t.Name) {
			tf[w] += nameWeight
			n += nameWeight
		}
		for _, w := range searchTerms(t.Title + " " + t.Description) {
			tf[w]++
			n++
		}
		docs[i], lens[i] = tf, n
		total += n
		for w := range tf {
			df[w]++
		}
	}
	if len(ts) == 0 {
		return nil
	}
	avg := float64(total) / float64(len(ts))
	if avg == 0 {
		avg = 1
	}
	N := float64(len(ts))
	var out []rankedTool
	for i, t := range ts {
		score := 0.0
		for _, w := range q {
			f := float64(docs[i][w])
			if f == 0 {
				continue
			}
			idf := math.Log(1 + (N-float64(df[w])+0.5)/(float64(df[w])+0.5))
			score += idf * f * (bm25K1 + 1) / (f + bm25K1*(1-bm25B+bm25B*float64(lens[i])/avg))
		}
		if score > 0 {
			out = append(out, rankedTool{tool: t, score: score})
		}
	}
	slices.SortFunc(out, func(a, b rankedTool) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.tool.Name, b.tool.Name)
	})
	return out
}
