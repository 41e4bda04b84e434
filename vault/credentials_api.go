package vault

// Contract for issue 4 (credentials). The vault implementer replaces the
// stub bodies in credentials_stub.go; names, signatures and documented
// behaviour are the contract others code against.

import (
	"errors"
	"time"
)

// ErrExpired is returned by TakeOAuthState for a state past its expiry
// (the state is consumed all the same).
var ErrExpired = errors.New("expired")

// OAuthProvider is a tenant's external OAuth 2.1 provider (GitHub, Google,
// an internal IdP…). ClientSecret is sealed at rest (AAD
// "oauth-provider|<tenant>|<name>") and never marshalled to JSON.
type OAuthProvider struct {
	TenantID         string    `json:"entity_id"`
	Name             string    `json:"provider_name"` // same rules as a tenant id, without reserved words
	Preset           string    `json:"preset,omitempty"`
	ClientID         string    `json:"client_id"`
	ClientSecret     string    `json:"-"`
	AuthorizationURL string    `json:"authorization_url"`
	TokenURL         string    `json:"token_url"`
	UserinfoURL      string    `json:"userinfo_url,omitempty"`
	RevocationURL    string    `json:"revocation_url,omitempty"`
	Scopes           []string  `json:"scopes"`
	Resource         string    `json:"resource,omitempty"` // RFC 8707 resource indicator, sent on every token request
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
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
// single-use, expiring, bound to tenant, user (or a guest's session) and
// provider. Verifier (the PKCE code verifier) is sealed at rest.
type OAuthState struct {
	State     string    `json:"state"`
	TenantID  string    `json:"entity_id"`
	UserID    string    `json:"persistent_user_id,omitempty"` // "" for a guest
	SessionID string    `json:"session_id,omitempty"`         // the guest's (or caller's) session
	Provider  string    `json:"provider_name"`
	Scopes    []string  `json:"scopes,omitempty"`
	Verifier  string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ToolSettings is a tenant's choice of which tools and tool sets are off.
// The zero value enables everything.
type ToolSettings struct {
	DisabledTools    []string `json:"disabled_tools"`
	DisabledToolSets []string `json:"disabled_tool_sets"`
}
