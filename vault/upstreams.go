package vault

// Upstream MCP servers a tenant mounts (issue 11). The record is
// configuration only: how to start or reach the server and which of the
// caller's credentials go where. It never holds a secret value, only
// references ("the API key of provider openai into OPENAI_API_KEY", "the
// OAuth connection of provider github as a bearer token").

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plexus-mcp/plexus/vault/egress"
)

// UpstreamTransport says how Plexus talks to an upstream MCP server.
type UpstreamTransport string

// Upstream transports.
const (
	// UpstreamStdio starts Command with Args and speaks newline-delimited
	// JSON-RPC over its stdin and stdout.
	UpstreamStdio UpstreamTransport = "stdio"
	// UpstreamHTTP is the streamable HTTP transport at URL.
	UpstreamHTTP UpstreamTransport = "http"
	// UpstreamSSE is the older HTTP+SSE transport (protocol 2024-11-05) at
	// URL, for servers that speak nothing newer.
	UpstreamSSE UpstreamTransport = "sse"
)

// Limits on an upstream record.
const (
	// MaxUpstreamNameLen bounds an upstream's name: its items appear as
	// "{name}__{item}" within 64 characters.
	MaxUpstreamNameLen = 32
	maxUpstreamCommand = 4096
	maxUpstreamArgs    = 256
	maxUpstreamArgLen  = 4096
	maxUpstreamEnv     = 64
	maxUpstreamEnvName = 128
	maxUpstreamEnvVal  = 4096
	maxUpstreamCreds   = 16
	maxHeaderNameLen   = 128
	// MaxUpstreamTimeout bounds an upstream's call and idle timeouts.
	MaxUpstreamTimeout = 24 * time.Hour
)

// Upstream is an MCP server a tenant mounts: a command Plexus starts
// (stdio) or a URL it connects to (http, sse). Its tools, resources,
// resource templates and prompts appear in the tenant as
// "{Name}__{item}". It holds no secret: Credentials only name which of
// the calling user's stored credentials Plexus injects, and where.
type Upstream struct {
	TenantID  string            `json:"entity_id"`
	Name      string            `json:"name"`
	Transport UpstreamTransport `json:"transport"`
	// Command and Args start a stdio upstream. They are run directly,
	// never through a shell.
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env are plain (not secret) environment variables of a stdio
	// upstream, added to its minimal base environment. Secrets go in
	// Credentials.
	Env map[string]string `json:"env,omitempty"`
	// URL is an http or sse upstream's endpoint.
	URL string `json:"url,omitempty"`
	// Credentials are injected from the calling user's stored credentials
	// when the upstream is started (stdio: environment variables) or with
	// every request (http, sse: headers).
	Credentials []UpstreamCredential `json:"credentials,omitempty"`
	// CallTimeout bounds one call to the upstream (0: Plexus's default).
	CallTimeout time.Duration `json:"call_timeout,omitempty"`
	// IdleTimeout stops the upstream after this long without a call (0:
	// Plexus's default).
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// UpstreamCredential names one credential of the calling user that is
// given to an upstream, and where it goes: Env (stdio upstreams) or
// Header (http and sse upstreams), the value prefixed with Scheme and a
// space when Scheme is set ("Bearer").
type UpstreamCredential struct {
	Kind     CredentialKind `json:"kind"` // CredentialAPIKey or CredentialOAuth (the access token)
	Provider string         `json:"provider_name"`
	Env      string         `json:"env,omitempty"`
	Header   string         `json:"header,omitempty"`
	Scheme   string         `json:"scheme,omitempty"`
}

// Target is where the credential goes, for messages: "env OPENAI_API_KEY"
// or "header Authorization".
func (c UpstreamCredential) Target() string {
	if c.Env != "" {
		return "env " + c.Env
	}
	return "header " + c.Header
}

// NeedsCredentials reports whether u injects any credential; such an
// upstream runs once per user (each with their own credential), others
// once per tenant.
func (u Upstream) NeedsCredentials() bool { return len(u.Credentials) > 0 }

// ValidateUpstreamName checks an upstream's name: 1-32 of [a-z0-9_-],
// starting with a letter or digit, not ending with "_" and without "__"
// (the separator of "{name}__{item}", so no two upstreams' item names can
// run into each other). The error wraps ErrInvalid.
func ValidateUpstreamName(name string) error {
	if err := validSlug("upstream name", name, MaxUpstreamNameLen); err != nil {
		return err
	}
	if strings.Contains(name, "__") || strings.HasSuffix(name, "_") {
		return invalidf(`upstream name %q: must not contain "__" or end with "_" (its items are named "%s__item")`, name, name)
	}
	return nil
}

// reservedHeaders are set by the MCP transport itself; a credential may
// not replace them.
var reservedHeaders = []string{
	"Accept", "Connection", "Content-Length", "Content-Type", "Host", "Last-Event-Id",
	"Mcp-Method", "Mcp-Name", "Mcp-Protocol-Version", "Mcp-Session-Id", "Transfer-Encoding", "Upgrade",
}

// validHeaderName checks an HTTP header name (RFC 9110 token).
func validHeaderName(field, h string) error {
	if h == "" || len(h) > maxHeaderNameLen {
		return invalidf("%s: 1-%d characters", field, maxHeaderNameLen)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return invalidf("%s %q: not an HTTP header name", field, clip(h))
		}
	}
	if slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, h) }) {
		return invalidf("%s %q: set by the MCP transport itself", field, h)
	}
	return nil
}

