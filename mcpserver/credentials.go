package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/keyentry"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// errOAuthUnavailable is returned when the server has no OAuth manager.
var errOAuthUnavailable = errors.New("external oauth is not available on this server")

// callerCredentials is the tools.Credentials of one request's caller: it
// only ever reads that caller's own records (tenant + user, or the guest's
// session).
type callerCredentials struct {
	s *Server
	c tools.Caller
}

var _ tools.Credentials = callerCredentials{}

// owner is the oauth owner of the caller; a guest needs a session.
func (cc callerCredentials) owner() (oauth.Owner, error) {
	o := oauth.Owner{TenantID: cc.c.TenantID, UserID: cc.c.UserID, SessionID: cc.c.SessionID}
	if o.UserID == "" && o.SessionID == "" {
		return o, tools.ErrNoSession
	}
	return o, nil
}

func (cc callerCredentials) HTTPClient(ctx context.Context, provider string, scopes []string) (*http.Client, error) {
	o, err := cc.owner()
	if err != nil {
		return nil, err
	}
	if cc.s.oauth == nil {
		return nil, errOAuthUnavailable
	}
	return cc.s.oauth.Client(ctx, o, provider, scopes)
}

func (cc callerCredentials) APIKey(ctx context.Context, provider string) (string, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case cc.c.UserID != "":
		b, err = cc.s.store.GetCredential(ctx, cc.c.TenantID, cc.c.UserID, vault.CredentialAPIKey, provider)
	case cc.c.SessionID != "":
		b, err = cc.s.store.GetSessionValue(ctx, cc.c.TenantID, cc.c.SessionID, tools.GuestAPIKeyPrefix+provider)
	default:
		return "", tools.ErrNoSession
	}
	if errors.Is(err, vault.ErrNotFound) || (err == nil && len(b) == 0) {
		return "", tools.ErrAPIKeyMissing
	}
	if err != nil {
		return "", fmt.Errorf("read api key: %w", err)
	}
	return string(b), nil
}

// Result shapes. They mirror MCP Plexus's @requires_auth and
// @requires_api_key errors (mcp_plexus/oauth/errors.py): an isError tool
// result whose first text content is this JSON, followed by a plain
// sentence for the user; the same object is the structured content.

// Values of the "error" field.
const (
	// ResultAuthRequired: connect the OAuth provider (MCP Plexus's value).
	ResultAuthRequired = "external_auth_required"
	// ResultAPIKeyRequired: store an API key (MCP Plexus's value).
	ResultAPIKeyRequired = "plexus_api_key_required"
	// ResultSignInRequired: a guest without a session cannot hold
	// credentials (Plexus's addition).
	ResultSignInRequired = "plexus_sign_in_required"
)

// CredentialResult is the JSON of a credential-required tool result.
type CredentialResult struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	ProviderName string `json:"provider_name"`
	// AuthorizationURL (MCP Plexus's field name) is Plexus's consent page
	// for this request, never the provider's own URL: a single-use,
	// expiring link that shows what is asked and, on Approve, binds the
	// flow to that browser before sending it to the provider.
	AuthorizationURL string `json:"authorization_url,omitempty"`
	// API keys.
	KeyNameDisplay string `json:"key_name_display,omitempty"`
	Instructions   string `json:"instructions,omitempty"`
	// SubmitURL is where a registered user stores the key (path of
	// POST /{tenant}/plexus-services/api-keys, body
	// {"provider_name","api_key_value"}, Bearer user token).
	SubmitURL string `json:"submit_url,omitempty"`
	// KeyEntryURL (Plexus's addition) is a page where the person types the
	// key in a browser: a single-use link that expires within minutes and
	// stores the key for exactly this tenant, caller and provider. Absent
	// when the caller cannot hold a key (a guest without a session).
	KeyEntryURL string `json:"key_entry_url,omitempty"`
}

func credentialToolResult(r CredentialResult) *mcp.CallToolResult {
	b, _ := json.Marshal(r) // strings only: cannot fail
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(string(b)), mcp.NewTextContent(r.Message)},
		StructuredContent: r,
		IsError:           true,
	}
}

