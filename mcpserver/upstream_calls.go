package mcpserver

// Calls to upstream items: who the caller is decides which instance (and
// so whose credentials) serves the call; the upstream's answer, progress
// and log messages come back unchanged, and what went wrong on the way is
// told in a sentence.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
)

func parseURL(raw string) (*url.URL, error) { return url.Parse(raw) }

func quoteJSON(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// errNoUpstream is a call to an item of an upstream that is gone.
var errNoUpstream = errors.New("upstream removed")

// instanceFor picks the instance that serves the calling request: the
// shared one, or the caller's own when the upstream carries credentials
// (a guest gets result, telling them to sign in).
func (h *upstreamHub) instanceFor(ctx context.Context, tenant, name string) (in *upstream.Instance, m *mount, result *mcp.CallToolResult, err error) {
	m = h.lookupMount(tenant, name)
	if m == nil {
		return nil, nil, nil, fmt.Errorf("%w: tenant %s has no upstream %s any more", errNoUpstream, tenant, name)
	}
	owner := sharedOwner
	if m.cfg.NeedsCredentials() {
		c, _ := tools.CallerFrom(ctx)
		if c.UserID == "" {
			return nil, m, signInResult(c, m.cfg.Credentials[0].Provider), nil
		}
		owner = c.UserID
	}
	in, err = m.instance(owner)
	return in, m, nil, err
}

// sink sends a call's progress and log messages to the calling request
// (its own stream: stream.go).
func sink(ctx context.Context, meta *mcp.Meta) upstream.Sink {
	ms := server.ServerFromContext(ctx)
	if ms == nil {
		return upstream.Sink{}
	}
	s := upstream.Sink{
		Log: func(p mcp.LoggingMessageNotificationParams) {
			n := mcp.LoggingMessageNotification{Params: p}
			n.Method = string(mcp.MethodNotificationMessage)
			_ = ms.SendLogMessageToClient(ctx, n)
		},
	}
	if cs := server.ClientSessionFromContext(ctx); cs != nil && cs.SessionID() != "" {
		s.Key = cs.SessionID()
	}
	switch c, _ := tools.CallerFrom(ctx); {
	case c.UserID != "":
		s.Owner = "user " + c.UserID
	case c.SessionID != "":
		s.Owner = "guest " + c.SessionID
	default: // a session-less caller (2026-07-28 era guest): nobody else
		s.Owner = fmt.Sprintf("call %p", new(byte)) // distinct while the call lives
	}
	if meta != nil && meta.ProgressToken != nil {
		tok := meta.ProgressToken
		s.Progress = func(p mcp.ProgressNotificationParams) {
			params := map[string]any{"progressToken": tok, "progress": p.Progress}
			if p.Total != 0 {
				params["total"] = p.Total
			}
			if p.Message != "" {
				params["message"] = p.Message
			}
			_ = ms.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), params)
		}
	}
	return s
}

// toolHandler forwards calls of the tenant's tool to upstream up's tool
// orig.
func (h *upstreamHub) toolHandler(tenant, up, orig string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tool := req.Params.Name
		for attempt := 0; ; attempt++ {
			in, m, res, err := h.instanceFor(ctx, tenant, up)
			if res != nil {
				return res, nil
			}
			if err != nil {
				return toolFailure(err)
			}
			call := req
			call.Params.Name = orig
			if raw := strings.TrimSpace(string(call.Params.RawArguments)); (raw == "" || raw == "null") && call.Params.Arguments == nil {
				// Absent arguments go on as {}: some servers (the TypeScript
				// SDK's) refuse a null. Present ones go on byte for byte.
				call.Params.RawArguments = json.RawMessage("{}")
			}
			res, err = in.CallTool(ctx, call, sink(ctx, req.Params.Meta))
			if err == nil {
				return res, nil
			}
			if cm, ok := errors.AsType[*credentialMissing](err); ok {
				res, err := h.credentialResult(ctx, m, tool, cm)
				if res == nil && err == nil && attempt == 0 {
					continue // the user connected meanwhile (URL elicitation)
				}
				return res, err
			}
			if errors.Is(err, oauth.ErrConsentRequired) {
				return h.s.consentResult(ctx, tool, &tools.OAuthRequirement{Provider: oauthProvider(m)})
			}
			return toolFailure(err)
		}
	}
}

