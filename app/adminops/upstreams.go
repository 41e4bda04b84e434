// This file holds the upstream MCP server operations (issue 11): mount,
// change, remove, list, show, read the log of, and restart an upstream.

package adminops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// UpstreamStore is the part of the vault the upstream operations use;
// *vault.Vault satisfies it. A Store without it makes them
// ErrUnsupported.
type UpstreamStore interface {
	CreateUpstream(ctx context.Context, u vault.Upstream) (vault.Upstream, error)
	UpdateUpstream(ctx context.Context, u vault.Upstream) (vault.Upstream, error)
	GetUpstream(ctx context.Context, tenantID, name string) (vault.Upstream, error)
	ListUpstreams(ctx context.Context, tenantID string) ([]vault.Upstream, error)
	DeleteUpstream(ctx context.Context, tenantID, name string) error
}

var _ UpstreamStore = (*vault.Vault)(nil)

// UpstreamRuntime is the daemon's view of running upstreams;
// *mcpserver.Server satisfies it. Without it (Options.Upstreams nil) the
// upstreams are stored and shown without status.
type UpstreamRuntime interface {
	UpstreamState(ctx context.Context, tenant, name string, wait time.Duration) (mcpserver.UpstreamState, bool)
	RestartUpstream(tenant, name string) bool
}

var _ UpstreamRuntime = (*mcpserver.Server)(nil)

// upstreamListWait is how long AddUpstream and UpdateUpstream wait for the
// upstream to start and list its items, so that the answer says how it
// went.
const upstreamListWait = 20 * time.Second

func (s *Service) upstreams() (UpstreamStore, error) {
	us, ok := s.store.(UpstreamStore)
	if !ok {
		return nil, unsupported("this daemon does not serve upstream MCP servers")
	}
	return us, nil
}

