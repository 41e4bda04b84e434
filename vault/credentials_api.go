package vault

// Contract for issue 4 (credentials). The vault implementer replaces the
// stub bodies in credentials_stub.go; names, signatures and documented
// behaviour are the contract others code against.

import (
	"errors"
	"time"
)

// ErrExpired is returned by TakeOAuthState for a state past its expiry
// (the state is consumed all the same), and by GetOAuthConsent and
// TakeOAuthConsent for an expired consent link.
var ErrExpired = errors.New("expired")

// ErrConflict is returned by the compare-and-swap writes (PutCredentialIf,
// DeleteCredentialIf, SwapSessionValue) when the record changed since the
// caller read it: nothing was written.
var ErrConflict = errors.New("changed since read")

// ErrBrowserMismatch is returned by TakeOAuthState when the request does
// not carry the browser binding the state was made for (the consent
// cookie): the state is not consumed.
var ErrBrowserMismatch = errors.New("oauth state belongs to another browser")

// OAuthProvider is a tenant's external OAuth 2.1 provider (GitHub, Google,
// an internal IdP…). ClientSecret is sealed at rest (AAD
// "oauth-provider|<tenant>|<name>|<Binding()>") and never marshalled to
// JSON: where a secret goes is part of the secret, so a record whose
// endpoints, client id or API origins were edited on disk does not open.
type OAuthProvider struct {
	TenantID         string   `json:"entity_id"`
	Name             string   `json:"provider_name"` // same rules as a tenant id, without reserved words
	Preset           string   `json:"preset,omitempty"`
	ClientID         string   `json:"client_id"`
	ClientSecret     string   `json:"-"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	UserinfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	Scopes           []string `json:"scopes"`
	Resource         string   `json:"resource,omitempty"` // RFC 8707 resource indicator, sent on every token request
	// APIOrigins are the origins (scheme://host[:port], canonical, sorted)
	// the provider's access tokens may be sent to; nothing else gets them.
	APIOrigins []string  `json:"api_origins"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CredentialKind says what a stored credential is.
type CredentialKind string

// Credential kinds.
const (
	CredentialOAuth  CredentialKind = "oauth"   // value: JSON of an OAuth token set (mcpserver/oauth owns the format)
	CredentialAPIKey CredentialKind = "api_key" // value: the key itself
)

// CredentialInfo names a stored credential without its value.
type CredentialInfo struct {
	TenantID  string         `json:"entity_id"`
	UserID    string         `json:"persistent_user_id"`
	Kind      CredentialKind `json:"kind"`
	Provider  string         `json:"provider_name"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// OAuthState is one pending authorization (the `state` parameter): random,
// single-use, expiring, bound to tenant, user (or a guest's session),
// provider and the browser that approved it. The state string and the
// browser binding are stored only as SHA-256 hashes; Verifier (the PKCE
// code verifier) is sealed at rest.
type OAuthState struct {
	State     string   `json:"-"`
	TenantID  string   `json:"entity_id"`
	UserID    string   `json:"persistent_user_id,omitempty"` // "" for a guest
	SessionID string   `json:"session_id,omitempty"`         // the guest's (or caller's) session
	Provider  string   `json:"provider_name"`
	Scopes    []string `json:"scopes,omitempty"`
	// Tool is the tool whose call asked for the connection ("": the
	// person pressed Connect in Plexus), for the pages to say where to
	// go back to.
	Tool     string `json:"tool,omitempty"`
	Verifier string `json:"-"`
	// Browser is the secret of the consent cookie set in the browser that
	// approved; TakeOAuthState needs it back. Stored as its SHA-256 only.
	Browser string `json:"-"`
	// ProviderBinding is the provider's Binding() when the flow started;
	// the callback refuses the state if the provider changed since.
	ProviderBinding string    `json:"provider_binding,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
}

// OAuthConsent is a pending consent link (the Plexus page a tool result
// points to): random, single-use, expiring, bound to tenant, user (or a
// guest's session) and provider, with what the page shows (the tool and
// the MCP client asking). ID is stored only as its SHA-256.
type OAuthConsent struct {
	ID        string    `json:"-"`
	TenantID  string    `json:"entity_id"`
	UserID    string    `json:"persistent_user_id,omitempty"` // "" for a guest
	SessionID string    `json:"session_id,omitempty"`
	Provider  string    `json:"provider_name"`
	Scopes    []string  `json:"scopes,omitempty"`
	Tool      string    `json:"tool,omitempty"`
	Client    string    `json:"client,omitempty"` // the MCP client's name, as it calls itself
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ToolSettings is a tenant's choice of which tools and tool sets are off.
// The zero value enables everything.
type ToolSettings struct {
	DisabledTools    []string `json:"disabled_tools"`
	DisabledToolSets []string `json:"disabled_tool_sets"`
	// SearchTools is the tenant's tool-search switch (plexus_search_tools
	// and plexus_call_tool). GetToolSettings fills it in; it is set with
	// SetToolSearch and PutToolSettings leaves it as it is.
	SearchTools bool `json:"-"`
}