// toolFailure turns a failed forward into what the client gets: the
// upstream being unreachable, hung or gone is a tool result the model can
// read (nil error); an upstream's own JSON-RPC error stays a protocol
// error, with its message.
func toolFailure(err error) (*mcp.CallToolResult, error) {
	for _, e := range []error{upstream.ErrTimeout, upstream.ErrUnavailable, upstream.ErrClosed, errNoUpstream} {
		if errors.Is(err, e) {
			return mcp.NewToolResultError(err.Error()), nil
		}
	}
	return nil, err
}

// oauthProvider is the OAuth provider m injects ("" if none).
func oauthProvider(m *mount) string {
	for _, c := range m.cfg.Credentials {
		if c.Kind == vault.CredentialOAuth {
			return c.Provider
		}
	}
	return ""
}

// credentialResult answers a call that needs a credential the caller has
// not stored, as a built-in tool with Requires does.
func (h *upstreamHub) credentialResult(ctx context.Context, m *mount, tool string, cm *credentialMissing) (*mcp.CallToolResult, error) {
	if cm.cred.Kind == vault.CredentialOAuth {
		ms := server.ServerFromContext(ctx)
		return h.s.oauthMissing(ctx, ms, tool, &tools.OAuthRequirement{Provider: cm.cred.Provider}, cm.err)
	}
	return h.s.apiKeyMissing(ctx, tool, &tools.APIKeyRequirement{
		Provider:    cm.cred.Provider,
		DisplayName: cm.cred.Provider + " API key",
		Instructions: fmt.Sprintf("The upstream MCP server %s gets it as %s, started with your own key.",
			m.cfg.Name, cm.cred.Target()),
	}, tools.ErrAPIKeyMissing)
}

// resourceHandler forwards resources/read of an upstream's resource (or a
// URI its templates match) to it, and gives the contents the tenant's URI.
func (h *upstreamHub) resourceHandler(tenant, up string) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		asked := req.Params.URI
		orig, ok := upstream.SplitResourceURI(up, asked)
		if !ok {
			return nil, fmt.Errorf("%w: %s", mcp.ErrResourceNotFound, asked)
		}
		in, _, res, err := h.instanceFor(ctx, tenant, up)
		if err != nil {
			return nil, err
		}
		if res != nil {
			return nil, resultError(res)
		}
		call := req
		call.Params.URI = orig
		out, err := in.ReadResource(ctx, call, sink(ctx, req.Params.Meta))
		if err != nil {
			return nil, plainCredentialError(err)
		}
		contents := make([]mcp.ResourceContents, 0, len(out.Contents))
		for _, c := range out.Contents {
			switch v := c.(type) {
			case mcp.TextResourceContents:
				v.URI = upstream.ResourceURI(up, v.URI)
				c = v
			case mcp.BlobResourceContents:
				v.URI = upstream.ResourceURI(up, v.URI)
				c = v
			}
			contents = append(contents, c)
		}
		return contents, nil
	}
}

// promptHandler forwards prompts/get to the upstream's own prompt.
func (h *upstreamHub) promptHandler(tenant, up string) server.PromptHandlerFunc {
	return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		in, m, res, err := h.instanceFor(ctx, tenant, up)
		if err != nil {
			return nil, err
		}
		if res != nil {
			return nil, resultError(res)
		}
		m.mu.Lock()
		orig, ok := m.prompts[req.Params.Name]
		m.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("%w: prompt %s", mcp.ErrInvalidParams, req.Params.Name)
		}
		call := req
		call.Params.Name = orig
		out, err := in.GetPrompt(ctx, call, sink(ctx, req.Params.Meta))
		if err != nil {
			return nil, plainCredentialError(err)
		}
		return out, nil
	}
}

// resultError is the message of a sign-in result, for requests that have
// no result to carry it (resources, prompts).
func resultError(res *mcp.CallToolResult) error {
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok && len(t.Text) > 0 && t.Text[0] != '{' {
			return errors.New(t.Text)
		}
	}
	return errors.New("this upstream needs credentials this request does not have")
}

// plainCredentialError says in a sentence which credential a resource or
// prompt of an upstream needs.
func plainCredentialError(err error) error {
	if cm, ok := errors.AsType[*credentialMissing](err); ok {
		how := "store it in Plexus (plexus admin connections set-api-key, or POST /{tenant}/plexus-services/api-keys)"
		if cm.cred.Kind == vault.CredentialOAuth {
			how = "connect it by calling one of the upstream's tools, which gives you the link"
		}
		return fmt.Errorf("the upstream %s needs your %s: %s", cm.upstream, cm.what(), how)
	}
	return err
}

