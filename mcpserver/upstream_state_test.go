//go:build unix

package mcpserver

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
)

// TestUpstreamStateInMetricsAndHealth (issue 11, line 8): each upstream's
// state and its restarts after a crash reach /metrics and the detailed
// health report; a removed upstream leaves both.
func TestUpstreamStateInMetricsAndHealth(t *testing.T) {
	m := telemetry.New()
	e := newUpstreamEnv(t, WithMetrics(m))
	e.addUpstream(testUpstream(t, "acme", "test"))
	u := testUpstream(t, "acme", "broken")
	u.Command = "/nonexistent/plexus-test-upstream"
	e.addUpstream(u)
	c := e.client("acme", localToken, legacy)
	if text, _ := c.call(t, "test__echo", map[string]any{"message": "hi"}); text != "hi" {
		t.Fatalf("echo = %q", text)
	}
	health := func(name string) telemetry.Component {
		for _, c := range m.Health(t.Context()) {
			if c.Kind == "upstream" && c.Name == name {
				return c
			}
		}
		return telemetry.Component{}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s; health: %+v", what, m.Health(t.Context()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("acme/test is not ready", func() bool { return health("acme/test").State == string(telemetry.UpstreamReady) })
	waitFor("acme/broken is not in backoff", func() bool { return health("acme/broken").State == string(telemetry.UpstreamBackoff) })
	if b := health("acme/broken"); b.Status != telemetry.StatusDegraded || !strings.Contains(b.Detail, "/nonexistent/plexus-test-upstream") {
		t.Fatalf("broken upstream: %+v", b)
	}
	// A crash: the upstream restarts after its backoff, and /metrics
	// counts the restart.
	c.call(t, "test__crash", nil)
	waitFor("acme/test did not come back", func() bool {
		return strings.Contains(metricsText(t, m), `plexus_upstream_restarts_total{tenant="acme",upstream="test"} 1`) &&
			health("acme/test").State == string(telemetry.UpstreamReady)
	})
	if text := metricsText(t, m); !strings.Contains(text, `plexus_upstream_state{tenant="acme",upstream="test",state="ready"} 1`) {
		t.Fatalf("metrics:\n%s", text)
	}
	if err := e.v.DeleteUpstream(t.Context(), "acme", "test"); err != nil {
		t.Fatal(err)
	}
	waitFor("a removed upstream stays in the health report", func() bool { return health("acme/test").Name == "" })
	if text := metricsText(t, m); strings.Contains(text, `upstream="test"`) {
		t.Fatalf("a removed upstream stays in /metrics:\n%s", text)
	}
}

func metricsText(t *testing.T, m *telemetry.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}
