package mcpserver

// Upstreams that carry an OAuth connection (issue 11 item 3: an upstream
// that requires OAuth, whose provider Plexus discovered, or one given a
// tenant provider's token with --bearer-from-oauth). Until someone has
// connected, such an upstream cannot list its items, so a client would
// see nothing to call and never get the consent link. Meanwhile the
// tenant shows one tool, "{name}__connect", that answers with the consent
// link (or the sign-in result) as any tool needing the connection does;
// once connected, the upstream starts for that user and its own items
// replace the placeholder (list_changed), without a restart of anything.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// connectItem is the placeholder tool's name within its upstream.
const connectItem = "connect"

// offerConnect shows m's placeholder tool while m carries an OAuth
// connection and has not listed its items.
func (m *mount) offerConnect() {
	provider := oauthProvider(m)
	if provider == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock() // held while the items are set: a catalog arriving meanwhile wins
	if m.known || m.closed {
		return
	}
	name := m.cfg.Name + "__" + connectItem
	tool := mcp.NewTool(name,
		mcp.WithDescription(fmt.Sprintf("Connect your account to the MCP server %s, which requires OAuth: answers with a link to approve "+
			"in your browser. After that, %s's own tools are listed here (%s__...).", m.cfg.Name, m.cfg.Name, m.cfg.Name)),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
	)
	m.h.s.setSourceItems(m.tenant, sourceKey(m.cfg.Name), sourceItems{Tools: []sourceTool{{
		ServerTool: server.ServerTool{Tool: tool, Handler: m.h.connectHandler(m.tenant, m.cfg.Name)},
		ToolSets:   []string{m.cfg.Name},
		Requires:   string(vault.CredentialOAuth) + ":" + provider,
	}}})
}

// connectHandler serves "{up}__connect": the caller's instance starts
// (its items then replace this tool) or, without a connection, the
// answer carries the consent link.
func (h *upstreamHub) connectHandler(tenant, up string) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for attempt := 0; ; attempt++ {
			in, m, res, err := h.instanceFor(ctx, tenant, up)
			if res != nil {
				return res, nil
			}
			if err != nil {
				return toolFailure(err)
			}
			err = in.Start(ctx)
			if cm, ok := errors.AsType[*credentialMissing](err); ok {
				res, err := h.credentialResult(ctx, m, req.Params.Name, cm)
				if res == nil && err == nil && attempt == 0 {
					continue // connected meanwhile (URL elicitation)
				}
				return res, err
			}
			if err != nil {
				return toolFailure(err)
			}
			return mcp.NewToolResultText(fmt.Sprintf("Connected: %s's tools are listed now as %s__<tool>; call them directly.", up, up)), nil
		}
	}
}

// afterCredentialChange applies a change of an owner's credential that m
// uses. An API key is in the process's environment or headers, so the
// owner's instance stops (and starts with the new key on the next call).
// An OAuth connection is read at every request (the OAuth client loads
// and refreshes the token itself), so a running instance carries on: a
// call in flight when the connection expires gets the consent answer, not
// a stopped upstream. While m has not listed its items, the owner's
// instance starts: a user who just connected sees them at once.
func (m *mount) afterCredentialChange(c vault.Change) {
	if c.Kind != vault.CredentialChanged || c.CredentialKind != vault.CredentialOAuth {
		m.closeOwner(c.UserID)
	} else if !m.connected(c.UserID, c.Provider) {
		// Disconnected or expired: an idle session (and its stream from
		// the upstream) ends now; one in the middle of a call ends when
		// idle, after that call got the consent answer.
		m.closeIdleOwner(c.UserID)
	}
	if c.Kind != vault.CredentialChanged || c.UserID == "" {
		return
	}
	m.mu.Lock()
	wait := !m.known && !m.closed
	m.mu.Unlock()
	if wait {
		m.discover(context.Background(), c.UserID)
	}
}

// connected reports whether owner has a usable OAuth connection to
// provider (read from the vault; no request is sent).
func (m *mount) connected(owner, provider string) bool {
	if m.h.s.oauth == nil || owner == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := m.h.s.oauth.Client(ctx, oauth.Owner{TenantID: m.tenant, UserID: owner}, provider, nil)
	return err == nil
}

// closeIdleOwner stops owner's instance of m unless a call is in flight.
func (m *mount) closeIdleOwner(owner string) {
	m.mu.Lock()
	in := m.instances[owner]
	if in == nil || in.Status().InFlight > 0 {
		m.mu.Unlock()
		return
	}
	delete(m.instances, owner)
	m.mu.Unlock()
	m.log.Add("plexus", "an OAuth connection ended; the session carrying it stops")
	in.Close()
}
