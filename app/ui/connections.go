package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// The Connections & keys page: for the person at this machine ("You",
// the tenant's local owner) and each registered user of the current
// tenant, their state with each OAuth provider and their API keys. You
// connect from here (the same consent page a tool's link opens); other
// people connect from their own app, and an administrator can only
// disconnect them or delete their keys. A key is never shown: only its
// last characters ("•••• 3f9a").

const connectionsSentence = "The accounts and keys your tools use. Connect an account once; Plexus keeps it locked on this computer."

// maxPeopleTabs bounds the people listed above the page.
const maxPeopleTabs = 12

// expiresSoon is how near an access token's end (one Plexus cannot renew)
// must be to say "Expires in …" instead of "Connected".
const expiresSoon = 7 * 24 * time.Hour

// person is whose connections a page shows.
type person struct {
	path  string // path segment: apiv1.LocalOwner or the persistent id
	id    string // the persistent id; "" for a local owner not created yet
	label string // "You" or their id in their app
	owner bool
}

// loadPerson reads the person named by the path ({user}; none = you) in
// the current tenant; someone else's id, or another tenant's, gets the
// 404 page.
func (h *Handler) loadPerson(w http.ResponseWriter, r *http.Request, sc scope) ([]apiv1.User, person, bool) {
	users, err := h.opts.Ops.ListUsers(r.Context(), sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list users: %w", err))
		return nil, person{}, false
	}
	id := r.PathValue("user")
	if id == "" || id == apiv1.LocalOwner {
		me := person{path: apiv1.LocalOwner, label: "You", owner: true}
		if i := slices.IndexFunc(users, func(u apiv1.User) bool { return u.HostUserID == vault.LocalOwnerHostUserID }); i >= 0 {
			me.id = users[i].ID
		}
		return users, me, true
	}
	i := slices.IndexFunc(users, func(u apiv1.User) bool { return u.ID == id })
	if i < 0 {
		h.notFound(w, r, "Person not found", "Tenant "+sc.tenant.Name+" has no user with this ID. They may have been deleted, or belong to another tenant.",
			frontend.Action{Label: "Go to Connections & keys", Href: "/ui/connections"})
		return nil, person{}, false
	}
	if users[i].HostUserID == vault.LocalOwnerHostUserID {
		return users, person{path: apiv1.LocalOwner, id: users[i].ID, label: "You", owner: true}, true
	}
	return users, person{path: users[i].ID, id: users[i].ID, label: users[i].HostUserID}, true
}

// connectionsHandler is GET /ui/connections and /ui/connections/{user}.
type connectionsHandler struct{ h *Handler }

func (p connectionsHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderConnections(w, r, s, http.StatusOK, keyFormState{})
}

// keyFormState is what a key form left: the service, its error and
// whether it was the "another service" form.
type keyFormState struct {
	provider, providerErr, keyErr string
}

func (st keyFormState) any() bool { return st.providerErr != "" || st.keyErr != "" }

