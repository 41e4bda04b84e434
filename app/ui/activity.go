package ui

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// ActivityOps is what the Activity page needs; *adminops.Service
// satisfies it.
type ActivityOps interface {
	Activity(ctx context.Context, tenantID string, q apiv1.ActivityQuery) (apiv1.ActivityResponse, error)
	Audit(ctx context.Context, q apiv1.AuditQuery) (apiv1.AuditResponse, error)
	ListUsers(ctx context.Context, tenantID string) ([]apiv1.User, error)
}

// activityPageSize is how many calls a page shows.
const activityPageSize = 50

// activityHandler is GET /ui/activity: the current tenant's tool calls.
type activityHandler struct{ h *Handler }

func (p activityHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	ctx := r.Context()
	tenants, err := h.opts.Ops.ListTenants(ctx)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	v := frontend.ActivityView{Shell: h.shell(r, s, "Activity", frontend.NavActivity, tenants)}
	cur := currentTenant(s, tenants)
	switch {
	case cur.ID == "":
	case h.opts.Activity == nil:
		v.Tenant, v.Unavailable = frontend.TenantRef{ID: cur.ID, Name: cur.Name}, true
	default:
		v.Tenant = frontend.TenantRef{ID: cur.ID, Name: cur.Name}
		q := parseActivityQuery(r.URL.Query())
		q.Limit = activityPageSize
		res, err := h.opts.Activity.Activity(ctx, cur.ID, q)
		if err != nil {
			h.fail(w, r, fmt.Errorf("activity of %s: %w", cur.ID, err))
			return
		}
		filtered := q.Tool != "" || q.Who != "" || q.Outcome != ""
		v.NeverCalled = !filtered && q.Cursor == "" && len(res.Calls) == 0
		v.Filtered = filtered
		v.NotRecorded = res.NotRecorded
		now := h.opts.Now()
		v.Chart = chart(res.Hours, filtered)
		names := map[string]string{}
		var users []apiv1.User
		if us, err := h.opts.Activity.ListUsers(ctx, cur.ID); err == nil {
			for _, u := range us {
				if u.HostUserID != vault.LocalOwnerHostUserID {
					users = append(users, u)
					names[u.ID] = u.HostUserID
				}
			}
		}
		for _, c := range res.Calls {
			v.Calls = append(v.Calls, callRow(c, names, now))
		}
		v.Filters = h.activityFilters(ctx, cur.ID, q, users)
		if res.Next != "" {
			v.OlderHref = activityHref(q, res.Next)
		}
		if q.Cursor != "" {
			v.NewestHref = activityHref(q, "")
		}
		if q.Cursor == "" {
			// The calls are the page; the changes under them must not hold
			// it up or break it.
			cctx, cancel := context.WithTimeout(ctx, changesWait)
			v.Changes, err = h.recentChanges(cctx, now)
			cancel()
			if err != nil {
				h.log.WarnContext(ctx, "Activity: changes and sign-ins not shown", "error", err)
			}
		}
	}
	h.render(w, r, http.StatusOK, s, frontend.ActivityPage(v))
}

// parseActivityQuery reads the page's filters and cursor from the URL; a
// value that cannot be one is dropped (the page then shows more, never an
// error).
func parseActivityQuery(q url.Values) apiv1.ActivityQuery {
	out := apiv1.ActivityQuery{}
	if t := q.Get("tool"); tools.ValidToolName(t) {
		out.Tool = t
	}
	switch who := q.Get("who"); {
	case who == apiv1.WhoLocal || who == apiv1.WhoGuest:
		out.Who = who
	case strings.HasPrefix(who, apiv1.WhoUserPrefix):
		id := strings.TrimPrefix(who, apiv1.WhoUserPrefix)
		if id != "" && len(id) <= 256 && strings.IndexFunc(id, unicode.IsControl) < 0 && strings.ToValidUTF8(id, "") == id {
			out.Who = who
		}
	}
	if o := audit.Outcome(q.Get("outcome")); o.Valid() {
		out.Outcome = string(o)
	}
	if c := q.Get("before"); c != "" {
		if _, err := audit.ParseCursor(c); err == nil {
			out.Cursor = c
		}
	}
	return out
}

