package apiv1

import "time"

// Connection is a user's link to an external OAuth provider, without
// tokens.
type Connection struct {
	Provider  string    `json:"provider_name"`
	Status    string    `json:"status"` // "connected" or "expired"
	Scopes    []string  `json:"scopes,omitempty"`
	Expiry    time.Time `json:"expires_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
	// Refreshable is true when Plexus holds a refresh token, so the
	// access token's expiry passes unnoticed (it is renewed on use).
	Refreshable bool `json:"refreshable,omitempty"`
}

// APIKeyInfo names a user's stored API key, never its value.
type APIKeyInfo struct {
	Provider  string    `json:"provider_name"`
	UpdatedAt time.Time `json:"updated_at"`
	// Hint is the key's last characters, to recognise it ("3f9a", shown
	// as "•••• 3f9a"): at most 4, and at most a quarter of the key; ""
	// for a very short key or one that no longer opens.
	Hint string `json:"hint,omitempty"`
}

// ConnectionsResponse is the answer of
// GET /api/v1/tenants/{id}/users/{uid}/connections.
type ConnectionsResponse struct {
	Connections []Connection `json:"connections"`
	APIKeys     []APIKeyInfo `json:"api_keys"`
}

// APIKeyRequest is the body of
// PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}.
type APIKeyRequest struct {
	APIKeyValue string `json:"api_key_value"`
}

// APIKeySaved is the answer of
// PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}: the key's
// place, never the key.
type APIKeySaved struct {
	TenantID string `json:"entity_id"`
	Message  string `json:"message"`
	UserID   string `json:"persistent_user_id"`
	Provider string `json:"provider_name"`
}
