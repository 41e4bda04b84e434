// This file holds the audit log's read operation (GET /api/v1/audit,
// plexus admin audit list): every kind of record, filtered and paged.

package adminops

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// Audit returns a page of the audit log matching q, newest first. A
// refused filter is an *apiv1.FieldError naming it; without
// Options.Activity the answer is ErrUnsupported.
func (s *Service) Audit(ctx context.Context, q apiv1.AuditQuery) (apiv1.AuditResponse, error) {
	if s.opts.Activity == nil {
		return apiv1.AuditResponse{}, unsupported("this daemon keeps no audit log")
	}
	aq, err := AuditQuery(q, s.now())
	if err != nil {
		return apiv1.AuditResponse{}, err
	}
	// A deleted tenant's records are still there: the tenant is not looked up.
	fctx, cancel := context.WithTimeout(ctx, activityFlushWait)
	if err := s.opts.Activity.Flush(fctx); err != nil {
		s.log.WarnContext(ctx, "Audit log not flushed in time", "error", err)
	}
	cancel()
	page, err := s.opts.Activity.Query(ctx, aq)
	if err != nil {
		return apiv1.AuditResponse{}, wrapf(err, "audit log")
	}
	names := map[string]map[string]string{} // tenant -> user id -> host user id
	nameOf := func(tenant, user string) string {
		m, ok := names[tenant]
		if !ok {
			m = map[string]string{}
			if users, err := s.store.ListUsers(ctx, tenant); err == nil {
				for _, u := range users {
					m[u.ID] = u.HostUserID
				}
			}
			names[tenant] = m
		}
		return m[user]
	}
	st := s.opts.Activity.Stats()
	out := apiv1.AuditResponse{Records: []apiv1.AuditRecord{}, Next: page.Next, NotRecorded: st.Dropped + st.Failed}
	for _, c := range page.Calls {
		r := apiv1.AuditRecord{Time: c.Time, Kind: string(c.Kind), Tenant: c.Tenant, UserID: c.User, Local: c.Local,
			Session: c.Session, Client: c.Client, Tool: c.Tool, Action: c.Action, Target: c.Target, Actor: c.Actor,
			Outcome: string(c.Outcome), Reason: c.Reason, DurationMS: float64(c.Duration.Microseconds()) / 1000,
			ArgsBytes: c.ArgsBytes, Args: c.Args, ArgsCut: c.ArgsCut}
		if c.User != "" && !c.Local && c.Tenant != "" {
			r.UserName = nameOf(c.Tenant, c.User)
		}
		out.Records = append(out.Records, r)
	}
	return out, nil
}

// maxAuditRange bounds a relative since/until ("24h"): ten years.
const maxAuditRange = 10 * 365 * 24 * time.Hour

// AuditQuery checks q's filters (each error is an *apiv1.FieldError
// naming its field) and returns the audit query; relative times count
// back from now.
func AuditQuery(q apiv1.AuditQuery, now time.Time) (audit.Query, error) {
	out := audit.Query{Tenant: q.Tenant, Tool: q.Tool, Cursor: q.Cursor, Limit: q.Limit}
	if q.Tenant != "" && vault.ValidateTenantID(q.Tenant) != nil {
		return out, fieldErr("tenant", "tenant %q: not a tenant id", clip(q.Tenant))
	}
	if q.Tool != "" && !tools.ValidToolName(q.Tool) {
		return out, fieldErr("tool", "tool %q: want 1-128 of A-Z a-z 0-9 _ - .", clip(q.Tool))
	}
	switch {
	case q.User != "" && q.Who != "":
		return out, fieldErr("user", "give user or who, not both")
	case q.User != "":
		if len(q.User) > 256 || strings.ToValidUTF8(q.User, "") != q.User || strings.ContainsFunc(q.User, isControl) {
			return out, fieldErr("user", "user: want a persistent user id")
		}
		out.Who = audit.Who{Kind: audit.WhoUser, UserID: q.User}
	default:
		aq, err := activityQuery(apiv1.ActivityQuery{Who: q.Who})
		if err != nil {
			return out, err
		}
		out.Who = aq.Who
	}
	if q.Outcome != "" {
		o := audit.Outcome(q.Outcome)
		if !o.Valid() {
			return out, fieldErr("outcome", "outcome %q: want one of %s", clip(q.Outcome), joinOutcomes())
		}
		out.Outcome = o
	}
	if q.Kind != "" {
		k := audit.Kind(q.Kind)
		if !k.Valid() {
			return out, fieldErr("kind", "kind %q: want tool_call, credential, login or admin", clip(q.Kind))
		}
		out.Kind = k
	}
	var err error
	if out.Since, err = auditTime("since", q.Since, now); err != nil {
		return out, err
	}
	if out.Until, err = auditTime("until", q.Until, now); err != nil {
		return out, err
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Since.Before(out.Until) {
		return out, fieldErr("until", "until must be after since")
	}
	if q.Limit < 0 || q.Limit > audit.MaxLimit {
		return out, fieldErr("limit", "limit %d: want 1-%d", q.Limit, audit.MaxLimit)
	}
	if _, err := audit.ParseCursor(q.Cursor); err != nil {
		return out, fieldErr("cursor", "cursor: not one this daemon made")
	}
	return out, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func joinOutcomes() string {
	var s []string
	for _, o := range audit.AllOutcomes() {
		s = append(s, string(o))
	}
	return strings.Join(s, ", ")
}

// auditTime reads since or until: "" (no bound), an RFC 3339 time, or a
// positive duration back from now.
func auditTime(field, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 && d <= maxAuditRange {
		return now.Add(-d), nil
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil && strings.HasSuffix(v, "d") && n > 0 && n <= 3650 {
		return now.AddDate(0, 0, -n), nil
	}
	return time.Time{}, fieldErr(field, "%s %q: want an RFC 3339 time (2026-12-04T10:00:00Z) or a time back from now (24h, 7d)", field, clip(v))
}
