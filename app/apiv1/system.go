package apiv1

import "time"

// KeyInfo says where the vault's master key is kept.
type KeyInfo struct {
	// Source is "keyring", "env" (PLEXUS_MASTER_KEY), "passphrase" or
	// "file".
	Source string `json:"source"`
	// File is the key file's path when Source is "file" and it is known.
	File string `json:"file,omitempty"`
}

// DaemonInfo is what the daemon says about itself.
type DaemonInfo struct {
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Addr      string    `json:"addr"` // host:port it listens on
	StartedAt time.Time `json:"started_at"`
	DataDir   string    `json:"data_dir"`
	Key       KeyInfo   `json:"key"`
}

// Status is the answer of GET /api/v1/status.
type Status struct {
	DaemonInfo
	UptimeSeconds int64 `json:"uptime_seconds"`
	// KeyWarning is one line of advice when the master key is weakly kept
	// (a plain key file), else empty.
	KeyWarning string        `json:"key_warning,omitempty"`
	Tenants    TenantSummary `json:"tenants"`
}

// TenantSummary counts and names the tenants.
type TenantSummary struct {
	Count int      `json:"count"`
	IDs   []string `json:"ids"`
}

// ShutdownResponse is the answer of POST /api/v1/shutdown (202).
type ShutdownResponse struct {
	Status string `json:"status"` // "stopping"
	PID    int    `json:"pid,omitempty"`
}

// UILoginPath is the admin UI's login path; the ticket goes in its
// "ticket" query parameter.
const UILoginPath = "/ui/login"

// LoginTicket is the body of POST /api/v1/ui/login-ticket (201): a
// single-use login link for the admin UI, minted for `plexus open` and the
// desktop window, which hold the admin token (the token itself never goes
// into a URL). It works once and only until ExpiresAt (within a minute).
type LoginTicket struct {
	// LoginPath is the path (with the ticket) to open on the daemon's
	// origin, e.g. /ui/login?ticket=plxt_…; the caller prefixes the base
	// URL it reached the daemon at.
	LoginPath string    `json:"login_path"`
	ExpiresAt time.Time `json:"expires_at"`
}
