package apiv1

import "time"

// TOTP gates and tool search (issue 11). A gate locks one of a tenant's
// tool sets behind a one-time code from an authenticator app: its tools
// answer "locked" until the MCP session unlocks it (plexus_gate_unlock).
// Tool search lists plexus_search_tools and plexus_call_tool in the
// tenant, for clients that ignore tools/list_changed.

// GateRequest is the body of POST /api/v1/tenants/{id}/gates (create and
// enroll) and PUT /api/v1/tenants/{id}/gates/{tool_set} (settings;
// ToolSet comes from the path). Zero minutes mean the default (15).
type GateRequest struct {
	ToolSet          string `json:"tool_set,omitempty"`
	UnlockForMinutes int    `json:"unlock_for_minutes,omitempty"`
	CoolOffMinutes   int    `json:"cool_off_minutes,omitempty"`
}

// Gate is a tenant's gate as the API shows it; it never carries the
// secret.
type Gate struct {
	TenantID         string `json:"entity_id"`
	ToolSet          string `json:"tool_set"`
	UnlockForMinutes int    `json:"unlock_for_minutes"`
	CoolOffMinutes   int    `json:"cool_off_minutes"`
	// Failures counts wrong codes in a row (5 start the cooling-off).
	Failures int `json:"failures"`
	// CoolingUntil is set while the gate takes no code.
	CoolingUntil *time.Time `json:"cooling_until,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
}

// GateEnrollment is the answer to creating a gate or enrolling it again:
// the only time its secret is shown. OTPAuthURI is what the QR code
// holds; Secret is the same key in base32, to type into an authenticator
// app by hand.
type GateEnrollment struct {
	Gate       Gate   `json:"gate"`
	OTPAuthURI string `json:"otpauth_uri"`
	Secret     string `json:"secret"`
}

// GateBody wraps one gate.
type GateBody struct {
	Gate Gate `json:"gate"`
}

// GateList is the answer to GET /api/v1/tenants/{id}/gates: the tenant's
// gates and whether its tool search is on.
type GateList struct {
	SearchTools bool   `json:"search_tools"`
	Gates       []Gate `json:"gates"`
}

// ToolSearchRequest is the body of PUT /api/v1/tenants/{id}/tool-search.
type ToolSearchRequest struct {
	Enabled bool `json:"enabled"`
}
