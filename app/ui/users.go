package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// The Users & sessions page: the people of the current tenant (you, and
// those a host app registered), their tokens (made here, shown once;
// revoked), deleting one, and the MCP sessions open now, named by their
// fingerprint (never their id) and ended from here.

const usersSentence = "The people who use this tenant through an app, their access tokens, and the apps talking to Plexus right now."

// maxConfirmLen bounds what a danger zone asks to type.
const maxConfirmLen = 64

// usersHandler is GET /ui/users.
type usersHandler struct{ h *Handler }

func (p usersHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderUsers(w, r, s, http.StatusOK, usersState{})
}

// usersState is what a form left on the page: the typed user id, its
// error, a new token.
type usersState struct {
	issue, issueErr string
	token           *apiv1.UserToken
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, st usersState) {
	sc, ok := h.scoped(w, r, s, "Users & sessions", frontend.NavUsers, usersSentence)
	if !ok {
		return
	}
	ctx := r.Context()
	users, err := h.opts.Ops.ListUsers(ctx, sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list users: %w", err))
		return
	}
	tokens, err := h.opts.Ops.ListTokens(ctx, sc.tenant.ID, "")
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tokens: %w", err))
		return
	}
	sessions, err := h.opts.Ops.ListSessions(ctx, sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list sessions: %w", err))
		return
	}
	now := h.opts.Now()
	active := map[string]int{}
	for _, t := range tokens {
		if t.State(now) == "active" {
			active[t.UserID]++
		}
	}
	v := frontend.UsersView{
		Shell:  h.shell(r, s, "Users & sessions", frontend.NavUsers, sc.tenants),
		Tenant: sc.ref(),
		Issue: frontend.Field{Name: "user_id_from_host_app", Label: "Their ID in your app", Value: echo(st.issue), Error: st.issueErr,
			Mono: true, MaxLength: 256, Required: true,
			Help: "The ID your app knows them by, such as a user number or an email address. A new ID adds them; an ID that is here already gets another token."},
		MoreSessions: sessions.Total - len(sessions.Sessions),
	}
	owner := frontend.UserRow{Label: "You (this computer)", Href: "/ui/users/" + apiv1.LocalOwner, Tokens: "Not needed", Owner: true, Added: "—"}
	for _, u := range users {
		if u.HostUserID == vault.LocalOwnerHostUserID {
			owner.PersistentID, owner.Added = u.ID, dayLabel(u.CreatedAt)
			continue
		}
		n := "None"
		if active[u.ID] > 0 {
			n = fmt.Sprintf("%d active", active[u.ID])
		}
		v.People = append(v.People, frontend.UserRow{Label: u.HostUserID, Href: "/ui/users/" + url.PathEscape(u.ID),
			PersistentID: u.ID, Added: dayLabel(u.CreatedAt), Tokens: n})
	}
	v.People = append([]frontend.UserRow{owner}, v.People...)
	for _, se := range sessions.Sessions {
		v.Sessions = append(v.Sessions, frontend.SessionRow{
			Fingerprint: se.Fingerprint, Who: sessionWho(se), App: orText(se.Client, "An app that did not say its name"),
			LastActive: ago(now, se.LastSeen), Started: dateTimeLabel(se.CreatedAt), End: "/ui/sessions/" + se.Ref + "/end",
		})
	}
	if st.token != nil {
		v.Token = tokenOnce(st.token, st.issue)
	}
	h.render(w, r, status, s, frontend.UsersPage(v))
}

// tokenOnce shows a new user token, with what to do with it.
func tokenOnce(t *apiv1.UserToken, who string) *frontend.OnceSecret {
	next := []string{"Give it to " + clipText(who, 64) + "’s app, not by email or chat. The app sends it to Plexus with every request; it works until you revoke it."}
	if !t.ExpiresAt.IsZero() {
		next = append(next, "It expires on "+dateTimeLabel(t.ExpiresAt)+".")
	}
	return &frontend.OnceSecret{ID: "new-token", Label: "New token for " + clipText(who, 64), Value: t.Token, Next: next}
}

