// This file serves the daemon-level endpoints of the admin API:
// GET /api/v1/status (what `plexus status` shows) and POST /api/v1/shutdown
// (what `plexus stop` asks for). Both need the admin token like every other
// endpoint.

package adminapi

import (
	"net/http"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// System is the daemon-level part of Options. A nil func makes its endpoint
// answer 501.
type System struct {
	// Info describes the running daemon for GET /api/v1/status.
	Info func() DaemonInfo
	// Shutdown asks the daemon to stop gracefully and returns at once; the
	// daemon lets in-flight requests (this one included) finish.
	Shutdown func()
}

// DaemonInfo is what the daemon says about itself.
type DaemonInfo struct {
	PID       int           `json:"pid"`
	Version   string        `json:"version"`
	Addr      string        `json:"addr"` // host:port it listens on
	StartedAt time.Time     `json:"started_at"`
	DataDir   string        `json:"data_dir"`
	Key       vault.KeyInfo `json:"key"` // where the vault's master key is kept
}

// Status is the body of GET /api/v1/status.
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

// ShutdownResponse is the body of POST /api/v1/shutdown (202).
type ShutdownResponse struct {
	Status string `json:"status"` // "stopping"
	PID    int    `json:"pid,omitempty"`
}

func (a *api) status(w http.ResponseWriter, r *http.Request) error {
	if a.opts.System.Info == nil {
		a.writeJSONError(w, http.StatusNotImplemented, "this server has no daemon status")
		return nil
	}
	ts, err := a.store.ListTenants(r.Context())
	if err != nil {
		return err
	}
	st := Status{DaemonInfo: a.opts.System.Info(), Tenants: TenantSummary{Count: len(ts), IDs: make([]string, 0, len(ts))}}
	for _, t := range ts {
		st.Tenants.IDs = append(st.Tenants.IDs, t.ID)
	}
	if !st.StartedAt.IsZero() {
		st.UptimeSeconds = int64(time.Since(st.StartedAt) / time.Second)
	}
	st.KeyWarning = st.Key.Warning()
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (a *api) shutdown(w http.ResponseWriter, r *http.Request) error {
	if a.opts.System.Shutdown == nil {
		a.writeJSONError(w, http.StatusNotImplemented, "this server cannot be stopped through the admin API")
		return nil
	}
	resp := ShutdownResponse{Status: "stopping"}
	if a.opts.System.Info != nil {
		resp.PID = a.opts.System.Info().PID
	}
	a.log.InfoContext(r.Context(), "Shutdown requested through the admin API")
	writeJSON(w, http.StatusAccepted, resp)
	a.opts.System.Shutdown()
	return nil
}
