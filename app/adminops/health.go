// This file holds the detailed health report.

package adminops

import (
	"context"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/telemetry"
)

// Health reports the daemon's components (Options.System.Health: the
// vault, MCP sessions, upstream MCP servers) and the worst of their
// statuses (ErrUnsupported without Options.System.Health).
func (s *Service) Health(ctx context.Context) (apiv1.Health, error) {
	if s.opts.System.Health == nil {
		return apiv1.Health{}, unsupported("this server has no health report")
	}
	cs := s.opts.System.Health(ctx)
	h := apiv1.Health{Status: string(telemetry.Overall(cs)), Components: make([]apiv1.HealthComponent, 0, len(cs))}
	for _, c := range cs {
		hc := apiv1.HealthComponent{Kind: c.Kind, Name: c.Name, Status: string(c.Status), State: c.State, Detail: c.Detail}
		if !c.Since.IsZero() {
			since := c.Since.UTC()
			hc.Since = &since
		}
		h.Components = append(h.Components, hc)
	}
	return h, nil
}