func sessionWho(se apiv1.Session) string {
	switch {
	case se.LocalOwner:
		return "You"
	case se.UserID == "":
		return "A guest (no token)"
	case se.HostUserID != "":
		return se.HostUserID
	}
	return se.UserID
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// hostUserIDProblem says what is wrong with a user id typed for a new
// token ("" = nothing), following vault.ValidateHostUserID.
func hostUserIDProblem(id string) string {
	switch {
	case strings.TrimSpace(id) == "":
		return "Enter their ID in your app, such as a user number or an email address."
	case len(id) > 256:
		return "Use at most 256 characters."
	case !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "Use letters, digits and punctuation only (no tabs or line breaks)."
	}
	if vault.ValidateHostUserID(id) != nil {
		return "Plexus keeps this ID for itself (IDs starting with plexus-, local-owner, . and ..). Use another."
	}
	return ""
}

// newUserHandler is POST /ui/users: a token for a person (new or not),
// shown in this answer only.
type newUserHandler struct{ h *Handler }

func (p newUserHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "Users & sessions", frontend.NavUsers, usersSentence)
	if !ok {
		return
	}
	id := strings.TrimSpace(form.Get("user_id_from_host_app"))
	problem := hostUserIDProblem(id)
	if problem == "" {
		tok, err := h.opts.Ops.IssueUserToken(r.Context(), sc.tenant.ID, id)
		switch {
		case err == nil:
			h.log.InfoContext(r.Context(), "User token issued in the admin UI", "tenant", sc.tenant.ID, "user", tok.UserID, "token", tok.TokenID)
			h.renderUsers(w, r, s, http.StatusOK, usersState{issue: id, token: &tok})
			return
		case errors.Is(err, vault.ErrInvalid):
			_, problem, _ = opsProblem(err)
		default:
			h.fail(w, r, fmt.Errorf("issue token: %w", err))
			return
		}
	}
	h.renderUsers(w, r, s, http.StatusUnprocessableEntity, usersState{issue: id, issueErr: problem})
}

// aUser is a user of the current tenant, as a user page knows them.
type aUser struct {
	apiv1.User
	owner bool
	label string
}

// loadUser reads the current tenant's user named by the path ({user}: a
// persistent id, or local-owner for you); another tenant's gets the 404
// page.
func (h *Handler) loadUser(w http.ResponseWriter, r *http.Request, s *session) (scope, aUser, bool) {
	sc, ok := h.scoped(w, r, s, "Users & sessions", frontend.NavUsers, usersSentence)
	if !ok {
		return scope{}, aUser{}, false
	}
	users, err := h.opts.Ops.ListUsers(r.Context(), sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list users: %w", err))
		return scope{}, aUser{}, false
	}
	id := r.PathValue("user")
	i := slices.IndexFunc(users, func(u apiv1.User) bool {
		return u.ID == id || id == apiv1.LocalOwner && u.HostUserID == vault.LocalOwnerHostUserID
	})
	switch {
	case i >= 0 && users[i].HostUserID == vault.LocalOwnerHostUserID:
		return sc, aUser{User: users[i], owner: true, label: "You"}, true
	case i >= 0:
		return sc, aUser{User: users[i], label: users[i].HostUserID}, true
	case id == apiv1.LocalOwner:
		return sc, aUser{User: apiv1.User{TenantID: sc.tenant.ID}, owner: true, label: "You"}, true
	}
	h.notFound(w, r, "User not found", "Tenant "+sc.tenant.Name+" has no user with this ID. They may have been deleted, or belong to another tenant.",
		frontend.Action{Label: "Go to Users & sessions", Href: "/ui/users"})
	return scope{}, aUser{}, false
}

// userHandler is GET /ui/users/{user}.
type userHandler struct{ h *Handler }

func (p userHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderUser(w, r, s, http.StatusOK, userState{})
}

// userState is what a form left on a user's page.
type userState struct {
	token             *apiv1.UserToken
	typed, confirmErr string
}