// apiKeysPath is the API-key endpoint of a tenant.
func apiKeysPath(tenantID string) string { return "/" + tenantID + "/plexus-services/api-keys" }

// guard wraps the handler of a tool with Requires: before calling it, the
// caller's credentials are checked and, when missing, the caller gets the
// structured result (or, for OAuth on a client that declared URL-mode
// elicitation, a URL elicitation first); a handler error wrapping
// oauth.ErrConsentRequired, tools.ErrAPIKeyMissing or tools.ErrNoSession
// (a connection refused mid-call) is turned into the same result. For an
// API-key tool whose schema has "<provider>_api_key", the key is put in
// that argument (overwriting anything the client sent).
func (s *Server) guard(ms *server.MCPServer, t tools.Tool) server.ToolHandlerFunc {
	req := t.Requires
	next := t.Handler
	keyArg := ""
	if req.APIKey != nil {
		if _, ok := t.Definition.InputSchema.Properties[tools.APIKeyArgument(req.APIKey.Provider)]; ok {
			keyArg = tools.APIKeyArgument(req.APIKey.Provider)
		}
	}
	tool := t.Definition.Name
	return func(ctx context.Context, call mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx = tools.WithRequirement(ctx, req)
		if req.OAuth != nil {
			if _, err := tools.AuthenticatedClient(ctx, req.OAuth.Provider); err != nil {
				res, err := s.oauthMissing(ctx, ms, tool, req.OAuth, err)
				if res != nil || err != nil {
					return res, err
				}
			}
		}
		if req.APIKey != nil {
			key, err := tools.APIKey(ctx, req.APIKey.Provider)
			if err != nil {
				return s.apiKeyMissing(ctx, tool, req.APIKey, err)
			}
			if keyArg != "" {
				args := call.GetArguments()
				if args == nil {
					args = map[string]any{}
				}
				args[keyArg] = key
				call.Params.Arguments = args
			}
		}
		res, err := next(ctx, call)
		if err == nil {
			return res, nil
		}
		switch {
		case req.OAuth != nil && (errors.Is(err, oauth.ErrConsentRequired) || errors.Is(err, tools.ErrNoSession)):
			return s.consentResult(ctx, tool, req.OAuth)
		case req.APIKey != nil && (errors.Is(err, tools.ErrAPIKeyMissing) || errors.Is(err, tools.ErrNoSession)):
			return s.apiKeyMissing(ctx, tool, req.APIKey, err)
		}
		return res, err
	}
}

// oauthMissing answers a failed credential check for an OAuth tool. It
// returns (nil, nil) when the caller turned out to be connected after all
// (a URL elicitation the user completed), so the handler runs.
func (s *Server) oauthMissing(ctx context.Context, ms *server.MCPServer, tool string, r *tools.OAuthRequirement, cause error) (*mcp.CallToolResult, error) {
	c, _ := tools.CallerFrom(ctx)
	switch {
	case errors.Is(cause, tools.ErrNoSession):
		return signInResult(c, r.Provider), nil
	case errors.Is(cause, oauth.ErrUnknownProvider):
		return mcp.NewToolResultError(providerMissingMessage(c.TenantID, r.Provider)), nil
	case errors.Is(cause, vault.ErrDecrypt):
		s.log.WarnContext(ctx, "OAuth provider's client secret does not open", "tenant", c.TenantID, "provider", r.Provider)
		return mcp.NewToolResultError(fmt.Sprintf("The %s provider's settings were changed outside Plexus, so its client secret no longer "+
			"opens. An administrator must set it again: plexus admin ext-oauth update --entity-id %s --provider-name %s --client-secret -",
			r.Provider, c.TenantID, r.Provider)), nil
	case !errors.Is(cause, oauth.ErrConsentRequired):
		s.log.ErrorContext(ctx, "Checking OAuth connection", "tenant", c.TenantID, "provider", r.Provider, "err", cause)
		return mcp.NewToolResultError(fmt.Sprintf("Could not check your %s connection (internal error); try again later.", r.Provider)), nil
	}
	consentURL, err := s.consentURL(ctx, c, tool, r)
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if supportsURLElicitation(ctx) {
		if s.elicitConsent(ctx, ms, r, consentURL) {
			return nil, nil
		}
	}
	return authResult(r.Provider, consentURL), nil
}

