package oauth

// Contract for the external-OAuth engine. The implementer replaces the stub
// bodies (stub.go) and may split this file; exported names, signatures and
// documented behaviour are what mcpserver and app/adminapi code against.

import (
	"errors"
	"time"
)

// ErrConsentRequired means the owner has no usable token for the provider
// (never connected, disconnected, or the refresh token was refused): the
// user must go through the authorization URL again. Errors returned by a
// Client's requests wrap it too, so errors.Is works through *url.Error.
var ErrConsentRequired = errors.New("consent required")

// ErrUnknownProvider means the tenant has no provider by that name.
var ErrUnknownProvider = errors.New("unknown oauth provider")

// Owner says whose credential: a registered user's (persisted in the vault)
// or, when UserID is "", a guest's, which lives in the session SessionID and
// dies with it.
type Owner struct {
	TenantID  string
	UserID    string
	SessionID string
}

// Connection describes one owner's link to a provider, without tokens.
type Connection struct {
	Provider  string    `json:"provider_name"`
	Status    string    `json:"status"` // "connected" or "expired"
	Scopes    []string  `json:"scopes,omitempty"`
	Expiry    time.Time `json:"expires_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
	// Refreshable is true when Plexus holds a refresh token: the access
	// token's expiry then passes unnoticed (it is renewed on use).
	Refreshable bool `json:"refreshable,omitempty"`
}

// Preset is a well-known provider's endpoints and default scopes, so a user
// only pastes a client id and secret.
type Preset struct {
	Name             string   `json:"name"`
	DisplayName      string   `json:"display_name"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	UserinfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	Scopes           []string `json:"scopes"`
	// APIOrigins are the origins the provider's access tokens may be sent
	// to (scheme://host[:port]); tokens go nowhere else.
	APIOrigins []string `json:"api_origins"`
}