func (h *Handler) renderConnections(w http.ResponseWriter, r *http.Request, s *session, status int, st keyFormState) {
	sc, ok := h.scoped(w, r, s, "Connections & keys", frontend.NavConnections, connectionsSentence)
	if !ok {
		return
	}
	users, who, ok := h.loadPerson(w, r, sc)
	if !ok {
		return
	}
	ctx := r.Context()
	providers, err := h.opts.Ops.ListProviders(ctx, sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list providers: %w", err))
		return
	}
	// Read by persistent id: a page view never creates the local owner
	// (saving a key or connecting does).
	conns := apiv1.ConnectionsResponse{}
	if who.id != "" {
		conns, err = h.opts.Ops.Connections(ctx, sc.tenant.ID, who.id)
		if err != nil {
			h.fail(w, r, fmt.Errorf("connections: %w", err))
			return
		}
	}
	tools, err := h.opts.Ops.ToolSettings(ctx, sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("tools: %w", err))
		return
	}
	base := "/ui/connections/" + url.PathEscape(who.path)
	title := "Connections & keys"
	v := frontend.ConnectionsView{
		Shell:       h.shell(r, s, title, frontend.NavConnections, sc.tenants),
		Tenant:      sc.ref(),
		Person:      who.label,
		Owner:       who.owner,
		UserPath:    base,
		NoProviders: len(providers) == 0,
	}
	v.People, v.MorePeople = peopleTabs(users, who)

	now := h.opts.Now()
	seen := map[string]bool{}
	for _, pr := range providers {
		seen[pr.Name] = true
		i := slices.IndexFunc(conns.Connections, func(c apiv1.Connection) bool { return c.Provider == pr.Name })
		var c *apiv1.Connection
		if i >= 0 {
			c = &conns.Connections[i]
		}
		v.Accounts = append(v.Accounts, accountRow(base, pr.Name, h.displayName(pr), c, who.owner, now))
	}
	for i := range conns.Connections { // a connection whose provider is gone
		if c := conns.Connections[i]; !seen[c.Provider] {
			v.Accounts = append(v.Accounts, accountRow(base, c.Provider, c.Provider, &c, false, now))
		}
	}
	v.Keys = keyRows(base, conns.APIKeys, tools.Tools, who.owner, st)
	v.KeyForm = frontend.KeyForm{
		Post: base + "/keys", Button: "Save key", Open: st.any() && !slices.ContainsFunc(v.Keys, func(k frontend.KeyRow) bool { return k.Provider == st.provider }),
		Provider: frontend.Field{Name: "provider_name", Label: "Service", Mono: true, MaxLength: 63, Placeholder: "openweather",
			Help: "The name a tool asks for: lowercase letters, digits, - and _."},
		Key: frontend.Field{Name: "api_key_value", Label: "Key", Type: "password", Mono: true,
			Help: "Plexus locks it away; afterwards you see only its last characters."},
	}
	if v.KeyForm.Open {
		v.KeyForm.Provider.Value = echo(st.provider)
		v.KeyForm.Provider.Error = st.providerErr
		v.KeyForm.Key.Error = st.keyErr
	}
	h.render(w, r, status, s, frontend.ConnectionsPage(v))
}

// peopleTabs lists you and the registered users (at most maxPeopleTabs),
// marking who is shown; the second result counts those left out.
func peopleTabs(users []apiv1.User, who person) ([]frontend.PersonTab, int) {
	tabs := []frontend.PersonTab{{Label: "You", Href: "/ui/connections", Active: who.owner}}
	more := 0
	for _, u := range users {
		if u.HostUserID == vault.LocalOwnerHostUserID {
			continue
		}
		if len(tabs) > maxPeopleTabs && u.ID != who.path {
			more++
			continue
		}
		tabs = append(tabs, frontend.PersonTab{Label: u.HostUserID, Href: "/ui/connections/" + url.PathEscape(u.ID), Active: u.ID == who.path})
	}
	return tabs, more
}

// accountRow is a person's state with a provider, as a pill, and what can
// be done: connect (you only) or disconnect.
func accountRow(base, provider, display string, c *apiv1.Connection, owner bool, now time.Time) frontend.AccountRow {
	row := frontend.AccountRow{Provider: provider, Display: display}
	esc := url.PathEscape(provider)
	switch {
	case c == nil:
		row.Status, row.Label, row.Detail = frontend.StatusNever, "Never", "Not connected yet"
	case c.Status != "connected" || !c.Refreshable && !c.Expiry.IsZero() && !now.Before(c.Expiry):
		row.Status, row.Label, row.Detail = frontend.StatusBad, "Expired", "Connect again to use it"
	case !c.Refreshable && !c.Expiry.IsZero() && c.Expiry.Sub(now) < expiresSoon:
		row.Status, row.Label, row.Detail = frontend.StatusWarn, "Expires "+until(now, c.Expiry), "Then connect again"
	default:
		row.Status, row.Label, row.Detail = frontend.StatusOK, "Connected", "Since "+dayLabel(c.UpdatedAt)
	}
	if c != nil {
		row.Disconnect = base + "/disconnect/" + esc
	}
	if owner && (c == nil || row.Status == frontend.StatusBad) {
		row.Connect = base + "/connect/" + esc
		row.ConnectLabel = "Connect"
		if c != nil {
			row.ConnectLabel = "Connect again"
		}
	}
	return row
}

