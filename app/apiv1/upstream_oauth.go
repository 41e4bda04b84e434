package apiv1

// UpstreamOAuthRequest asks Plexus to be the OAuth client of an http (or
// sse) upstream MCP server that requires OAuth (MCP authorization): the
// daemon asks the upstream without a token, finds its authorization
// server from the 401 (RFC 9728, RFC 8414), registers itself there (RFC
// 7591) unless ClientID is given, and keeps the result as the tenant's
// OAuth provider Provider (default: the upstream's name), bound to the
// upstream: its tokens go only to the upstream's origin, with the
// upstream's resource indicator (RFC 8707). Each user then connects their
// own account through the consent link the upstream's tools answer with
// until they do. Sent again (an update), discovery runs again.
type UpstreamOAuthRequest struct {
	Provider string `json:"provider_name,omitempty"`
	// ClientID and ClientSecret are a client registered at the
	// authorization server by hand (ClientSecret "" for a public one);
	// without ClientID, Plexus registers itself.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes replace the scopes the upstream asks for, when given.
	Scopes []string `json:"scopes,omitempty"`
}

// UpstreamOAuth is how Plexus authorizes at an upstream that requires
// OAuth, as the API shows it (never the client secret).
type UpstreamOAuth struct {
	Provider         string   `json:"provider_name"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	ClientID         string   `json:"client_id"`
	Resource         string   `json:"resource"`
	Scopes           []string `json:"scopes"`
	// RedirectURL is the callback Plexus registered (or that must be
	// registered with a client made by hand).
	RedirectURL string `json:"redirect_url,omitempty"`
}
