package mcpserver

// The state of each upstream for /metrics and the detailed health report
// (telemetry.UpstreamObserver, fed by the server's metrics): one state per
// upstream of a tenant, the worst of its sessions', and a count of
// restarts after failures.

import (
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
)

// upstreamObserver is where upstream states go: the server's metrics (a
// nil *telemetry.Metrics drops them).
func (h *upstreamHub) observer() telemetry.UpstreamObserver { return h.s.metrics }

// stateRank orders the states of an upstream's sessions: the worst one
// (highest rank) is the upstream's.
func stateRank(s upstream.State) int {
	switch s {
	case upstream.StateBackoff:
		return 4
	case upstream.StateStarting:
		return 3
	case upstream.StateRunning:
		return 2
	case upstream.StateStopped:
		return 1
	}
	return 0 // closed
}

// telemetryState maps an Instance's state to the observer's word.
func telemetryState(s upstream.State) telemetry.UpstreamState {
	switch s {
	case upstream.StateBackoff:
		return telemetry.UpstreamBackoff
	case upstream.StateStarting:
		return telemetry.UpstreamStarting
	case upstream.StateRunning:
		return telemetry.UpstreamReady
	}
	return telemetry.UpstreamStopped
}

// reportState tells the observer how m is doing now: the worst state of
// its sessions (stopped when none runs), with the last error of a failed
// one. A mount that was removed or replaced reports nothing.
func (m *mount) reportState() {
	obs := m.h.observer()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	worst, detail := upstream.StateStopped, m.waiting
	for _, in := range m.instances {
		st := in.Status()
		if stateRank(st.State) > stateRank(worst) {
			worst = st.State
			if st.LastError != "" || worst == upstream.StateBackoff {
				detail = st.LastError
			}
		}
	}
	m.mu.Unlock()
	if worst == upstream.StateRunning {
		detail = ""
	}
	obs.UpstreamState(m.tenant, m.cfg.Name, telemetryState(worst), detail)
}

// reportRestart counts a restart of one of m's sessions after a failure.
func (m *mount) reportRestart() { m.h.observer().UpstreamRestarted(m.tenant, m.cfg.Name) }

// reportRemoved forgets m's state (the upstream was removed).
func (m *mount) reportRemoved() { m.h.observer().UpstreamRemoved(m.tenant, m.cfg.Name) }

// failedToList reports whether m will not list its items soon: it has
// none yet and its start failed (it waits for its backoff) or it waits
// for a credential. UpstreamState stops waiting then, so an admin
// request adding a broken upstream answers at once with why.
func (m *mount) failedToList() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.known {
		return false
	}
	if m.waiting != "" {
		return true
	}
	for _, in := range m.instances {
		if in.Status().State == upstream.StateBackoff {
			return true
		}
	}
	return false
}