// ListUpstreams returns a tenant's upstream MCP servers with how each
// runs.
func (s *Service) ListUpstreams(ctx context.Context, tenantID string) ([]apiv1.Upstream, error) {
	us, err := s.upstreams()
	if err != nil {
		return nil, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ups, err := us.ListUpstreams(ctx, t.ID)
	if err != nil {
		return nil, wrapf(err, "list upstreams of %s", t.ID)
	}
	out := make([]apiv1.Upstream, 0, len(ups))
	for _, u := range ups {
		out = append(out, s.upstreamView(ctx, u, 0))
	}
	return out, nil
}

// GetUpstream returns one of a tenant's upstreams with how it runs.
func (s *Service) GetUpstream(ctx context.Context, tenantID, name string) (apiv1.Upstream, error) {
	u, err := s.upstream(ctx, tenantID, name)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	return s.upstreamView(ctx, u, 0), nil
}

func (s *Service) upstream(ctx context.Context, tenantID, name string) (vault.Upstream, error) {
	us, err := s.upstreams()
	if err != nil {
		return vault.Upstream{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return vault.Upstream{}, err
	}
	if err := vault.ValidateUpstreamName(name); err != nil {
		return vault.Upstream{}, asField("name", err)
	}
	u, err := us.GetUpstream(ctx, t.ID, name)
	if errors.Is(err, vault.ErrNotFound) {
		return vault.Upstream{}, notFoundf("tenant %s has no upstream %q", t.ID, name)
	}
	return u, wrapf(err, "upstream %s of %s", name, t.ID)
}

// AddUpstream mounts an upstream MCP server in a tenant. The vault
// announces it: the daemon starts it (an upstream with credentials, with
// the local owner's, when they have them) and its items appear in the
// tenant; the answer waits a little for that and says how it went.
func (s *Service) AddUpstream(ctx context.Context, tenantID string, req apiv1.UpstreamRequest) (apiv1.Upstream, error) {
	us, err := s.upstreams()
	if err != nil {
		return apiv1.Upstream{}, err
	}
	if req.Name == "" {
		return apiv1.Upstream{}, fieldErr("name", "name is required: the upstream's items appear as NAME__item")
	}
	if err := vault.ValidateUpstreamName(req.Name); err != nil {
		return apiv1.Upstream{}, asField("name", err)
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	u, err := s.upstreamRecord(ctx, t.ID, req)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	undo, err := s.upstreamOAuth(ctx, &u, req.OAuth, true) // upstream_oauth.go
	if err != nil {
		return apiv1.Upstream{}, err
	}
	created, err := us.CreateUpstream(ctx, u)
	if err != nil {
		undo()
	}
	if errors.Is(err, vault.ErrExists) {
		return apiv1.Upstream{}, &reasonError{
			msg: fmt.Sprintf("tenant %s already has an upstream called %q (change it with update, or remove it first)", t.ID, u.Name), kind: vault.ErrExists}
	}
	if err != nil {
		return apiv1.Upstream{}, upstreamFieldErr(wrapf(err, "create upstream in %s", t.ID))
	}
	s.log.InfoContext(ctx, "Added upstream", "tenant", t.ID, "upstream", created.Name, "transport", string(created.Transport))
	wait := upstreamListWait
	if req.OAuth != nil {
		wait = 0 // nobody has connected to an authorization server just discovered: nothing to wait for
	}
	return s.upstreamView(ctx, created, wait), nil
}

// UpdateUpstream replaces an upstream's settings; its processes restart
// with them and connected clients are told what changed.
func (s *Service) UpdateUpstream(ctx context.Context, tenantID, name string, req apiv1.UpstreamRequest) (apiv1.Upstream, error) {
	us, err := s.upstreams()
	if err != nil {
		return apiv1.Upstream{}, err
	}
	old, err := s.upstream(ctx, tenantID, name)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	if req.Name != "" && req.Name != old.Name {
		return apiv1.Upstream{}, fieldErr("name", "an upstream cannot be renamed (its items' names would change): add one under the new name and remove this one")
	}
	req.Name = old.Name
	u, err := s.upstreamRecord(ctx, old.TenantID, req)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	if _, err := s.upstreamOAuth(ctx, &u, req.OAuth, false); err != nil { // upstream_oauth.go
		return apiv1.Upstream{}, err
	}
	updated, err := us.UpdateUpstream(ctx, u)
	if err != nil {
		return apiv1.Upstream{}, upstreamFieldErr(wrapf(err, "update upstream %s of %s", name, old.TenantID))
	}
	s.log.InfoContext(ctx, "Updated upstream", "tenant", updated.TenantID, "upstream", updated.Name)
	return s.upstreamView(ctx, updated, upstreamListWait), nil
}

// DeleteUpstream removes an upstream: its processes stop and its items
// leave the tenant (connected clients are told).
func (s *Service) DeleteUpstream(ctx context.Context, tenantID, name string) error {
	us, err := s.upstreams()
	if err != nil {
		return err
	}
	u, err := s.upstream(ctx, tenantID, name)
	if err != nil {
		return err
	}
	if err := us.DeleteUpstream(ctx, u.TenantID, u.Name); err != nil {
		if errors.Is(err, vault.ErrNotFound) {
			return notFoundf("tenant %s has no upstream %q", u.TenantID, name)
		}
		return wrapf(err, "delete upstream %s of %s", name, u.TenantID)
	}
	s.dropUpstreamProvider(ctx, u) // upstream_oauth.go
	s.log.InfoContext(ctx, "Removed upstream", "tenant", u.TenantID, "upstream", u.Name)
	return nil
}

// RestartUpstream stops an upstream's processes (sessions); they start
// again on their next call (the shared one at once).
func (s *Service) RestartUpstream(ctx context.Context, tenantID, name string) (apiv1.Upstream, error) {
	u, err := s.upstream(ctx, tenantID, name)
	if err != nil {
		return apiv1.Upstream{}, err
	}
	if s.opts.Upstreams == nil {
		return apiv1.Upstream{}, unsupported("this daemon does not run upstream MCP servers")
	}
	s.opts.Upstreams.RestartUpstream(u.TenantID, u.Name)
	s.log.InfoContext(ctx, "Restarted upstream", "tenant", u.TenantID, "upstream", u.Name)
	return s.upstreamView(ctx, u, upstreamListWait), nil
}

// UpstreamLog returns an upstream's bounded log: its stderr, the log
// messages it sent, and what Plexus did with it (started, exited,
// restarting), with every credential Plexus injected masked.
func (s *Service) UpstreamLog(ctx context.Context, tenantID, name string) (apiv1.UpstreamLog, error) {
	u, err := s.upstream(ctx, tenantID, name)
	if err != nil {
		return apiv1.UpstreamLog{}, err
	}
	out := apiv1.UpstreamLog{Lines: []apiv1.UpstreamLogLine{}}
	if s.opts.Upstreams == nil {
		return out, nil
	}
	st, ok := s.opts.Upstreams.UpstreamState(ctx, u.TenantID, u.Name, 0)
	if !ok {
		return out, nil
	}
	for _, l := range st.Log {
		out.Lines = append(out.Lines, apiv1.UpstreamLogLine{Time: l.Time, Source: l.Source, Text: l.Text})
	}
	return out, nil
}

// upstreamRecord checks req and builds the vault record for tenantID.
func (s *Service) upstreamRecord(ctx context.Context, tenantID string, req apiv1.UpstreamRequest) (vault.Upstream, error) {
	req = withoutOAuthCredentials(req) // upstream_oauth.go
	u := vault.Upstream{TenantID: tenantID, Name: req.Name, URL: strings.TrimSpace(req.URL), Env: req.Env}
	transport := strings.ToLower(strings.TrimSpace(req.Transport))
	if transport == "" {
		switch {
		case strings.TrimSpace(req.Command) != "" && u.URL == "":
			transport = string(vault.UpstreamStdio)
		case u.URL != "" && strings.TrimSpace(req.Command) == "":
			transport = string(vault.UpstreamHTTP)
		default:
			return u, fieldErr("command", "give either a command (a stdio upstream) or a url (an http upstream)")
		}
	}
	u.Transport = vault.UpstreamTransport(transport)
	if u.Transport == vault.UpstreamStdio {
		words, err := SplitCommandLine(req.Command)
		if err != nil {
			return u, fieldErr("command", "command: %v", err)
		}
		if len(words) == 0 {
			return u, fieldErr("command", "command is required for a stdio upstream")
		}
		u.Command, u.Args = words[0], append(words[1:], req.Args...)
	} else if req.Command != "" || len(req.Args) > 0 {
		return u, fieldErr("command", "an %s upstream is reached at its url; it has no command", transport)
	}
	for _, d := range []struct {
		field string
		secs  int
		dst   *time.Duration
	}{{"call_timeout_seconds", req.CallTimeoutSeconds, &u.CallTimeout}, {"idle_timeout_seconds", req.IdleTimeoutSeconds, &u.IdleTimeout}} {
		if d.secs < 0 || time.Duration(d.secs)*time.Second > vault.MaxUpstreamTimeout {
			return u, fieldErr(d.field, "%s: between 1 and %d seconds (0 for the default)", d.field, int(vault.MaxUpstreamTimeout.Seconds()))
		}
		*d.dst = time.Duration(d.secs) * time.Second
	}
	for i, c := range req.Credentials {
		vc := vault.UpstreamCredential{Kind: vault.CredentialKind(c.Kind), Provider: c.Provider, Env: c.Env, Header: c.Header, Scheme: c.Scheme}
		if vc.Kind == vault.CredentialOAuth {
			if u.Transport == vault.UpstreamStdio {
				return u, fieldErr("credentials", "credential %d: an OAuth connection goes to an http upstream as a bearer token; a stdio upstream takes API keys as environment variables", i+1)
			}
			if vc.Header == "" {
				vc.Header, vc.Scheme = "Authorization", "Bearer"
			}
			if !strings.EqualFold(vc.Header, "Authorization") || !strings.EqualFold(vc.Scheme, "Bearer") {
				return u, fieldErr("credentials", "credential %d: an OAuth connection is sent as Authorization: Bearer (header %q, scheme %q given)", i+1, vc.Header, vc.Scheme)
			}
			if err := s.checkOAuthDestination(ctx, tenantID, vc.Provider, u.URL); err != nil {
				return u, err
			}
		}
		u.Credentials = append(u.Credentials, vc)
	}
	return u, nil
}

// checkOAuthDestination refuses an upstream that would get a provider's
// access tokens at an origin the provider does not name: the tokens go
// only to its API origins.
func (s *Service) checkOAuthDestination(ctx context.Context, tenantID, provider, rawURL string) error {
	p, err := s.store.GetOAuthProvider(ctx, tenantID, provider)
	if errors.Is(err, vault.ErrNotFound) || errors.Is(err, oauth.ErrUnknownProvider) {
		return fieldErr("credentials", "tenant %s has no OAuth provider %q: add it first (plexus admin ext-oauth create --entity-id %s --provider-name %s ...)", tenantID, provider, tenantID, provider)
	}
	if err != nil && !errors.Is(err, vault.ErrDecrypt) {
		return wrapf(err, "oauth provider %s of %s", provider, tenantID)
	}
	o, err := egress.OriginOfURL(rawURL)
	if err != nil {
		return fieldErr("url", "url: %v", err)
	}
	if slices.Contains(p.APIOrigins, string(o)) {
		return nil
	}
	return fieldErr("credentials", "the %s provider's access tokens go only to its api origins (%s), not to %s: add it with plexus admin ext-oauth update --entity-id %s --provider-name %s --api-origins \"%s %s\" (which needs the client secret again)",
		provider, strings.Join(p.APIOrigins, ", "), o, tenantID, provider, strings.Join(p.APIOrigins, " "), o)
}

// upstreamFieldErr attributes the vault's validation error to the request
// field it is about.
func upstreamFieldErr(err error) error {
	if !errors.Is(err, vault.ErrInvalid) {
		return err
	}
	msg := err.Error()
	for _, f := range []struct{ prefix, field string }{
		{"upstream name", "name"}, {"transport", "transport"}, {"command", "command"}, {"argument", "command"},
		{"args", "command"}, {"env", "env"}, {"url", "url"}, {"credential", "credentials"},
		{"call timeout", "call_timeout_seconds"}, {"idle timeout", "idle_timeout_seconds"},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			return asField(f.field, err)
		}
	}
	return asField("upstream", err)
}

// upstreamView is the API's view of u, with its status when the daemon
// runs upstreams (after waiting up to wait for it to list its items).
func (s *Service) upstreamView(ctx context.Context, u vault.Upstream, wait time.Duration) apiv1.Upstream {
	v := apiv1.Upstream{
		TenantID: u.TenantID, Name: u.Name, Transport: string(u.Transport), Command: u.Command, Args: u.Args,
		Env: u.Env, URL: u.URL, Credentials: []apiv1.UpstreamCredential{}, PerUser: u.NeedsCredentials(),
		CallTimeoutSeconds: int(u.CallTimeout / time.Second), IdleTimeoutSeconds: int(u.IdleTimeout / time.Second),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, OAuth: s.upstreamOAuthView(ctx, u),
	}
	for _, c := range u.Credentials {
		v.Credentials = append(v.Credentials, apiv1.UpstreamCredential{Kind: string(c.Kind), Provider: c.Provider, Env: c.Env, Header: c.Header, Scheme: c.Scheme})
	}
	if s.opts.Upstreams == nil {
		return v
	}
	st, ok := s.opts.Upstreams.UpstreamState(ctx, u.TenantID, u.Name, wait)
	status := &apiv1.UpstreamStatus{Problems: []string{}, Instances: []apiv1.UpstreamInstance{}}
	if ok {
		status.Listed, status.Tools, status.Resources, status.ResourceTemplates, status.Prompts = st.Listed, st.Tools, st.Resources, st.Templates, st.Prompts
		status.Problems = append(status.Problems, st.Problems...)
		status.Waiting = st.Waiting
		for _, in := range st.Instances {
			status.Instances = append(status.Instances, apiv1.UpstreamInstance{
				Owner: in.Owner, State: string(in.State), PID: in.PID, StartedAt: in.StartedAt, Starts: in.Starts,
				Failures: in.Failures, LastError: in.LastError, NextStart: in.NextStart, InFlight: in.InFlight,
				LastUsed: in.LastUsed, Server: in.Server, Protocol: in.Protocol,
			})
		}
	}
	v.Status = status
	return v
}

// SplitCommandLine splits a command line into words as a POSIX shell
// does, without running one: words are separated by blanks; single
// quotes keep everything literally; double quotes keep blanks, and a
// backslash in them escapes ", \, $ and `; outside quotes a backslash
// escapes the next character. What a shell would expand or interpret
// (unquoted $, `, |, &, ;, <, >, (, ), *, ?, [, ~ at a word's start,
// newlines) is refused with a sentence saying so: the command runs
// directly, so it would not mean what it seems to.
func SplitCommandLine(s string) ([]string, error) {
	if strings.ContainsAny(s, "\n\r\x00") {
		return nil, errors.New("the command must be one line")
	}
	var words []string
	var cur strings.Builder
	inWord := false
	const maxWords = 256
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("a single quote is not closed")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			closed := false
			for ; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '$' || s[i] == '`' {
					return nil, fmt.Errorf("%q inside double quotes would be expanded by a shell; Plexus runs the command directly, without one: use single quotes to keep it literally", s[i])
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New("a double quote is not closed")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("the command ends with a backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("$`|&;<>()*?[", c) >= 0 || c == '~' && !inWord:
			return nil, fmt.Errorf("%q would mean something to a shell, but Plexus runs the command directly, without one: quote it if it is meant literally (pipes, redirections, variables and globs do not work)", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
		if len(words) > maxWords {
			return nil, fmt.Errorf("more than %d words", maxWords)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