// consentResult is the authorization result for a connection that died
// mid-call (refresh refused).
func (s *Server) consentResult(ctx context.Context, tool string, r *tools.OAuthRequirement) (*mcp.CallToolResult, error) {
	c, _ := tools.CallerFrom(ctx)
	if c.UserID == "" && c.SessionID == "" {
		return signInResult(c, r.Provider), nil
	}
	consentURL, err := s.consentURL(ctx, c, tool, r)
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	return authResult(r.Provider, consentURL), nil
}

// consentURL makes a consent link for the caller (Plexus's consent page,
// never the provider's URL); its error is a sentence safe to show the user.
func (s *Server) consentURL(ctx context.Context, c tools.Caller, tool string, r *tools.OAuthRequirement) (string, error) {
	if s.oauth == nil {
		return "", fmt.Errorf("this tool needs a %s connection, but external OAuth is not set up on this Plexus server", r.Provider)
	}
	u, err := s.oauth.ConsentURL(ctx, oauth.ConsentRequest{
		Owner:    oauth.Owner{TenantID: c.TenantID, UserID: c.UserID, SessionID: c.SessionID},
		Provider: r.Provider,
		Scopes:   r.Scopes,
		Tool:     tool,
		Client:   clientName(ctx),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "Starting OAuth authorization", "tenant", c.TenantID, "provider", r.Provider, "err", err)
		if errors.Is(err, oauth.ErrUnknownProvider) {
			return "", errors.New(providerMissingMessage(c.TenantID, r.Provider))
		}
		return "", fmt.Errorf("this tool needs a %s connection, but Plexus could not start the authorization (see the daemon log)", r.Provider)
	}
	return u, nil
}

func authResult(provider, consentURL string) *mcp.CallToolResult {
	return credentialToolResult(CredentialResult{
		Error: ResultAuthRequired,
		Message: fmt.Sprintf("This tool needs access to your %s account. Open the authorization URL in your browser "+
			"(a Plexus page that works once and expires in a few minutes), check what is asked and press Approve, "+
			"then call the tool again.", provider),
		ProviderName:     provider,
		AuthorizationURL: consentURL,
	})
}

// knownClients names MCP clients whose clientInfo name is not what a
// person calls them.
var knownClients = map[string]string{"claude-ai": "Claude", "claude-code": "Claude Code"}

// clientName is the request's MCP client as it calls itself (its title,
// else its name), for the consent page; "" when it did not say.
func clientName(ctx context.Context) string {
	var info mcp.Implementation
	if pi := server.RequestProtocolInfoFromContext(ctx); pi != nil && pi.ClientInfo != nil {
		info = *pi.ClientInfo
	} else if cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok && cs != nil {
		info = cs.GetClientInfo()
	}
	if n, ok := knownClients[info.Name]; ok && info.Title == "" {
		return n
	}
	if info.Title != "" {
		return info.Title
	}
	return info.Name
}

// providerMissingMessage tells how to configure an OAuth provider a tool
// needs; for a built-in preset only the client id and secret are needed.
func providerMissingMessage(tenantID, provider string) string {
	create := fmt.Sprintf("plexus admin ext-oauth create --entity-id %s --provider-name %s --client-id ID --client-secret - "+
		"--authorization-url URL --token-url URL --scopes \"...\"", tenantID, provider)
	if p, ok := oauth.LookupPreset(provider); ok {
		create = fmt.Sprintf("plexus admin ext-oauth create --entity-id %s --preset %s --client-id ID --client-secret - "+
			"(register an OAuth app with %s first)", tenantID, p.Name, p.DisplayName)
	}
	return fmt.Sprintf("This tool needs the OAuth provider %q, which tenant %q has not configured. An administrator can add it with: %s.",
		provider, tenantID, create)
}