// keyRows are a person's keys, and for you the keys the tenant's tools
// ask for that are not saved yet.
func keyRows(base string, keys []apiv1.APIKeyInfo, tools []apiv1.ToolInfo, owner bool, st keyFormState) []frontend.KeyRow {
	usedBy := map[string][]string{}
	for _, t := range tools {
		if p, ok := strings.CutPrefix(t.Requires, "api_key:"); ok {
			usedBy[p] = append(usedBy[p], t.Name)
		}
	}
	var out []frontend.KeyRow
	names := map[string]bool{}
	for _, k := range keys {
		names[k.Provider] = true
		row := frontend.KeyRow{Provider: k.Provider, Tools: strings.Join(usedBy[k.Provider], ", "), Set: true,
			Masked: "•••• " + k.Hint, Saved: "Saved " + dayLabel(k.UpdatedAt),
			Delete: base + "/keys/" + url.PathEscape(k.Provider) + "/delete", Replace: owner}
		if k.Hint == "" {
			row.Masked = "••••"
		}
		out = append(out, row)
	}
	if owner {
		for p, ts := range usedBy {
			if !names[p] {
				out = append(out, frontend.KeyRow{Provider: p, Tools: strings.Join(ts, ", "), Replace: true})
			}
		}
	}
	slices.SortFunc(out, func(a, b frontend.KeyRow) int { return strings.Compare(a.Provider, b.Provider) })
	for i := range out {
		k := &out[i]
		k.Form = frontend.KeyForm{
			Post: base + "/keys", Fixed: true, Button: "Save key",
			Provider: frontend.Field{Name: "provider_name", Value: k.Provider},
			Key: frontend.Field{Name: "api_key_value", ID: "f-key-" + k.Provider, Label: "Key for " + k.Provider, Type: "password", Mono: true,
				Help: "Plexus locks it away; afterwards you see only its last characters."},
		}
		if k.Set {
			k.Form.Key.Label = "New key for " + k.Provider
			k.Form.Button = "Replace key"
		}
		if st.any() && st.provider == k.Provider {
			k.Form.Open = true
			k.Form.Key.Error = st.keyErr
			if k.Form.Key.Error == "" {
				k.Form.Key.Error = st.providerErr
			}
		}
	}
	return out
}

// requirePerson loads the scope and the person of a connections form;
// only the local owner's forms (connect, save a key) pass when ownerOnly.
func (h *Handler) requirePerson(w http.ResponseWriter, r *http.Request, s *session, ownerOnly bool) (scope, person, bool) {
	sc, ok := h.scoped(w, r, s, "Connections & keys", frontend.NavConnections, connectionsSentence)
	if !ok {
		return scope{}, person{}, false
	}
	_, who, ok := h.loadPerson(w, r, sc)
	if !ok {
		return scope{}, person{}, false
	}
	if ownerOnly && !who.owner {
		h.message(w, r, http.StatusForbidden, frontend.MessageView{
			Title:  "Only you can do this here",
			Lead:   "Plexus never connects an account or saves a key on someone else’s behalf.",
			Body:   []string{who.label + " connects their own accounts from the app they use: when a tool needs an account, the app shows them a link."},
			Link:   &frontend.Action{Label: "Go to Connections & keys", Href: "/ui/connections"},
			Status: frontend.StatusWarn,
		})
		return scope{}, person{}, false
	}
	return sc, who, true
}

// back is the connections page of who.
func (who person) back() string {
	if who.owner {
		return "/ui/connections"
	}
	return "/ui/connections/" + url.PathEscape(who.path)
}

// connectHandler is POST /ui/connections/{user}/connect/{provider}: for
// you only, it makes a consent link and sends the browser to it.
type connectHandler struct{ h *Handler }

func (p connectHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, who, ok := h.requirePerson(w, r, s, true)
	if !ok {
		return
	}
	provider := r.PathValue("provider")
	link, err := h.opts.Ops.OwnerConsentURL(r.Context(), sc.tenant.ID, provider)
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "Connecting an account from the admin UI", "tenant", sc.tenant.ID, "provider", provider)
		redirect(w, r, link)
		return
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "Tenant "+sc.tenant.Name+" has no such provider (any more). Add it on Providers first.")
	case isUnsupported(err):
		s.setFlash(frontend.FlashError, "This Plexus cannot connect accounts: it was started without OAuth support.")
	default:
		h.fail(w, r, fmt.Errorf("consent link: %w", err))
		return
	}
	h.saveAndRedirect(w, r, s, who.back())
}

