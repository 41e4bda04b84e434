// This file holds the Activity page's operation: a tenant's recorded tool
// calls, filtered and paged, and the last 24 hours hour by hour.

package adminops

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// ActivityLog is the record of tool calls the operations read;
// *audit.Log satisfies it.
type ActivityLog interface {
	// Flush waits until the calls recorded so far are written.
	Flush(ctx context.Context) error
	Query(ctx context.Context, q audit.Query) (audit.Page, error)
	Hourly(ctx context.Context, q audit.Query, end time.Time, n int) ([]audit.Bucket, error)
	Stats() audit.Stats
}

// activityHours is how many hours Activity counts.
const activityHours = 24

// activityFlushWait bounds how long Activity waits for the calls recorded
// before it to be written.
const activityFlushWait = 2 * time.Second

// Activity returns a page of tenantID's recorded tool calls matching q,
// newest first, and the same selection's last 24 hours hour by hour. A
// refused filter is an *apiv1.FieldError naming it; without
// Options.Activity the answer is ErrUnsupported.
func (s *Service) Activity(ctx context.Context, tenantID string, q apiv1.ActivityQuery) (apiv1.ActivityResponse, error) {
	if s.opts.Activity == nil {
		return apiv1.ActivityResponse{}, unsupported("this daemon does not record tool calls")
	}
	aq, err := activityQuery(q)
	if err != nil {
		return apiv1.ActivityResponse{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.ActivityResponse{}, err
	}
	aq.Tenant = t.ID
	// The calls made just before the page was asked for are on it: the
	// record is written in batches a little after each call.
	fctx, cancel := context.WithTimeout(ctx, activityFlushWait)
	err = s.opts.Activity.Flush(fctx)
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "Tool-call record not flushed in time", "error", err)
	}
	page, err := s.opts.Activity.Query(ctx, aq)
	if err != nil {
		return apiv1.ActivityResponse{}, wrapf(err, "activity of %s", t.ID)
	}
	hours, err := s.opts.Activity.Hourly(ctx, aq, s.now(), activityHours)
	if err != nil {
		return apiv1.ActivityResponse{}, wrapf(err, "activity of %s by hour", t.ID)
	}
	names := map[string]string{}
	if users, err := s.store.ListUsers(ctx, t.ID); err == nil {
		for _, u := range users {
			names[u.ID] = u.HostUserID
		}
	}
	st := s.opts.Activity.Stats()
	out := apiv1.ActivityResponse{Calls: []apiv1.ActivityCall{}, Next: page.Next, Hours: []apiv1.ActivityHour{},
		NotRecorded: st.Dropped + st.Failed}
	for _, c := range page.Calls {
		ac := apiv1.ActivityCall{Time: c.Time, Tool: c.Tool, UserID: c.User, Local: c.Local, Session: c.Session,
			Client: c.Client, Outcome: string(c.Outcome), Reason: c.Reason,
			DurationMS: float64(c.Duration.Microseconds()) / 1000, ArgsBytes: c.ArgsBytes}
		if !c.Local {
			ac.UserName = names[c.User]
		}
		out.Calls = append(out.Calls, ac)
	}
	for _, h := range hours {
		out.Hours = append(out.Hours, apiv1.ActivityHour{Start: h.Start, Calls: h.Calls, Errors: h.Errors, Waiting: h.Waiting})
	}
	return out, nil
}

// activityQuery checks q's filters (each error names its field) and
// returns the audit query without the tenant.
func activityQuery(q apiv1.ActivityQuery) (audit.Query, error) {
	out := audit.Query{Kind: audit.KindToolCall, Tool: q.Tool, Cursor: q.Cursor, Limit: q.Limit}
	if q.Tool != "" && !tools.ValidToolName(q.Tool) {
		return out, fieldErr("tool", "tool %q: want 1-128 of A-Z a-z 0-9 _ - .", clip(q.Tool))
	}
	switch {
	case q.Who == "":
	case q.Who == apiv1.WhoLocal:
		out.Who = audit.Who{Kind: audit.WhoLocal}
	case q.Who == apiv1.WhoGuest:
		out.Who = audit.Who{Kind: audit.WhoGuests}
	case strings.HasPrefix(q.Who, apiv1.WhoUserPrefix) && len(q.Who) > len(apiv1.WhoUserPrefix) && len(q.Who) <= 300:
		out.Who = audit.Who{Kind: audit.WhoUser, UserID: strings.TrimPrefix(q.Who, apiv1.WhoUserPrefix)}
	default:
		return out, fieldErr("who", "who %q: want local, guest or user:<persistent id>", clip(q.Who))
	}
	if q.Outcome != "" {
		if o := audit.Outcome(q.Outcome); o.Valid() {
			out.Outcome = o
		} else {
			return out, fieldErr("outcome", "outcome %q: want ok, tool_error, protocol_error, needs_consent or needs_key", clip(q.Outcome))
		}
	}
	if q.Limit < 0 || q.Limit > audit.MaxLimit {
		return out, fieldErr("limit", "limit %d: want 1-%d", q.Limit, audit.MaxLimit)
	}
	if _, err := audit.ParseCursor(q.Cursor); err != nil {
		if errors.Is(err, audit.ErrBadCursor) {
			return out, fieldErr("cursor", "cursor: not one this daemon made")
		}
		return out, err
	}
	return out, nil
}
