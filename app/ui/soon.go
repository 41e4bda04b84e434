package ui

import (
	"fmt"
	"net/http"

	"github.com/plexus-mcp/plexus/frontend"
)

// soonPage is a sidebar page that a later version fills in: what it will
// be for, so the sidebar never leads nowhere.
type soonPage struct {
	path     string
	nav      frontend.Nav
	title    string
	sentence string
	text     string
}

func soonPages() []soonPage {
	return []soonPage{
		{"/ui/providers", frontend.NavProviders, "Providers",
			"The services Plexus can sign you in to, such as GitHub, Google or Slack.",
			"Here you will add a service once, so that your apps can use your account there without ever seeing your password."},
		{"/ui/connections", frontend.NavConnections, "Connections & keys",
			"The accounts you connected and the keys you saved, for the current tenant.",
			"Here you will see which accounts are connected, when they expire, and replace or remove a saved key."},
		{"/ui/users", frontend.NavUsers, "Users & sessions",
			"The people and apps that use this tenant, and their sign-ins.",
			"Here you will see who uses the current tenant and sign them out."},
	}
}

// soonHandler is one of those pages.
type soonHandler struct {
	h *Handler
	p soonPage
}

func (p soonHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	tenants, err := h.opts.Backend.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	v := frontend.SoonView{
		Shell:  h.shell(r, s, p.p.title, p.p.nav, tenants),
		Header: frontend.Header{Title: p.p.title, Sentence: p.p.sentence},
		Text:   p.p.text,
	}
	h.render(w, r, http.StatusOK, s, frontend.SoonPage(v))
}
