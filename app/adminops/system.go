// This file holds the daemon-level operations: status and shutdown.

package adminops

import (
	"context"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// Status says what the daemon says about itself, where its vault's key is
// kept and which tenants it serves (ErrUnsupported without
// Options.System.Info).
func (s *Service) Status(ctx context.Context) (apiv1.Status, error) {
	if s.opts.System.Info == nil {
		return apiv1.Status{}, unsupported("this server has no daemon status")
	}
	ts, err := s.store.ListTenants(ctx)
	if err != nil {
		return apiv1.Status{}, wrapf(err, "list tenants")
	}
	info := s.opts.System.Info()
	st := apiv1.Status{
		DaemonInfo: apiv1.DaemonInfo{PID: info.PID, Version: info.Version, Addr: info.Addr, StartedAt: info.StartedAt,
			DataDir: info.DataDir, Key: keyView(info.Key)},
		KeyWarning: info.Key.Warning(),
		Tenants:    apiv1.TenantSummary{Count: len(ts), IDs: make([]string, 0, len(ts))},
	}
	for _, t := range ts {
		st.Tenants.IDs = append(st.Tenants.IDs, t.ID)
	}
	if !info.StartedAt.IsZero() {
		st.UptimeSeconds = int64(s.now().Sub(info.StartedAt) / time.Second)
	}
	return st, nil
}

// Shutdown asks the daemon to stop gracefully and returns at once
// (ErrUnsupported without Options.System.Shutdown). The daemon lets
// in-flight requests finish, so the caller's answer still goes out.
func (s *Service) Shutdown(ctx context.Context) (apiv1.ShutdownResponse, error) {
	if s.opts.System.Shutdown == nil {
		return apiv1.ShutdownResponse{}, unsupported("this server cannot be stopped through the admin API")
	}
	resp := apiv1.ShutdownResponse{Status: "stopping"}
	if s.opts.System.Info != nil {
		resp.PID = s.opts.System.Info().PID
	}
	s.log.InfoContext(ctx, "Shutdown requested through the admin API")
	s.opts.System.Shutdown()
	return resp, nil
}