// activityHref is the page's URL for q's filters at cursor.
func activityHref(q apiv1.ActivityQuery, cursor string) string {
	v := url.Values{}
	for k, val := range map[string]string{"tool": q.Tool, "who": q.Who, "outcome": q.Outcome, "before": cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if len(v) == 0 {
		return "/ui/activity"
	}
	return "/ui/activity?" + v.Encode()
}

// outcomeWord is how the page names an outcome, and its colour.
type outcomeWord struct {
	label  string
	status frontend.Status
}

// outcomeWords are the calls' outcomes as the page names them.
var outcomeWords = map[audit.Outcome]outcomeWord{
	audit.OutcomeOK:            {"OK", frontend.StatusOK},
	audit.OutcomeToolError:     {"Tool error", frontend.StatusBad},
	audit.OutcomeProtocolError: {"Failed", frontend.StatusBad},
	audit.OutcomeNeedsConsent:  {"Needs connection", frontend.StatusWarn},
	audit.OutcomeNeedsKey:      {"Needs key", frontend.StatusWarn},
}

func (h *Handler) activityFilters(ctx context.Context, tenant string, q apiv1.ActivityQuery, users []apiv1.User) frontend.ActivityFilters {
	f := frontend.ActivityFilters{Tool: q.Tool, Who: q.Who, Outcome: q.Outcome}
	f.Tools = []frontend.Option{{Value: "", Label: "All tools"}}
	seen := map[string]bool{}
	if h.opts.Tools != nil {
		if st, err := h.opts.Tools.ToolSettings(ctx, tenant); err == nil {
			for _, t := range st.Tools {
				f.Tools = append(f.Tools, frontend.Option{Value: t.Name, Label: t.Name})
				seen[t.Name] = true
			}
		}
	}
	if q.Tool != "" && !seen[q.Tool] {
		f.Tools = append(f.Tools, frontend.Option{Value: q.Tool, Label: q.Tool})
	}
	f.Whos = []frontend.Option{{Value: "", Label: "Anyone"}, {Value: apiv1.WhoLocal, Label: "You (this computer)"}}
	seen = map[string]bool{}
	for _, u := range users {
		val := apiv1.WhoUserPrefix + u.ID
		f.Whos = append(f.Whos, frontend.Option{Value: val, Label: u.HostUserID})
		seen[val] = true
	}
	if strings.HasPrefix(q.Who, apiv1.WhoUserPrefix) && !seen[q.Who] {
		f.Whos = append(f.Whos, frontend.Option{Value: q.Who, Label: strings.TrimPrefix(q.Who, apiv1.WhoUserPrefix)})
	}
	f.Whos = append(f.Whos, frontend.Option{Value: apiv1.WhoGuest, Label: "Guests"})
	f.Outcomes = []frontend.Option{{Value: "", Label: "Any result"}}
	for _, o := range audit.Outcomes() {
		f.Outcomes = append(f.Outcomes, frontend.Option{Value: string(o), Label: outcomeWords[o].label})
	}
	return f
}

// callRow is a call as the list shows it.
func callRow(c apiv1.ActivityCall, names map[string]string, now time.Time) frontend.CallRow {
	row := frontend.CallRow{Tool: c.Tool, Duration: durationWords(c.DurationMS)}
	row.When, row.WhenFull = whenWords(c.Time, now)
	var notes []string
	switch {
	case c.Local:
		row.Who = "You (this computer)"
	case c.UserID != "":
		row.Who = c.UserName
		if row.Who == "" {
			row.Who = names[c.UserID]
		}
		if row.Who == "" {
			row.Who = "Removed user " + shortID(c.UserID)
		}
	default:
		row.Who = "Guest"
		if c.Session != "" {
			notes = append(notes, "session "+c.Session)
		}
	}
	if c.Client != "" {
		notes = append(notes, "via "+c.Client)
	}
	row.WhoNote = strings.Join(notes, " · ")
	w, ok := outcomeWords[audit.Outcome(c.Outcome)]
	if !ok {
		w = outcomeWords[audit.OutcomeProtocolError]
	}
	row.Outcome, row.Status = w.label, w.status
	if c.Reason == audit.ReasonUnknownTool {
		row.Note = "No such tool, or switched off"
	}
	return row
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:8] + "…"
	}
	return id
}