// UpstreamState is how one of a tenant's upstreams is doing, for the
// admin API and UI.
type UpstreamState struct {
	// Listed is true once the upstream listed its items; the counts are
	// of what the tenant shows.
	Listed                               bool
	Tools, Resources, Templates, Prompts int
	// Problems are items not shown (name collisions), one sentence each;
	// Waiting says why nothing is listed yet, when that is known.
	Problems []string
	Waiting  string
	// Instances are its running sessions: the shared one (Owner ""), or
	// one per user carrying their own credentials.
	Instances []UpstreamInstance
	// Log is its bounded log (stderr, log messages, Plexus's lines).
	Log []upstream.LogLine
}

// UpstreamInstance is one session of an upstream.
type UpstreamInstance struct {
	Owner string // "" for the shared instance, else the user id
	upstream.Status
}

// UpstreamState reports on tenant's upstream name. With wait > 0 it first
// waits, that long at most, for the upstream to list its items (an
// upstream just added). ok is false when the tenant has no such upstream.
func (s *Server) UpstreamState(ctx context.Context, tenant, name string, wait time.Duration) (st UpstreamState, ok bool) {
	h := s.upstreams
	if h == nil || h.store == nil {
		return st, false
	}
	tu := h.ensure(tenant)
	if tu == nil {
		return st, false
	}
	deadline := time.After(wait)
	select {
	case <-tu.loaded:
	case <-ctx.Done():
		return st, false
	case <-deadline:
	}
	m := h.lookupMount(tenant, name)
	for m == nil && wait > 0 {
		// Just announced: it is being mounted.
		select {
		case <-deadline:
			return st, false
		case <-ctx.Done():
			return st, false
		case <-time.After(20 * time.Millisecond):
		}
		m = h.lookupMount(tenant, name)
	}
	if m == nil {
		return st, false
	}
	if wait > 0 {
		m.mu.Lock()
		listed := m.listed
		m.mu.Unlock()
		tick := time.NewTicker(50 * time.Millisecond)
	wait:
		for !m.failedToList() {
			select {
			case <-listed:
				break wait
			case <-deadline:
				break wait
			case <-ctx.Done():
				break wait
			case <-tick.C:
			}
		}
		tick.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Listed = m.known
	st.Problems = slices.Clone(m.problems)
	st.Waiting = m.waiting
	for _, o := range slices.Sorted(maps.Keys(m.instances)) {
		st.Instances = append(st.Instances, UpstreamInstance{Owner: o, Status: m.instances[o].Status()})
	}
	st.Log = m.log.Lines()
	if ts := s.sources.lookup(tenant); ts != nil {
		ts.mu.Lock()
		for k, src := range ts.owners {
			if src != sourceKey(name) {
				continue
			}
			switch k.kind {
			case kindTool:
				st.Tools++
			case kindResource:
				st.Resources++
			case kindTemplate:
				st.Templates++
			case kindPrompt:
				st.Prompts++
			}
		}
		ts.mu.Unlock()
	}
	return st, true
}

// RestartUpstream stops every session of tenant's upstream name; each
// starts again on its next call. ok is false when there is no such
// upstream.
func (s *Server) RestartUpstream(tenant, name string) bool {
	h := s.upstreams
	if h == nil {
		return false
	}
	m := h.lookupMount(tenant, name)
	if m == nil {
		return false
	}
	m.mu.Lock()
	owners := slices.Collect(maps.Keys(m.instances))
	m.mu.Unlock()
	for _, o := range owners {
		m.closeOwner(o)
	}
	m.log.Add("plexus", "restarted by an administrator")
	go m.discover(context.Background(), "")
	return true
}

// SourceTools lists the tools tenant shows besides the registry's (its
// upstreams' tools), for the admin API's tool list. Reading them starts
// the tenant's upstreams that need no credential, as using the tenant
// does.
func (s *Server) SourceTools(tenant string) []SourceTool {
	s.upstreams.tenantUsed(tenant)
	s.httpTools.tenantUsed(tenant)
	return s.sourceTools(tenant)
}
