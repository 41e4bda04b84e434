// This file holds the TOTP gate and tool-search operations (issue 11):
// put a gate on a tool set (enrolling a secret, shown once), enroll it
// again, change its unlock time and cooling-off, remove it, list them, and
// turn the tenant's tool search on or off. Every change reaches the MCP
// server through the vault's announcements, without a restart.

package adminops

import (
	"context"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/gate"
	"github.com/plexus-mcp/plexus/vault"
)

// GateStore is the part of the vault the gate operations use;
// *vault.Vault satisfies it. A Store without it makes them
// ErrUnsupported.
type GateStore interface {
	CreateGate(ctx context.Context, g vault.Gate) (vault.Gate, []byte, error)
	EnrollGate(ctx context.Context, tenantID, toolSet string) (vault.Gate, []byte, error)
	UpdateGate(ctx context.Context, tenantID, toolSet string, unlockFor, coolOff time.Duration) (vault.Gate, error)
	ListGates(ctx context.Context, tenantID string) ([]vault.Gate, error)
	DeleteGate(ctx context.Context, tenantID, toolSet string) error
	SetToolSearch(ctx context.Context, tenantID string, enabled bool) error
	GetToolSettings(ctx context.Context, tenantID string) (vault.ToolSettings, error)
}

var _ GateStore = (*vault.Vault)(nil)

// GateIssuer is the issuer an authenticator app shows for a gate.
const GateIssuer = "Plexus"

// maxGateMinutes bounds a gate's durations in minutes (24 hours).
const maxGateMinutes = int(vault.MaxGateDuration / time.Minute)

func (s *Service) gates() (GateStore, error) {
	gs, ok := s.store.(GateStore)
	if !ok {
		return nil, unsupported("this daemon does not keep TOTP gates")
	}
	return gs, nil
}