func (h *Handler) renderUser(w http.ResponseWriter, r *http.Request, s *session, status int, st userState) {
	sc, u, ok := h.loadUser(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	base := "/ui/users/" + url.PathEscape(u.ID)
	v := frontend.UserView{
		Shell:        h.shell(r, s, u.label, frontend.NavUsers, sc.tenants),
		Tenant:       sc.ref(),
		Label:        u.label,
		Owner:        u.owner,
		HostID:       u.HostUserID,
		PersistentID: u.ID,
		Added:        dayLabel(u.CreatedAt),
		Connections:  "/ui/connections/" + url.PathEscape(u.ID),
	}
	if u.owner {
		v.Connections = "/ui/connections"
		h.render(w, r, status, s, frontend.UserPage(v))
		return
	}
	tokens, err := h.opts.Ops.ListTokens(ctx, sc.tenant.ID, u.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tokens: %w", err))
		return
	}
	conns, err := h.opts.Ops.Connections(ctx, sc.tenant.ID, u.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("connections: %w", err))
		return
	}
	now := h.opts.Now()
	activeTokens := 0
	for _, t := range tokens {
		row := frontend.TokenRow{ID: t.ID, Created: dateTimeLabel(t.CreatedAt), Expires: "never expires"}
		if !t.ExpiresAt.IsZero() {
			row.Expires = "expires " + dateTimeLabel(t.ExpiresAt)
		}
		switch t.State(now) {
		case "revoked":
			row.Status, row.Label = frontend.StatusNever, "Revoked"
		case "expired":
			row.Status, row.Label = frontend.StatusBad, "Expired"
		default:
			row.Status, row.Label = frontend.StatusOK, "Active"
			row.Revoke = base + "/tokens/" + url.PathEscape(t.ID) + "/revoke"
			activeTokens++
		}
		v.Tokens = append(v.Tokens, row)
	}
	slices.Reverse(v.Tokens) // newest first
	v.NewToken = base + "/tokens"
	if st.token != nil {
		v.Token = tokenOnce(st.token, u.HostUserID)
	}
	var holds []string
	for _, c := range []struct {
		n         int
		one, many string
	}{
		{len(tokens), "token", "tokens"}, {len(conns.Connections), "connection", "connections"}, {len(conns.APIKeys), "API key", "API keys"},
	} {
		if c.n > 0 {
			holds = append(holds, count(c.n, c.one, c.many))
		}
	}
	confirm := u.HostUserID
	if utf8.RuneCountInString(confirm) > maxConfirmLen || strings.TrimSpace(confirm) != confirm {
		confirm = "delete"
	}
	button := "Delete user " + clipText(u.HostUserID, 64)
	if len(holds) > 0 {
		button += " and their " + strings.Join(holds, ", ")
	}
	v.Delete = frontend.DangerZone{
		Title: "Delete this user",
		Text: "This removes " + clipText(u.HostUserID, 64) + " from tenant " + sc.tenant.Name + ", with their tokens, connected accounts and keys. " +
			"Their app stops working for them at once. If the app registers them again, they start afresh.",
		Post:    base + "/delete",
		Confirm: confirm,
		Button:  button,
		Value:   st.typed,
		Error:   st.confirmErr,
	}
	h.render(w, r, status, s, frontend.UserPage(v))
}

// newTokenHandler is POST /ui/users/{user}/tokens: another token for a
// registered user, shown in this answer only.
type newTokenHandler struct{ h *Handler }

