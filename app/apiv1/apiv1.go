// Package apiv1 holds the wire types of Plexus's admin API at /api/v1: the
// JSON of every request and answer, and the one error body
// {"error": "..."}. The daemon's handlers (app/adminapi, through the
// operations of app/adminops) and their client (app/localclient) both
// import it, so they cannot disagree on a field.
//
// Nothing here is stored. The vault keeps records of its own types and the
// operations convert between the two explicitly, so renaming or adding a
// field here changes the API and never the file format, and the vault can
// change its records without changing what the CLI and scripts parse.
// Renaming a JSON name here does break them: the golden answers in
// app/adminapi/testdata/api pin every one.
//
// The package imports no other Plexus package and holds no secrets
// beyond the fields that carry one once (a new host-app secret, a new
// user token, a client secret or API key being sent).
package apiv1

import "time"

// Error is the body of every error answer, with the HTTP status saying
// which kind of error it is (400 bad request, 401 no or wrong admin token,
// 404 not found, 409 exists, 413 body too large, 501 not supported here).
type Error struct {
	Message string `json:"error"`
}

// FieldError is a request field whose value was refused. Field names it as
// the JSON does ("entity_id", "client_secret", "scopes"), so a form can
// show the message next to its input; Error is the message in plain words
// (it names the field too, as the admin API answers it).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// LocalOwner, in place of a persistent user id in a path, names the
// tenant's local owner: the person at this machine, whom `plexus stdio`
// (Claude Desktop) acts as. No registered user can have it as an id.
const LocalOwner = "local-owner"

// Tenant is a tenant as the API shows it (never its host-app secret).
type Tenant struct {
	ID        string    `json:"entity_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// HasHostAppSecret is true when the tenant has its own host-app secret.
	HasHostAppSecret bool `json:"has_host_app_secret"`
}

// CreateTenantRequest is the body of POST /api/v1/tenants. An empty Name
// defaults to the id.
type CreateTenantRequest struct {
	ID   string `json:"entity_id"`
	Name string `json:"name"`
}

// UpdateTenantRequest is the body of PATCH /api/v1/tenants/{id}.
type UpdateTenantRequest struct {
	Name *string `json:"name"`
}

// TenantBody is the answer of GET and PATCH /api/v1/tenants/{id}.
type TenantBody struct {
	Tenant Tenant `json:"tenant"`
}

// TenantList is the answer of GET /api/v1/tenants, sorted by id.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

// TenantSecret is the answer of POST /api/v1/tenants (201) and POST
// /api/v1/tenants/{id}/host-app-secret: the tenant with its new host-app
// secret, shown this once (the vault keeps only its hash).
type TenantSecret struct {
	Tenant        Tenant `json:"tenant"`
	HostAppSecret string `json:"host_app_secret"`
}

// User is a person registered in a tenant by a host application (or the
// tenant's local owner).
type User struct {
	TenantID   string    `json:"entity_id"`
	ID         string    `json:"persistent_user_id"`
	HostUserID string    `json:"user_id_from_host_app"`
	CreatedAt  time.Time `json:"created_at"`
}

// UserList is the answer of GET /api/v1/tenants/{id}/users.
type UserList struct {
	Users []User `json:"users"`
}

// CreateUserRequest is the body of POST /api/v1/tenants/{id}/users.
type CreateUserRequest struct {
	HostUserID string `json:"user_id_from_host_app"`
}

// UserToken is the answer of POST /api/v1/tenants/{id}/users, the admin
// twin of register-user: a new user token, shown this once.
type UserToken struct {
	Token     string    `json:"plexus_user_auth_token"`
	UserID    string    `json:"persistent_user_id"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero = never
	Message   string    `json:"message"`
}

// TokenInfo describes a user token, never the token itself.
type TokenInfo struct {
	ID        string    `json:"token_id"` // short, non-secret id
	TenantID  string    `json:"entity_id"`
	UserID    string    `json:"persistent_user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero = never
	Revoked   bool      `json:"revoked"`
}

// State is "revoked", "expired" (at now) or "active".
func (t TokenInfo) State(now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// TokenList is the answer of GET /api/v1/tenants/{id}/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// Session is an active MCP session of a tenant as the admin operations
// show it: named by Ref (the hash of its id, not secret) and Fingerprint
// (Ref's first 8 hex digits, what plexus_whoami shows), never by its id.
type Session struct {
	Ref         string `json:"session_ref"`
	Fingerprint string `json:"fingerprint"`
	// UserID is the user's persistent id; "" for a guest (no token).
	UserID     string `json:"persistent_user_id,omitempty"`
	HostUserID string `json:"user_id_from_host_app,omitempty"`
	// LocalOwner is true for the person at this machine (plexus stdio).
	LocalOwner bool `json:"local_owner,omitempty"`
	// Client is the app as it names itself ("Claude 0.12"), when it did.
	Client    string    `json:"client,omitempty"`
	Protocol  string    `json:"protocol_version"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// SessionList is a tenant's active sessions, the most recently used
// first; Total counts them all when the list was cut short.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Total    int       `json:"total"`
}
