package mcpserver

// Declarative HTTP tools (issue 11): a tenant's vault.HTTPTool records,
// each compiled by package httptool and shown in the tenant as the
// source "http:{name}" (sources.go), so a name already taken by a
// built-in tool or another source is refused there and the Tools page
// shows where each tool comes from.
//
// A tenant's HTTP tools are read when the tenant is first used; after
// that the vault announces every change (vault.HTTPToolChanged) and it is
// applied before the writing call returns: connected clients get
// notifications/tools/list_changed, no restart.
//
// A call is: the arguments check (toolcall.go, against the tool's input
// schema, whose additionalProperties defaults to false), then the
// credential check of the tool's auth (the same as a built-in tool's:
// the caller's own OAuth connection or API key, else the structured
// "authorization required" / "API key required" result), then one HTTP
// request built by httptool and sent with the caller's credential:
//
//   - OAuth: tools.AuthenticatedClient, which sends the bearer token only
//     to the provider's API origins, refreshes it and retries transient
//     failures;
//   - API key: an egress destination client for the tool's URL origin
//     only (never followed through a redirect elsewhere), with the same
//     retries (oauth.Manager.RetryTransport);
//   - none: the same, without a credential.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/httptool"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// HTTPToolStore is the part of the vault HTTP tools need; *vault.Vault
// satisfies it. A Store without it serves no HTTP tools.
type HTTPToolStore interface {
	ListHTTPTools(ctx context.Context, tenantID string) ([]vault.HTTPTool, error)
	GetHTTPTool(ctx context.Context, tenantID, name string) (vault.HTTPTool, error)
}

var _ HTTPToolStore = (*vault.Vault)(nil)

// httpToolReadTimeout bounds the vault reads of HTTP tool records.
const httpToolReadTimeout = 10 * time.Second

// httpToolHub serves every tenant's HTTP tools.
type httpToolHub struct {
	s     *Server
	store HTTPToolStore // nil: none
	rt    http.RoundTripper

	mu       sync.Mutex
	loaded   map[string]bool              // tenants read so far
	problems map[string]map[string]string // tenant -> tool -> why it is not shown
}

func newHTTPToolHub(s *Server) *httpToolHub {
	h := &httpToolHub{s: s, loaded: map[string]bool{}, problems: map[string]map[string]string{}}
	h.store, _ = s.store.(HTTPToolStore)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	h.rt = t
	return h
}

// httpSourceKey is an HTTP tool's source key.
func httpSourceKey(name string) string { return "http:" + name }

// tenantUsed reads tenant's HTTP tools the first time it is used. It is
// a quick vault read, done before the tenant's server shows its tools.
func (h *httpToolHub) tenantUsed(tenant string) {
	if h == nil || h.store == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.loaded[tenant] {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpToolReadTimeout)
	defer cancel()
	list, err := h.store.ListHTTPTools(ctx, tenant)
	if err != nil {
		if !errors.Is(err, vault.ErrNotFound) {
			h.s.log.Error("Reading HTTP tools", "tenant", tenant, "err", err)
		}
		return
	}
	h.loaded[tenant] = true
	for _, rec := range list {
		h.applyLocked(tenant, rec)
	}
}

// onChange applies the vault's announcements, before the writer returns.
func (h *httpToolHub) onChange(c vault.Change) {
	if h == nil || h.store == nil {
		return
	}
	switch c.Kind {
	case vault.HTTPToolChanged:
		h.mu.Lock()
		defer h.mu.Unlock()
		if !h.loaded[c.TenantID] {
			return // read in full when the tenant is first used
		}
		if c.HTTPToolDeleted {
			h.removeLocked(c.TenantID, c.HTTPTool)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), httpToolReadTimeout)
		defer cancel()
		rec, err := h.store.GetHTTPTool(ctx, c.TenantID, c.HTTPTool)
		switch {
		case errors.Is(err, vault.ErrNotFound):
			h.removeLocked(c.TenantID, c.HTTPTool)
		case err != nil:
			h.s.log.Error("Reading HTTP tool", "tenant", c.TenantID, "tool", c.HTTPTool, "err", err)
		default:
			h.applyLocked(c.TenantID, rec)
		}
	case vault.TenantDeleted:
		h.mu.Lock()
		delete(h.loaded, c.TenantID)
		delete(h.problems, c.TenantID)
		h.mu.Unlock()
	}
}

func (h *httpToolHub) removeLocked(tenant, name string) {
	h.s.setSourceItems(tenant, httpSourceKey(name), sourceItems{})
	delete(h.problems[tenant], name)
}

func (h *httpToolHub) setProblemLocked(tenant, name, problem string) {
	if problem == "" {
		delete(h.problems[tenant], name)
		return
	}
	if h.problems[tenant] == nil {
		h.problems[tenant] = map[string]string{}
	}
	h.problems[tenant][name] = problem
}

// applyLocked shows rec in tenant (replacing its previous definition), or
// records why it cannot.
func (h *httpToolHub) applyLocked(tenant string, rec vault.HTTPTool) {
	tl, err := httptool.Compile(rec)
	if err != nil {
		h.s.setSourceItems(tenant, httpSourceKey(rec.Name), sourceItems{})
		h.setProblemLocked(tenant, rec.Name, err.Error())
		h.s.log.Warn("HTTP tool not shown", "tenant", tenant, "tool", rec.Name, "err", err)
		return
	}
	st := sourceTool{
		ServerTool: server.ServerTool{Tool: tl.Definition(), Handler: h.handler(tl)},
		ToolSets:   []string{httptool.ToolSet},
	}
	if a := rec.Auth; a != nil {
		st.Requires = string(a.Kind) + ":" + a.Provider
	}
	refused := h.s.setSourceItems(tenant, httpSourceKey(rec.Name), sourceItems{Tools: []sourceTool{st}})
	problem := ""
	if len(refused) > 0 {
		problem = refused[0]
	}
	h.setProblemLocked(tenant, rec.Name, problem)
}

