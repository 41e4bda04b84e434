package apiv1

import "time"

// Health statuses, of the daemon as a whole and of each component.
const (
	HealthOK       = "ok"
	HealthDegraded = "degraded" // works, with a problem worth a look
	HealthDown     = "down"
)

// Health is the answer of GET /api/v1/health: the daemon's components
// (the vault, MCP sessions, each tenant's upstream MCP servers) and how
// they are. Status is the worst of theirs. Unlike GET /healthz it needs
// the admin token: it names tenants and upstreams.
type Health struct {
	Status     string            `json:"status"`
	Components []HealthComponent `json:"components"`
}

// HealthComponent is one part of the daemon.
type HealthComponent struct {
	// Kind is "vault", "sessions" or "upstream".
	Kind string `json:"kind"`
	// Name names it within its kind; an upstream is "<tenant>/<name>".
	Name   string `json:"name"`
	Status string `json:"status"`
	// State is the component's own word for where it is; for an upstream:
	// starting, ready, backoff, failed or stopped.
	State string `json:"state,omitempty"`
	// Detail is one plain sentence: why it failed, how many sessions.
	Detail string `json:"detail,omitempty"`
	// Since is when it entered State, when known.
	Since *time.Time `json:"since,omitempty"`
}
