package telemetry_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry/telemetrytest"
)

func scrape(t *testing.T, m *telemetry.Metrics) map[string]*telemetrytest.Family {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != telemetry.ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	fams, err := telemetrytest.Parse(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

func one(t *testing.T, f *telemetrytest.Family, name string, labels map[string]string) float64 {
	t.Helper()
	if f == nil {
		t.Fatalf("no family for %s", name)
	}
	ss := f.Find(name, labels)
	if len(ss) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, labels, len(ss))
	}
	return ss[0].Value
}

func TestToolCallMetrics(t *testing.T) {
	m := telemetry.New(telemetry.WithVersion("1.2.3"))
	m.ToolCall("acme", "plexus_whoami", telemetry.OK, 2*time.Millisecond)
	m.ToolCall("acme", "plexus_whoami", telemetry.OK, 3*time.Second)
	m.ToolCall("acme", "plexus_whoami", telemetry.InvalidArguments, time.Millisecond)
	m.ToolCall("beta", "weather", telemetry.CredentialRequired, 0)
	m.ToolCall("beta", "weather", telemetry.Failed, 100*time.Second)

	fams := scrape(t, m)
	calls := fams["plexus_tool_calls_total"]
	for _, tc := range []struct {
		tenant, tool, outcome string
		want                  float64
	}{
		{"acme", "plexus_whoami", "ok", 2},
		{"acme", "plexus_whoami", "invalid_arguments", 1},
		{"beta", "weather", "credential_required", 1},
		{"beta", "weather", "error", 1},
	} {
		if got := one(t, calls, "plexus_tool_calls_total", map[string]string{"tenant": tc.tenant, "tool": tc.tool, "outcome": tc.outcome}); got != tc.want {
			t.Errorf("%s/%s/%s = %v, want %v", tc.tenant, tc.tool, tc.outcome, got, tc.want)
		}
	}
	if n := len(calls.Find("plexus_tool_calls_total", map[string]string{"outcome": "tool_error"})); n != 0 {
		t.Errorf("%d tool_error series for outcomes never seen", n)
	}
	h := fams["plexus_tool_call_duration_seconds"]
	lbl := map[string]string{"tenant": "acme", "tool": "plexus_whoami"}
	if got := one(t, h, "plexus_tool_call_duration_seconds_count", lbl); got != 3 {
		t.Errorf("count %v, want 3", got)
	}
	if got := one(t, h, "plexus_tool_call_duration_seconds_bucket", map[string]string{"tenant": "acme", "tool": "plexus_whoami", "le": "0.001"}); got != 1 {
		t.Errorf("bucket le=0.001 %v, want 1 (a call of exactly 1ms is <= 0.001)", got)
	}
	if got := one(t, h, "plexus_tool_call_duration_seconds_bucket", map[string]string{"tenant": "acme", "tool": "plexus_whoami", "le": "2.5"}); got != 2 {
		t.Errorf("bucket le=2.5 %v, want 2", got)
	}
	if got := one(t, h, "plexus_tool_call_duration_seconds_sum", lbl); got < 3.0029 || got > 3.0031 {
		t.Errorf("sum %v, want 3.003", got)
	}
	if got := one(t, h, "plexus_tool_call_duration_seconds_bucket", map[string]string{"tenant": "beta", "tool": "weather", "le": "60"}); got != 1 {
		t.Errorf("beta le=60 %v, want 1 (the 100s call is only in +Inf)", got)
	}
	if got := one(t, fams["plexus_build_info"], "plexus_build_info", map[string]string{"version": "1.2.3"}); got != 1 {
		t.Errorf("build info %v", got)
	}

	m.ForgetTenant("beta")
	fams = scrape(t, m)
	if n := len(fams["plexus_tool_calls_total"].Find("plexus_tool_calls_total", map[string]string{"tenant": "beta"})); n != 0 {
		t.Errorf("forgotten tenant still has %d series", n)
	}
}

