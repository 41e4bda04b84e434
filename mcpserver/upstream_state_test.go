//go:build unix

package mcpserver

import (
	"io"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
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

// TestUpstreamHungAtStartHoldsNoOneElse (issue 11, line 2): an upstream
// that never answers its handshake (here /bin/sleep) holds neither another
// tenant's calls nor the same tenant's calls of its other upstreams.
func TestUpstreamHungAtStartHoldsNoOneElse(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	e := newUpstreamEnv(t)
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "hung", Transport: vault.UpstreamStdio, Command: sleep, Args: []string{"3600"}})
	e.addUpstream(testUpstream(t, "acme", "test"))
	e.addUpstream(testUpstream(t, "beta", "test"))
	for _, c := range []struct{ tenant, what string }{{"beta", "another tenant"}, {"acme", "another upstream of the same tenant"}} {
		began := time.Now()
		if text, _ := e.client(c.tenant, localToken, legacy).call(t, "test__echo", map[string]any{"message": "free"}); text != "free" {
			t.Fatalf("%s: echo = %q", c.what, text)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("a call to %s took %s while an upstream hung at start", c.what, d)
		}
	}
	st, _ := e.srv.UpstreamState(t.Context(), "acme", "hung", 0)
	if len(st.Instances) != 1 || st.Instances[0].State != upstream.StateStarting {
		t.Fatalf("hung upstream: %+v", st.Instances)
	}
}