// whenWords is a call's time: the time alone today, "Yesterday 09:10",
// "3 May 14:00" this year, else the date; and the full date and time.
func whenWords(t, now time.Time) (string, string) {
	t, now = t.In(time.Local), now.In(time.Local)
	full := t.Format("Mon 2 Jan 2006, 15:04:05")
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	yy, ym, yd := now.AddDate(0, 0, -1).Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return t.Format("15:04:05"), full
	case y1 == yy && m1 == ym && d1 == yd:
		return "Yesterday " + t.Format("15:04"), full
	case y1 == y2:
		return t.Format("2 Jan 15:04"), full
	}
	return t.Format("2 Jan 2006"), full
}

// durationWords says how long a call took.
func durationWords(ms float64) string {
	switch {
	case ms < 1:
		return "<1 ms"
	case ms < 1000:
		return strconv.Itoa(int(math.Round(ms))) + " ms"
	case ms < 60_000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	}
	s := int(ms / 1000)
	return fmt.Sprintf("%dm %02ds", s/60, s%60)
}

// chart draws hours (oldest first) as bars in a 240x100 view box: the
// calls' height against a round top value, errors at each bar's foot.
func chart(hours []apiv1.ActivityHour, filtered bool) frontend.Chart {
	c := frontend.Chart{}
	most := 0
	for _, h := range hours {
		most = max(most, h.Calls)
		c.Calls += h.Calls
		c.Errors += h.Errors
	}
	c.Top = niceTop(most)
	n := len(hours)
	if n == 0 {
		return c
	}
	slot := 240 / float64(n)
	width := slot * 0.7
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	height := func(k int) float64 {
		if k == 0 {
			return 0
		}
		return max(100*float64(k)/float64(c.Top), 2) // a single call stays visible
	}
	for i, h := range hours {
		b := frontend.Bar{X: f(float64(i)*slot + (slot-width)/2), Width: f(width)}
		if h.Calls > 0 {
			ch := height(h.Calls)
			b.HasCalls, b.CallsY, b.CallsH = true, f(100-ch), f(ch)
		}
		if h.Errors > 0 {
			eh := min(height(h.Errors), height(h.Calls))
			b.HasErrs, b.ErrorsY, b.ErrorsH = true, f(100-eh), f(eh)
		}
		b.Label = hourLabel(h, i == n-1) + ": " + countWords(h.Calls, "call") + ", " + countWords(h.Errors, "error")
		if h.Waiting > 0 {
			b.Label += ", " + strconv.Itoa(h.Waiting) + " waiting for a connection or key"
		}
		c.Bars = append(c.Bars, b)
		if i%6 == 0 {
			c.Axis = append(c.Axis, h.Start.In(time.Local).Format("15:04"))
		}
	}
	which := ""
	if filtered {
		which = " matching these filters"
	}
	switch {
	case c.Calls == 0:
		c.Summary = "No calls" + which + " in the last 24 hours."
	case c.Errors == 0:
		c.Summary = capitalize(countWords(c.Calls, "call")) + which + " in the last 24 hours, none failed."
	default:
		c.Summary = fmt.Sprintf("%s%s in the last 24 hours; %d of them failed (%d%%).", capitalize(countWords(c.Calls, "call")), which,
			c.Errors, int(math.Round(100*float64(c.Errors)/float64(c.Calls))))
	}
	return c
}

// hourLabel names an hour: "14:00 to 15:00", the current one "14:00 to now".
func hourLabel(h apiv1.ActivityHour, current bool) string {
	start := h.Start.In(time.Local)
	if current {
		return start.Format("15:04") + " to now"
	}
	return start.Format("15:04") + " to " + start.Add(time.Hour).Format("15:04")
}

// countWords is "no calls", "1 call", "12 calls".
func countWords(n int, noun string) string {
	switch n {
	case 0:
		return "no " + noun + "s"
	case 1:
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// niceTop is the smallest of 1, 2, 5, 10, 20, 50, ... at or above n (at
// least 1).
func niceTop(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
		if p > math.MaxInt/100 {
			return n
		}
	}
}