func TestUpstreamMetricsAndHealth(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	m := telemetry.New(telemetry.WithClock(func() time.Time { return now }))
	var obs telemetry.UpstreamObserver = m
	obs.UpstreamState("acme", "github", telemetry.UpstreamReady, "")
	obs.UpstreamState("acme", "files", telemetry.UpstreamStarting, "")
	obs.UpstreamRestarted("acme", "files")
	obs.UpstreamRestarted("acme", "files")
	obs.UpstreamState("acme", "files", telemetry.UpstreamFailed, "exited with status 1")
	obs.UpstreamState("acme", "gone", telemetry.UpstreamReady, "")
	obs.UpstreamRemoved("acme", "gone")

	fams := scrape(t, m)
	if got := one(t, fams["plexus_upstream_restarts_total"], "plexus_upstream_restarts_total", map[string]string{"tenant": "acme", "upstream": "files"}); got != 2 {
		t.Errorf("restarts %v, want 2", got)
	}
	st := fams["plexus_upstream_state"]
	if got := one(t, st, "plexus_upstream_state", map[string]string{"upstream": "files", "state": "failed"}); got != 1 {
		t.Errorf("files failed = %v, want 1", got)
	}
	if got := one(t, st, "plexus_upstream_state", map[string]string{"upstream": "files", "state": "ready"}); got != 0 {
		t.Errorf("files ready = %v, want 0", got)
	}
	if n := len(st.Find("plexus_upstream_state", map[string]string{"upstream": "gone"})); n != 0 {
		t.Errorf("removed upstream still listed (%d)", n)
	}

	m.AddHealthCheck("vault", "vault", func(context.Context) (telemetry.Status, string) { return telemetry.StatusOK, "" })
	cs := m.Health(t.Context())
	want := []string{"upstream acme/files down failed", "upstream acme/github ok ready", "vault vault ok "}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s %s %s %s", c.Kind, c.Name, c.Status, c.State))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("health\n got %q\nwant %q", got, want)
	}
	if cs[0].Detail != "exited with status 1" || !cs[0].Since.Equal(now) {
		t.Errorf("files: %+v", cs[0])
	}
	if telemetry.Overall(cs) != telemetry.StatusDown {
		t.Errorf("overall %s, want down", telemetry.Overall(cs))
	}
}

func TestGaugeFuncAndEscaping(t *testing.T) {
	m := telemetry.New()
	m.GaugeFunc("plexus_mcp_sessions_active", "Sessions.", []string{"tenant"}, func(emit func(float64, ...string)) {
		emit(3, "acme")
		emit(1, "we\"ird\\ten\nant")
		emit(9) // wrong label count: skipped
	})
	fams := scrape(t, m)
	g := fams["plexus_mcp_sessions_active"]
	if got := one(t, g, "plexus_mcp_sessions_active", map[string]string{"tenant": "we\"ird\\ten\nant"}); got != 1 {
		t.Errorf("escaped tenant %v", got)
	}
	if len(g.Samples) != 2 {
		t.Errorf("%d samples, want 2", len(g.Samples))
	}
}

func TestSeriesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("scrapes 170,000 lines; slow under -race")
	}
	m := telemetry.New()
	for i := range telemetry.MaxSeries + 50 {
		m.ToolCall("acme", fmt.Sprintf("tool_%d", i), telemetry.OK, 0)
	}
	fams := scrape(t, m)
	if got := one(t, fams["plexus_tool_calls_total"], "plexus_tool_calls_total", map[string]string{"tool": telemetry.OtherTool}); got != 50 {
		t.Errorf("_other = %v, want 50", got)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *telemetry.Metrics
	m.ToolCall("a", "b", telemetry.OK, 0)
	m.UpstreamState("a", "b", telemetry.UpstreamReady, "")
	m.UpstreamRestarted("a", "b")
	m.UpstreamRemoved("a", "b")
	if m.Health(t.Context()) != nil {
		t.Error("nil metrics has health")
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"x 1\n",
		"# HELP x h\n# TYPE x counter\ny 1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"\\q\"} 1\n",
		"# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_count 1\n",
		"# HELP x h\n# TYPE x counter\nx -1\n",
	} {
		if _, err := telemetrytest.Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
}