func (p newTokenHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, u, ok := h.loadUser(w, r, s)
	if !ok {
		return
	}
	if u.owner {
		h.message(w, r, http.StatusForbidden, frontend.MessageView{
			Title: "You need no token", Lead: "Apps on this computer reach Plexus with its own key; Plexus makes no token for you.",
			Link: &frontend.Action{Label: "Go to Users & sessions", Href: "/ui/users"}, Status: frontend.StatusWarn,
		})
		return
	}
	tok, err := h.opts.Ops.IssueUserToken(r.Context(), sc.tenant.ID, u.HostUserID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("issue token: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "User token issued in the admin UI", "tenant", sc.tenant.ID, "user", tok.UserID, "token", tok.TokenID)
	h.renderUser(w, r, s, http.StatusOK, userState{token: &tok})
}

// revokeTokenHandler is POST /ui/users/{user}/tokens/{token}/revoke.
type revokeTokenHandler struct{ h *Handler }

func (p revokeTokenHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, u, ok := h.loadUser(w, r, s)
	if !ok {
		return
	}
	id := r.PathValue("token")
	var tokens []apiv1.TokenInfo
	var err error
	if !u.owner {
		tokens, err = h.opts.Ops.ListTokens(r.Context(), sc.tenant.ID, u.ID)
		if err != nil {
			h.fail(w, r, fmt.Errorf("list tokens: %w", err))
			return
		}
	}
	if !slices.ContainsFunc(tokens, func(t apiv1.TokenInfo) bool { return t.ID == id }) {
		h.notFound(w, r, "Token not found", "This person has no token with this ID.",
			frontend.Action{Label: "Go to Users & sessions", Href: "/ui/users"})
		return
	}
	if err := h.opts.Ops.RevokeToken(r.Context(), sc.tenant.ID, id); err != nil {
		h.fail(w, r, fmt.Errorf("revoke token: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "User token revoked in the admin UI", "tenant", sc.tenant.ID, "token", id)
	s.setFlash(frontend.FlashOK, "Token "+id+" revoked. It stops working at once.")
	h.saveAndRedirect(w, r, s, "/ui/users/"+url.PathEscape(u.ID))
}

// deleteUserHandler is POST /ui/users/{user}/delete, confirmed by typing
// their id.
type deleteUserHandler struct{ h *Handler }

func (p deleteUserHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, u, ok := h.loadUser(w, r, s)
	if !ok {
		return
	}
	if u.owner {
		h.message(w, r, http.StatusForbidden, frontend.MessageView{
			Title: "You cannot delete yourself here", Lead: "To forget your accounts and keys, disconnect them on Connections & keys.",
			Link: &frontend.Action{Label: "Go to Connections & keys", Href: "/ui/connections"}, Status: frontend.StatusWarn,
		})
		return
	}
	confirm := u.HostUserID
	if utf8.RuneCountInString(confirm) > maxConfirmLen || strings.TrimSpace(confirm) != confirm {
		confirm = "delete"
	}
	typed := form.Get("confirm")
	if msg := confirmProblem(typed, confirm); msg != "" {
		h.renderUser(w, r, s, http.StatusUnprocessableEntity, userState{typed: echo(typed), confirmErr: msg})
		return
	}
	err := h.opts.Ops.DeleteUser(r.Context(), sc.tenant.ID, u.ID)
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrNotFound):
		h.notFound(w, r, "User not found", "This user was deleted meanwhile.", frontend.Action{Label: "Go to Users & sessions", Href: "/ui/users"})
		return
	default:
		h.fail(w, r, fmt.Errorf("delete user: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "User deleted in the admin UI", "tenant", sc.tenant.ID, "user", u.ID)
	s.setFlash(frontend.FlashOK, "User "+clipText(u.HostUserID, 64)+" deleted.")
	h.saveAndRedirect(w, r, s, "/ui/users")
}

// endSessionHandler is POST /ui/sessions/{ref}/end.
type endSessionHandler struct{ h *Handler }

func (p endSessionHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "Users & sessions", frontend.NavUsers, usersSentence)
	if !ok {
		return
	}
	ref := r.PathValue("ref")
	err := h.opts.Ops.EndSession(r.Context(), sc.tenant.ID, ref)
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "MCP session ended in the admin UI", "tenant", sc.tenant.ID, "session", ref[:8])
		s.setFlash(frontend.FlashOK, "Session "+ref[:8]+" ended. Its app starts a new one the next time it talks to Plexus.")
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "That session has ended already.")
	default:
		h.fail(w, r, fmt.Errorf("end session: %w", err))
		return
	}
	h.saveAndRedirect(w, r, s, "/ui/users#sessions")
}