func signInResult(c tools.Caller, provider string) *mcp.CallToolResult {
	return credentialToolResult(CredentialResult{
		Error: ResultSignInRequired,
		Message: fmt.Sprintf("This tool needs your %s credentials, which Plexus keeps per user or per session. "+
			"This request has neither (a guest on the stateless protocol): connect with a Plexus user token "+
			"(from POST /%s/plexus-auth/register-user) or use a session (protocol 2025-11-25).", provider, c.TenantID),
		ProviderName: provider,
	})
}

// apiKeyMissing answers a tool whose API key is missing. A caller who can
// hold a key (a user, or a guest with a session) gets a key-entry link:
// a Plexus page where the person types the key for exactly this tenant,
// caller and provider.
func (s *Server) apiKeyMissing(ctx context.Context, tool string, r *tools.APIKeyRequirement, cause error) (*mcp.CallToolResult, error) {
	c, _ := tools.CallerFrom(ctx)
	if !errors.Is(cause, tools.ErrAPIKeyMissing) && !errors.Is(cause, tools.ErrNoSession) {
		s.log.ErrorContext(ctx, "Reading API key", "tenant", c.TenantID, "provider", r.Provider, "err", cause)
		return mcp.NewToolResultError(fmt.Sprintf("Could not read your %s (internal error); try again later.", r.DisplayName)), nil
	}
	instructions := r.Instructions
	if instructions == "" {
		instructions = fmt.Sprintf("Please provide your %s via the API key submission endpoint.", r.DisplayName)
	}
	entryURL := s.keyEntryURL(ctx, c, tool, r)
	head := fmt.Sprintf("API key for %s ('%s') is required. %s", r.Provider, r.DisplayName, instructions)
	open := ""
	if entryURL != "" {
		open = fmt.Sprintf(" Open the key entry URL in your browser (a Plexus page that works once and expires in %s), "+
			"type the key there and press Save key", minutes(s.keys.TTL()))
	}
	post := fmt.Sprintf("POST %s (Authorization: Bearer <your Plexus user token>, body {\"provider_name\": %q, \"api_key_value\": \"...\"})",
		apiKeysPath(c.TenantID), r.Provider)
	cli := fmt.Sprintf("plexus admin connections set-api-key --entity-id %s --provider-name %s", c.TenantID, r.Provider)
	var msg string
	switch {
	case c.Local && entryURL != "":
		// The person at this machine (Claude Desktop through plexus
		// stdio): the page, or the CLI.
		msg = head + open + ", then call the tool again. (In a terminal, this works too: " + cli + ".)"
	case c.Local:
		msg = head + " Then store it by running, in a terminal: " + cli + " (it asks for the key), and call the tool again."
	case c.UserID != "" && entryURL != "":
		msg = head + open + ", then call the tool again. (A host application can also store it with " + post + ".)"
	case c.UserID != "":
		msg = head + " Then store it with " + post + " and call the tool again."
	case entryURL != "":
		msg = head + open + " (Plexus keeps it for this session only), then call the tool again."
	default:
		msg = fmt.Sprintf("API key for %s ('%s') is required. %s Plexus stores API keys per user: register with the host "+
			"application (POST /%s/plexus-auth/register-user) and connect with your Plexus user token, then store the key "+
			"with POST %s.", r.Provider, r.DisplayName, instructions, c.TenantID, apiKeysPath(c.TenantID))
	}
	return credentialToolResult(CredentialResult{
		Error:          ResultAPIKeyRequired,
		Message:        msg,
		ProviderName:   r.Provider,
		KeyNameDisplay: r.DisplayName,
		Instructions:   instructions,
		SubmitURL:      apiKeysPath(c.TenantID),
		KeyEntryURL:    entryURL,
	}), nil
}