// disconnectHandler is POST /ui/connections/{user}/disconnect/{provider}.
type disconnectHandler struct{ h *Handler }

func (p disconnectHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, who, ok := h.requirePerson(w, r, s, false)
	if !ok {
		return
	}
	provider := r.PathValue("provider")
	err := h.opts.Ops.Disconnect(r.Context(), sc.tenant.ID, who.path, provider)
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "Disconnected in the admin UI", "tenant", sc.tenant.ID, "provider", provider)
		if who.owner {
			s.setFlash(frontend.FlashOK, "Disconnected from "+provider+". Tools that need it will ask you to connect again.")
		} else {
			s.setFlash(frontend.FlashOK, who.label+" was disconnected from "+provider+".")
		}
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "There was no connection to "+clipText(provider, 63)+" to remove.")
	case isUnsupported(err):
		s.setFlash(frontend.FlashError, "This Plexus cannot manage connected accounts: it was started without OAuth support.")
	default:
		h.fail(w, r, fmt.Errorf("disconnect: %w", err))
		return
	}
	h.saveAndRedirect(w, r, s, who.back())
}

// keyInput is the key form, read.
type keyInput struct {
	Provider, Key string
}

// parseKeyForm reads the key form; its messages never echo the key.
func parseKeyForm(form url.Values) (keyInput, keyFormState) {
	in := keyInput{Provider: strings.TrimSpace(form.Get("provider_name")), Key: strings.Trim(form.Get("api_key_value"), " \r\n\t")}
	st := keyFormState{provider: in.Provider}
	switch {
	case in.Provider == "":
		st.providerErr = "Name the service the key is for, as a tool asks for it, for example openweather."
	case vault.ValidateProviderName(in.Provider) != nil:
		st.providerErr = "Use lowercase letters, digits, - and _, starting with a letter or digit (at most 63)."
	}
	switch {
	case in.Key == "":
		st.keyErr = "Paste the key."
	case len(in.Key) > vault.MaxAPIKeyLen:
		st.keyErr = "This is longer than a key can be."
	case vault.ValidateAPIKeyValue(in.Key) != nil:
		st.keyErr = "Paste the key on one line, without tabs or other invisible characters."
	}
	return in, st
}

// setKeyHandler is POST /ui/connections/{user}/keys: save (or replace) one
// of your keys.
type setKeyHandler struct{ h *Handler }

func (p setKeyHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, who, ok := h.requirePerson(w, r, s, true)
	if !ok {
		return
	}
	in, st := parseKeyForm(form)
	if !st.any() {
		_, err := h.opts.Ops.SetAPIKey(r.Context(), sc.tenant.ID, who.path, in.Provider, in.Key)
		switch {
		case err == nil:
			h.log.InfoContext(r.Context(), "API key saved in the admin UI", "tenant", sc.tenant.ID, "provider", in.Provider)
			s.setFlash(frontend.FlashOK, "Key for "+in.Provider+" saved. Tools that need it can use it now.")
			h.saveAndRedirect(w, r, s, who.back())
			return
		default:
			field, msg, ok := opsProblem(err)
			if !ok {
				h.fail(w, r, fmt.Errorf("save api key: %w", err))
				return
			}
			if field == "provider_name" {
				st.providerErr = msg
			} else {
				st.keyErr = msg
			}
		}
	}
	h.renderConnections(w, r, s, http.StatusUnprocessableEntity, st)
}

// deleteKeyHandler is POST /ui/connections/{user}/keys/{provider}/delete.
type deleteKeyHandler struct{ h *Handler }

func (p deleteKeyHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, who, ok := h.requirePerson(w, r, s, false)
	if !ok {
		return
	}
	provider := r.PathValue("provider")
	err := h.opts.Ops.DeleteAPIKey(r.Context(), sc.tenant.ID, who.path, provider)
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "API key deleted in the admin UI", "tenant", sc.tenant.ID, "provider", provider)
		s.setFlash(frontend.FlashOK, "Key for "+provider+" deleted.")
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "There was no key for "+clipText(provider, 63)+" to delete.")
	default:
		h.fail(w, r, fmt.Errorf("delete api key: %w", err))
		return
	}
	h.saveAndRedirect(w, r, s, who.back())
}

// clipText shortens text from a request for a message: at most n bytes,
// printable.
func clipText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
