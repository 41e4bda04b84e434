package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/vault"
)

// MetricsPath is where the daemon serves its metrics (Prometheus text
// format) to holders of the admin token.
const MetricsPath = "/metrics"

// newTelemetry returns the daemon's metrics, with the vault check for the
// health report. Upstream supervisors report to it as a
// telemetry.UpstreamObserver.
func newTelemetry(version string, v *vault.Vault) *telemetry.Metrics {
	m := telemetry.New(telemetry.WithVersion(version))
	m.AddHealthCheck("vault", "vault", func(ctx context.Context) (telemetry.Status, string) {
		n, err := v.SchemaVersion(ctx)
		if err != nil {
			return telemetry.StatusDown, "the vault cannot be read (see the daemon log)"
		}
		return telemetry.StatusOK, fmt.Sprintf("open, schema version %d", n)
	})
	return m
}

// watchSessions adds the MCP server's active sessions to m: a gauge by
// tenant and a health component.
func watchSessions(m *telemetry.Metrics, s *mcpserver.Server) {
	m.GaugeFunc("plexus_mcp_sessions_active", "MCP sessions (protocol 2025-11-25 and older) used in the last 5 minutes, by tenant.",
		[]string{"tenant"}, func(emit func(float64, ...string)) {
			for tenant, n := range s.ActiveSessions() {
				emit(float64(n), tenant)
			}
		})
	m.AddHealthCheck("sessions", "mcp", func(context.Context) (telemetry.Status, string) {
		n := 0
		for _, c := range s.ActiveSessions() {
			n += c
		}
		return telemetry.StatusOK, fmt.Sprintf("%d active MCP sessions", n)
	})
}

// metricsHandler serves m to requests carrying an admin token (the
// metrics name tenants, tools and upstreams); /healthz stays open.
func metricsHandler(m *telemetry.Metrics, o adminapi.Options) http.Handler {
	return adminapi.Protect(m.Handler(), o)
}