// keyEntryURL makes a key-entry link for the caller, or "" when there is
// no page to send them to (no public URL, or a guest without a session,
// whose key could never be found again) or the link could not be stored.
func (s *Server) keyEntryURL(ctx context.Context, c tools.Caller, tool string, r *tools.APIKeyRequirement) string {
	if s.keys == nil || (c.UserID == "" && c.SessionID == "") {
		return ""
	}
	req := keyentry.Request{TenantID: c.TenantID, UserID: c.UserID, Provider: r.Provider,
		KeyName: r.DisplayName, Instructions: r.Instructions, Tool: tool, Client: clientName(ctx)}
	if c.UserID == "" {
		req.SessionID = c.SessionID
	}
	u, err := s.keys.Link(ctx, req)
	if err != nil {
		if errors.Is(err, keyentry.ErrTooManyLinks) {
			s.log.WarnContext(ctx, "Too many key-entry links; answering without one", "tenant", c.TenantID)
		} else if !errors.Is(err, keyentry.ErrNoBaseURL) {
			s.log.ErrorContext(ctx, "Making a key-entry link", "tenant", c.TenantID, "provider", r.Provider, "err", err)
		}
		return ""
	}
	return u
}

// minutes says d in whole minutes, in words.
func minutes(d time.Duration) string {
	if m := int(d.Round(time.Minute) / time.Minute); m > 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "a minute"
}

// supportsURLElicitation reports whether the request's session is a legacy
// one whose client declared URL-mode elicitation at initialize.
func supportsURLElicitation(ctx context.Context) bool {
	if server.IsModernRequest(ctx) {
		return false
	}
	cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	if !ok || cs == nil {
		return false
	}
	e := cs.GetClientCapabilities().Elicitation
	return e != nil && e.URL != nil
}

// consentPoll is how often elicitConsent looks for the new connection.
const consentPoll = 500 * time.Millisecond

// elicitConsent asks the client to open the consent link (URL-mode
// elicitation; never the provider's own URL).
// When the user accepts, it waits (up to the configured consent wait) for
// the callback to store the connection and reports whether it did.
func (s *Server) elicitConsent(ctx context.Context, ms *server.MCPServer, r *tools.OAuthRequirement, consentURL string) bool {
	c, _ := tools.CallerFrom(ctx)
	msg := fmt.Sprintf("This tool needs access to your %s account. Open the link, check what is asked and approve; "+
		"the tool continues when you are done.", r.Provider)
	ectx, cancel := context.WithTimeout(ctx, s.consentWait)
	defer cancel()
	session := server.ClientSessionFromContext(ctx)
	elicitationID := "plexus-consent-" + rand.Text()
	res, err := ms.RequestURLElicitation(ectx, session, elicitationID, consentURL, msg)
	if err != nil {
		s.log.DebugContext(ctx, "URL elicitation failed", "tenant", c.TenantID, "provider", r.Provider, "err", err)
		return false
	}
	if res.Action != mcp.ElicitationResponseActionAccept {
		return false
	}
	t := time.NewTicker(consentPoll)
	defer t.Stop()
	for {
		if _, err := tools.AuthenticatedClient(ctx, r.Provider); err == nil {
			// Tell the client the out-of-band step is done (it may close
			// its "waiting for the browser" prompt).
			if err := ms.SendElicitationComplete(ctx, session, elicitationID); err != nil {
				s.log.DebugContext(ctx, "Could not send elicitation/complete", "tenant", c.TenantID, "provider", r.Provider, "err", err)
			}
			return true
		}
		select {
		case <-ectx.Done():
			return false
		case <-t.C:
		}
	}
}

// hideAPIKeyArgument returns def without the "<provider>_api_key" input
// property (and its required entry): the key is injected, never asked for.
func hideAPIKeyArgument(def mcp.Tool, r *tools.Requirement) mcp.Tool {
	if r == nil || r.APIKey == nil {
		return def
	}
	name := tools.APIKeyArgument(r.APIKey.Provider)
	if _, ok := def.InputSchema.Properties[name]; !ok {
		return def
	}
	props := make(map[string]any, len(def.InputSchema.Properties))
	for k, v := range def.InputSchema.Properties {
		if k != name {
			props[k] = v
		}
	}
	def.InputSchema.Properties = props
	var req []string
	for _, k := range def.InputSchema.Required {
		if !strings.EqualFold(k, name) {
			req = append(req, k)
		}
	}
	def.InputSchema.Required = req
	return def
}