// HTTPToolProblem says why tenant's HTTP tool name is not shown ("" when
// it is, or when the tenant's tools were not read yet).
func (s *Server) HTTPToolProblem(tenant, name string) string {
	h := s.httpTools
	h.tenantUsed(tenant)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.problems[tenant][name]
}

// requirement is the credential rec's auth needs, as a built-in tool
// would declare it.
func requirement(a *vault.HTTPToolAuth) *tools.Requirement {
	switch {
	case a == nil:
		return nil
	case a.Kind == vault.CredentialOAuth:
		return &tools.Requirement{OAuth: &tools.OAuthRequirement{Provider: a.Provider}}
	default:
		return &tools.Requirement{APIKey: &tools.APIKeyRequirement{Provider: a.Provider, DisplayName: a.Provider + " API key"}}
	}
}

// handler is an HTTP tool's tools/call handler: the credential check
// (Server.guard, as for a built-in tool), then the request.
func (h *httpToolHub) handler(tl *httptool.Tool) server.ToolHandlerFunc {
	t := tools.Tool{
		Definition: tl.Definition(),
		Requires:   requirement(tl.Record().Auth),
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return h.call(ctx, tl, req)
		},
	}
	if t.Requires == nil {
		return t.Handler
	}
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return h.s.guard(server.ServerFromContext(ctx), t)(ctx, req)
	}
}

// call makes tl's request with req's arguments and the caller's
// credential.
func (h *httpToolHub) call(ctx context.Context, tl *httptool.Tool, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name := tl.Definition().Name
	hreq, err := tl.Request(req.GetArguments())
	if err != nil {
		return mcp.NewToolResultError(name + ": " + err.Error()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(tl.Timeout())*time.Second)
	defer cancel()
	hreq = hreq.WithContext(ctx)
	client, secrets, err := h.client(ctx, tl)
	if err != nil {
		if tools.IsCredentialError(err) {
			return nil, err // the guard answers with how to get it
		}
		return mcp.NewToolResultError(name + ": cannot use your credential: " + err.Error()), nil
	}
	resp, err := client.Do(hreq)
	if err != nil {
		if tools.IsCredentialError(err) {
			return nil, err
		}
		return mcp.NewToolResultError(name + ": " + requestError(tl, err)), nil
	}
	if tok := egress.SentBearer(resp); tok != "" {
		secrets = append(secrets, tok) // an OAuth token, as the client sent it
	}
	res := tl.Result(resp)
	for i, c := range res.Content { // an API that echoes the credential never hands it to the model
		if tc, ok := c.(mcp.TextContent); ok && len(secrets) > 0 {
			tc.Text = egress.RedactText(tc.Text, secrets)
			res.Content[i] = tc
		}
	}
	return res, nil
}

// client returns the client that sends tl's request with the caller's
// credential, to tl's origin only, and the credential when it is an API
// key (to keep it out of the answer).
func (h *httpToolHub) client(ctx context.Context, tl *httptool.Tool) (*http.Client, []string, error) {
	a := tl.Record().Auth
	base := h.rt
	if h.s.oauth != nil {
		base = h.s.oauth.RetryTransport(base)
	}
	origins := []egress.Origin{tl.Origin()}
	switch {
	case a == nil:
		return egress.NewClient(origins, nil, egress.WithTransport(base)), nil, nil
	case a.Kind == vault.CredentialOAuth:
		hc, err := tools.AuthenticatedClient(ctx, a.Provider)
		return hc, nil, err
	}
	key, err := tools.APIKey(ctx, a.Provider)
	if err != nil {
		return nil, nil, err
	}
	set := func(r *http.Request) {
		if a.Header != "" {
			v := key
			if a.Scheme != "" {
				v = a.Scheme + " " + key
			}
			r.Header.Set(a.Header, v)
			return
		}
		q := r.URL.Query()
		q.Set(a.QueryParam, key)
		r.URL.RawQuery = q.Encode()
	}
	return egress.NewClient(origins, set, egress.WithTransport(base)), []string{key}, nil
}

// requestError says why a request failed, without its URL (whose query
// may carry an API key) and without any credential.
func requestError(tl *httptool.Tool, err error) string {
	if oe, ok := errors.AsType[*egress.OriginError](err); ok {
		if a := tl.Record().Auth; a != nil && a.Kind == vault.CredentialOAuth {
			return fmt.Sprintf("the %s connection may only be sent to %s; add %s to the provider's API origins to use it here",
				a.Provider, originList(oe.Allowed), tl.Origin())
		}
		return oe.Error()
	}
	if re, ok := errors.AsType[*egress.RedirectError](err); ok {
		return re.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %ds (the tool's timeout_seconds)", tl.Timeout())
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return "request failed: " + ue.Op + ": " + ue.Err.Error()
	}
	return "request failed: " + err.Error()
}

func originList(os []egress.Origin) string {
	if len(os) == 0 {
		return "no origin"
	}
	s := string(os[0])
	for _, o := range os[1:] {
		s += ", " + string(o)
	}
	return s
}
