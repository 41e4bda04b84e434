package adminops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
)

func TestHealth(t *testing.T) {
	if _, err := adminops.New(nil, adminops.Options{}).Health(t.Context()); !errors.Is(err, adminops.ErrUnsupported) {
		t.Fatalf("without System.Health: %v, want ErrUnsupported", err)
	}
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("x", 3600))
	m := telemetry.New(telemetry.WithClock(func() time.Time { return since }))
	m.AddHealthCheck("vault", "vault", func(context.Context) (telemetry.Status, string) { return telemetry.StatusOK, "open" })
	m.UpstreamState("acme", "files", telemetry.UpstreamBackoff, "exited with status 1; restarting in 2s")
	s, _ := newOps(t, adminops.Options{System: adminops.System{Health: m.Health}})
	h, err := s.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != apiv1.HealthDegraded || len(h.Components) != 2 {
		t.Fatalf("health %+v", h)
	}
	up := h.Components[0]
	if up.Kind != "upstream" || up.Name != "acme/files" || up.State != "backoff" || up.Status != apiv1.HealthDegraded ||
		up.Since == nil || !up.Since.Equal(since) || up.Since.Location() != time.UTC {
		t.Errorf("upstream %+v", up)
	}
	if v := h.Components[1]; v.Kind != "vault" || v.Since != nil || v.Detail != "open" {
		t.Errorf("vault %+v", v)
	}
	m.UpstreamState("acme", "files", telemetry.UpstreamFailed, "gave up")
	if h, _ := s.Health(t.Context()); h.Status != apiv1.HealthDown {
		t.Errorf("with a failed upstream: %s, want down", h.Status)
	}
}