// validEnvName checks an environment variable name: a letter or "_", then
// letters, digits and "_"; PLEXUS_ names are the daemon's own.
func validEnvName(field, n string) error {
	if n == "" || len(n) > maxUpstreamEnvName {
		return invalidf("%s: 1-%d characters", field, maxUpstreamEnvName)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return invalidf("%s %q: use letters, digits and _, not starting with a digit", field, clip(n))
		}
	}
	if strings.HasPrefix(strings.ToUpper(n), "PLEXUS_") {
		return invalidf("%s %q: PLEXUS_ variables are the daemon's own", field, n)
	}
	return nil
}

// noNUL checks a value that becomes part of a process's argv or
// environment.
func noNUL(field, s string, max int) error {
	if len(s) > max {
		return invalidf("%s: at most %d bytes", field, max)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalidf("%s: must not contain NUL bytes", field)
	}
	return nil
}

// checkUpstreamURL checks an http or sse upstream's URL. One that receives
// a credential passes egress.CheckURL (https, or http only to loopback);
// one that does not may also be plain http elsewhere, but never carries
// user info.
func checkUpstreamURL(raw string, credentialed bool) error {
	if credentialed {
		if err := egress.CheckURL(raw); err != nil {
			return invalidf("url: %v", err)
		}
		return nil
	}
	if err := egress.CheckURL(raw); err == nil {
		return nil
	}
	if raw == "" || len(raw) > egress.MaxURLLen || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return invalidf("url: an absolute http(s) URL of at most %d bytes without spaces", egress.MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return invalidf("url: must be an absolute http(s) URL (https://host/mcp)")
	}
	if u.User != nil {
		return invalidf("url: must not contain user info (put credentials in the vault, not in the URL)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return invalidf("url: must not contain a fragment")
	}
	return nil
}

// checkUpstream validates u and returns it cleaned (args and env copied,
// credentials in their given order).
func checkUpstream(u Upstream) (Upstream, error) {
	if err := ValidateTenantID(u.TenantID); err != nil {
		return u, err
	}
	if err := ValidateUpstreamName(u.Name); err != nil {
		return u, err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"call timeout", u.CallTimeout}, {"idle timeout", u.IdleTimeout}} {
		if d.v != 0 && (d.v < time.Second || d.v > MaxUpstreamTimeout) {
			return u, invalidf("%s: between 1s and %s (or 0 for the default)", d.name, MaxUpstreamTimeout)
		}
	}
	if len(u.Credentials) > maxUpstreamCreds {
		return u, invalidf("credentials: at most %d", maxUpstreamCreds)
	}
	u.Args = slices.Clone(u.Args)
	u.Credentials = slices.Clone(u.Credentials)
	if len(u.Env) == 0 {
		u.Env = nil
	} else {
		env := make(map[string]string, len(u.Env))
		for k, v := range u.Env {
			env[k] = v
		}
		u.Env = env
	}
	switch u.Transport {
	case UpstreamStdio:
		if u.URL != "" {
			return u, invalidf("url: a stdio upstream is started from its command, it has no URL")
		}
		if strings.TrimSpace(u.Command) == "" {
			return u, invalidf("command: required for a stdio upstream")
		}
		if err := noNUL("command", u.Command, maxUpstreamCommand); err != nil {
			return u, err
		}
		if len(u.Args) > maxUpstreamArgs {
			return u, invalidf("args: at most %d", maxUpstreamArgs)
		}
		for i, a := range u.Args {
			if err := noNUL(fmt.Sprintf("argument %d", i+1), a, maxUpstreamArgLen); err != nil {
				return u, err
			}
		}
		if len(u.Env) > maxUpstreamEnv {
			return u, invalidf("env: at most %d variables", maxUpstreamEnv)
		}
		for k, v := range u.Env {
			if err := validEnvName("env name", k); err != nil {
				return u, err
			}
			if err := noNUL("env "+k, v, maxUpstreamEnvVal); err != nil {
				return u, err
			}
		}
	case UpstreamHTTP, UpstreamSSE:
		if u.Command != "" || len(u.Args) > 0 || len(u.Env) > 0 {
			return u, invalidf("command: an %s upstream is reached at its URL; it has no command, arguments or environment", u.Transport)
		}
		if err := checkUpstreamURL(u.URL, u.NeedsCredentials()); err != nil {
			return u, err
		}
	default:
		return u, invalidf("transport %q: want %q, %q or %q", clip(string(u.Transport)), UpstreamStdio, UpstreamHTTP, UpstreamSSE)
	}
	seen := map[string]bool{}
	oauth := 0
	for i, c := range u.Credentials {
		field := fmt.Sprintf("credential %d", i+1)
		if err := validKind(c.Kind); err != nil {
			return u, invalidf("%s: %v", field, err)
		}
		if err := ValidateProviderName(c.Provider); err != nil {
			return u, invalidf("%s: %v", field, err)
		}
		if c.Kind == CredentialOAuth {
			oauth++
		}
		switch u.Transport {
		case UpstreamStdio:
			if c.Header != "" || c.Scheme != "" {
				return u, invalidf("%s: a stdio upstream takes credentials as environment variables, not headers", field)
			}
			if c.Kind == CredentialOAuth {
				return u, invalidf("%s: an OAuth connection goes to an http upstream as a bearer token; a stdio upstream takes API keys as environment variables", field)
			}
			if err := validEnvName(field+" env", c.Env); err != nil {
				return u, err
			}
			if _, dup := u.Env[c.Env]; dup {
				return u, invalidf("%s: env %s is also a plain variable", field, c.Env)
			}
			if seen[c.Env] {
				return u, invalidf("%s: env %s is set twice", field, c.Env)
			}
			seen[c.Env] = true
		default:
			if c.Env != "" {
				return u, invalidf("%s: an %s upstream takes credentials as headers, not environment variables", field, u.Transport)
			}
			if err := validHeaderName(field+" header", c.Header); err != nil {
				return u, err
			}
			h := http.CanonicalHeaderKey(c.Header)
			if seen[h] {
				return u, invalidf("%s: header %s is set twice", field, h)
			}
			seen[h] = true
			if c.Scheme != "" {
				if err := validHeaderName(field+" scheme", c.Scheme); err != nil {
					return u, err
				}
			}
		}
	}
	if oauth > 1 {
		return u, invalidf("credentials: at most one OAuth connection")
	}
	return u, nil
}

