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
		{"/ui/tools", frontend.NavTools, "Tools",
			"What your apps can do through Plexus, such as listing your GitHub repositories.",
			"Here you will switch tools on and off for the current tenant."},
		{"/ui/activity", frontend.NavActivity, "Activity",
			"What your apps did through Plexus, hour by hour.",
			"Here you will see the last day's tool use and errors at a glance."},
	}
}

// soonHandler is one of those pages.
type soonHandler struct {
	h *Handler
	p soonPage
}

func (p soonHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	tenants, err := h.opts.Ops.ListTenants(r.Context())
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
