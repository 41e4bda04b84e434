package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// This file holds what the tenant-scoped pages (Providers, Connections &
// keys, Users & sessions) share: the current tenant, the words for an
// operation's error, counts and times in words.

// scope is a tenant-scoped page's tenant, the tenants (for the shell) and
// the session.
type scope struct {
	tenant  apiv1.Tenant
	tenants []apiv1.Tenant
	s       *session
}

func (sc scope) ref() frontend.TenantRef {
	return frontend.TenantRef{ID: sc.tenant.ID, Name: sc.tenant.Name}
}

// scoped loads the current tenant. Without any tenant it answers the page
// that offers to create one (and returns false); so it does on a failure.
func (h *Handler) scoped(w http.ResponseWriter, r *http.Request, s *session, title string, nav frontend.Nav, sentence string) (scope, bool) {
	tenants, err := h.opts.Ops.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return scope{}, false
	}
	cur := currentTenant(s, tenants)
	if cur.ID == "" {
		h.render(w, r, http.StatusOK, s, frontend.NeedTenantPage(frontend.SoonView{
			Shell:  h.shell(r, s, title, nav, tenants),
			Header: frontend.Header{Title: title, Sentence: sentence},
			Text:   "Everything here belongs to a tenant, and there is none yet. Most people need just one.",
		}))
		return scope{}, false
	}
	return scope{tenant: cur, tenants: tenants, s: s}, true
}

// notFound answers 404 with a page naming what was not found and where to
// go instead.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, title, lead string, back frontend.Action) {
	h.message(w, r, http.StatusNotFound, frontend.MessageView{Title: title, Lead: lead, Link: &back})
}

// opsProblem is an operation's refusal in words for a form: the field it
// is about ("" = the form as a whole) and the message. ok is false for an
// error that is not the request's fault (not found, the daemon's own).
func opsProblem(err error) (field, msg string, ok bool) {
	if !errors.Is(err, vault.ErrInvalid) {
		return "", "", false
	}
	if fe, isField := errors.AsType[*apiv1.FieldError](err); isField {
		return fe.Field, sentence(fe.Error()), true
	}
	msg = err.Error()
	return guessField(msg), sentence(msg), true
}

// fieldPrefixes name the fields the vault's messages start with.
var fieldPrefixes = []struct{ prefix, field string }{
	{"provider name", "provider_name"},
	{"client id", "client_id"},
	{"client secret", "client_secret"},
	{"authorization url", "authorization_url"},
	{"token url", "token_url"},
	{"userinfo url", "userinfo_url"},
	{"revocation url", "revocation_url"},
	{"api origins", "api_origins"},
	{"scope", "scopes"},
	{"resource", "resource"},
	{"user id from host app", "user_id_from_host_app"},
	{"name", "name"},
}

// guessField names the field a vault message is about, from its start.
func guessField(msg string) string {
	for _, p := range fieldPrefixes {
		if strings.HasPrefix(msg, p.prefix) {
			return p.field
		}
	}
	return ""
}

// sentence turns an operation's message into one for a person under a
// field: without the field's name in front (the label says it), starting
// with a capital letter, ending with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if rest, ok := strings.CutPrefix(msg, `field "`); ok {
		if _, after, found := strings.Cut(rest, `" `); found {
			msg = after
		}
	}
	for i := 0; i < 2; i++ {
		head, rest, found := strings.Cut(msg, ": ")
		if !found || len(head) > 40 || strings.ContainsAny(head, ".\"") {
			break
		}
		msg = rest
	}
	if msg == "" {
		return "This value cannot be used."
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// isUnsupported reports an operation this daemon was built without.
func isUnsupported(err error) bool { return errors.Is(err, adminops.ErrUnsupported) }

// count says "1 user" or "3 users".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ago says how long before now t was: "just now", "5 minutes ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if now.Sub(t) < time.Minute {
		return "just now"
	}
	return since(now, t) + " ago"
}

// until says how long after now t is, rounded as a person would: "in 3
// hours" for 2h59m.
func until(now, t time.Time) string {
	d := t.Sub(now)
	n, unit := 0, ""
	switch {
	case d < time.Minute:
		return "in less than a minute"
	case d < time.Hour-30*time.Second:
		n, unit = int(d.Round(time.Minute)/time.Minute), "minute"
	case d < 47*time.Hour+30*time.Minute:
		n, unit = int(d.Round(time.Hour)/time.Hour), "hour"
	default:
		n, unit = int(d.Round(24*time.Hour)/(24*time.Hour)), "day"
	}
	return "in " + count(n, unit, unit+"s")
}

// dateTimeLabel is a date and time for a table.
func dateTimeLabel(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006, 15:04")
}

// dayLabel is a date for a table.
func dayLabel(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006")
}

// maxEcho bounds a typed value shown back in a form after an error.
const maxEcho = 2048

// echo is a typed value to show back in a form field: as typed, unless
// too long or not text.
func echo(v string) string {
	if len(v) > maxEcho || !utf8.ValidString(v) {
		return ""
	}
	return v
}