// GetUpstream returns one of a tenant's upstreams (ErrNotFound).
func (v *Vault) GetUpstream(ctx context.Context, tenantID, name string) (Upstream, error) {
	if err := ctx.Err(); err != nil {
		return Upstream{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return Upstream{}, err
	}
	if err := ValidateUpstreamName(name); err != nil {
		return Upstream{}, err
	}
	var u Upstream
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		u, err = getUpstream(tx, tenantID, name)
		return err
	})
	return u, err
}

func getUpstream(tx *bolt.Tx, tenantID, name string) (Upstream, error) {
	var u Upstream
	found, err := getJSON(tx.Bucket(bucketUpstreams), scoped(tenantID, name), &u)
	if err != nil {
		return u, err
	}
	if !found {
		return u, fmt.Errorf("upstream %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	return u, nil
}

// ListUpstreams returns a tenant's upstreams sorted by name (ErrNotFound
// if the tenant does not exist).
func (v *Vault) ListUpstreams(ctx context.Context, tenantID string) ([]Upstream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []Upstream{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketUpstreams), scoped(tenantID, ""), func(k, raw []byte) error {
			var u Upstream
			if err := json.Unmarshal(raw, &u); err != nil {
				return fmt.Errorf("decode upstream %q: %w", clip(string(k)), err)
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateUpstream stores a new upstream for a tenant (ErrExists;
// ErrNotFound if the tenant does not exist; ErrInvalid naming the field
// and rule). CreatedAt and UpdatedAt are set by the vault. Subscribers are
// told (UpstreamChanged) before it returns.
func (v *Vault) CreateUpstream(ctx context.Context, u Upstream) (Upstream, error) {
	return v.putUpstream(ctx, u, true)
}

// UpdateUpstream replaces an upstream's configuration (ErrNotFound,
// ErrInvalid as for create); CreatedAt is kept. Subscribers are told
// (UpstreamChanged): a running upstream restarts with the new settings.
func (v *Vault) UpdateUpstream(ctx context.Context, u Upstream) (Upstream, error) {
	return v.putUpstream(ctx, u, false)
}

func (v *Vault) putUpstream(ctx context.Context, u Upstream, create bool) (Upstream, error) {
	if err := ctx.Err(); err != nil {
		return Upstream{}, err
	}
	u, err := checkUpstream(u)
	if err != nil {
		return Upstream{}, err
	}
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, u.TenantID); err != nil {
			return err
		}
		b := tx.Bucket(bucketUpstreams)
		key := scoped(u.TenantID, u.Name)
		now := v.nowUTC()
		if create {
			if b.Get(key) != nil {
				return fmt.Errorf("upstream %q of tenant %q: %w", u.Name, u.TenantID, ErrExists)
			}
			u.CreatedAt = now
		} else {
			old, err := getUpstream(tx, u.TenantID, u.Name)
			if err != nil {
				return err
			}
			u.CreatedAt = old.CreatedAt
		}
		u.UpdatedAt = now
		announce(Change{Kind: UpstreamChanged, TenantID: u.TenantID, Upstream: u.Name})
		return putJSON(b, key, u)
	})
	if err != nil {
		return Upstream{}, err
	}
	return u, nil
}

// DeleteUpstream removes one of a tenant's upstreams (ErrNotFound).
// Subscribers are told (UpstreamChanged with UpstreamDeleted): its
// processes stop and its items leave the tenant.
func (v *Vault) DeleteUpstream(ctx context.Context, tenantID, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := ValidateUpstreamName(name); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getUpstream(tx, tenantID, name); err != nil {
			return err
		}
		announce(Change{Kind: UpstreamChanged, TenantID: tenantID, Upstream: name, UpstreamDeleted: true})
		return tx.Bucket(bucketUpstreams).Delete(scoped(tenantID, name))
	})
}