// ListGates returns a tenant's gates and whether its tool search is on.
func (s *Service) ListGates(ctx context.Context, tenantID string) (apiv1.GateList, error) {
	gs, err := s.gates()
	if err != nil {
		return apiv1.GateList{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.GateList{}, err
	}
	list, err := gs.ListGates(ctx, t.ID)
	if err != nil {
		return apiv1.GateList{}, wrapf(err, "list gates of %s", t.ID)
	}
	st, err := gs.GetToolSettings(ctx, t.ID)
	if err != nil {
		return apiv1.GateList{}, wrapf(err, "tool settings of %s", t.ID)
	}
	out := apiv1.GateList{SearchTools: st.SearchTools, Gates: make([]apiv1.Gate, 0, len(list))}
	for _, g := range list {
		out.Gates = append(out.Gates, s.gateView(g))
	}
	return out, nil
}

// gateMinutes checks a duration field in minutes (0: the default).
func gateMinutes(field string, m int) (time.Duration, error) {
	if m < 0 || m > maxGateMinutes {
		return 0, fieldErr(field, "between 1 and %d minutes (or 0 for the default, 15)", maxGateMinutes)
	}
	return time.Duration(m) * time.Minute, nil
}

func gateDurations(in apiv1.GateRequest) (unlockFor, coolOff time.Duration, err error) {
	if unlockFor, err = gateMinutes("unlock_for_minutes", in.UnlockForMinutes); err != nil {
		return 0, 0, err
	}
	if coolOff, err = gateMinutes("cool_off_minutes", in.CoolOffMinutes); err != nil {
		return 0, 0, err
	}
	return unlockFor, coolOff, nil
}

// gateToolSet checks and normalizes a tool set name from a request.
func gateToolSet(name string) (string, error) {
	n, err := cleanName(toolSetKind, "tool_set", name)
	if err != nil {
		return "", err
	}
	return n, asField("tool_set", vault.ValidateToolSetName(n))
}

// CreateGate puts a gate on one of a tenant's tool sets and enrolls its
// secret: the answer is the only time the secret is shown (as an otpauth
// URI and in base32). Connected MCP clients are told their tool list
// changed.
func (s *Service) CreateGate(ctx context.Context, tenantID string, in apiv1.GateRequest) (apiv1.GateEnrollment, error) {
	gs, err := s.gates()
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	set, err := gateToolSet(in.ToolSet)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	unlockFor, coolOff, err := gateDurations(in)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	g, secret, err := gs.CreateGate(ctx, vault.Gate{TenantID: t.ID, ToolSet: set, UnlockFor: unlockFor, CoolOff: coolOff})
	if err != nil {
		return apiv1.GateEnrollment{}, asField("tool_set", wrapf(err, "create gate on %q of %s", set, t.ID))
	}
	return s.enrollment(g, secret)
}

// EnrollGate gives a gate a new secret (the old one stops working and
// every session's unlock ends); the answer shows it once.
func (s *Service) EnrollGate(ctx context.Context, tenantID, toolSet string) (apiv1.GateEnrollment, error) {
	gs, err := s.gates()
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	set, err := gateToolSet(toolSet)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	g, secret, err := gs.EnrollGate(ctx, t.ID, set)
	if err != nil {
		return apiv1.GateEnrollment{}, wrapf(err, "enroll gate on %q of %s", set, t.ID)
	}
	return s.enrollment(g, secret)
}

func (s *Service) enrollment(g vault.Gate, secret []byte) (apiv1.GateEnrollment, error) {
	defer clear(secret)
	uri, err := gate.URI(GateIssuer, g.TenantID+"/"+g.ToolSet, secret)
	if err != nil {
		return apiv1.GateEnrollment{}, err
	}
	return apiv1.GateEnrollment{Gate: s.gateView(g), OTPAuthURI: uri, Secret: gate.Secret(secret)}, nil
}

// UpdateGate changes a gate's unlock time and cooling-off (0: the
// default). Every session's unlock of the gate ends.
func (s *Service) UpdateGate(ctx context.Context, tenantID, toolSet string, in apiv1.GateRequest) (apiv1.Gate, error) {
	gs, err := s.gates()
	if err != nil {
		return apiv1.Gate{}, err
	}
	set, err := gateToolSet(toolSet)
	if err != nil {
		return apiv1.Gate{}, err
	}
	unlockFor, coolOff, err := gateDurations(in)
	if err != nil {
		return apiv1.Gate{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.Gate{}, err
	}
	g, err := gs.UpdateGate(ctx, t.ID, set, unlockFor, coolOff)
	if err != nil {
		return apiv1.Gate{}, wrapf(err, "update gate on %q of %s", set, t.ID)
	}
	return s.gateView(g), nil
}

// DeleteGate removes a gate: its tool set is no longer locked.
func (s *Service) DeleteGate(ctx context.Context, tenantID, toolSet string) error {
	gs, err := s.gates()
	if err != nil {
		return err
	}
	set, err := gateToolSet(toolSet)
	if err != nil {
		return err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	return wrapf(gs.DeleteGate(ctx, t.ID, set), "delete gate on %q of %s", set, t.ID)
}

// SetToolSearch turns a tenant's tool search (plexus_search_tools and
// plexus_call_tool) on or off, and answers with the gate list.
func (s *Service) SetToolSearch(ctx context.Context, tenantID string, enabled bool) (apiv1.GateList, error) {
	gs, err := s.gates()
	if err != nil {
		return apiv1.GateList{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.GateList{}, err
	}
	if err := gs.SetToolSearch(ctx, t.ID, enabled); err != nil {
		return apiv1.GateList{}, wrapf(err, "tool search of %s", t.ID)
	}
	return s.ListGates(ctx, t.ID)
}

func (s *Service) gateView(g vault.Gate) apiv1.Gate {
	out := apiv1.Gate{TenantID: g.TenantID, ToolSet: g.ToolSet,
		UnlockForMinutes: int(g.UnlockFor / time.Minute), CoolOffMinutes: int(g.CoolOff / time.Minute),
		Failures: g.Failures, CreatedAt: g.CreatedAt, EnrolledAt: g.EnrolledAt}
	if !g.CoolingUntil.IsZero() && s.now().Before(g.CoolingUntil) {
		until := g.CoolingUntil
		out.CoolingUntil = &until
	}
	return out
}
