package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// ToolsOps is what the Tools page needs; *adminops.Service satisfies it.
type ToolsOps interface {
	ToolsOverview(ctx context.Context, tenantID string) (apiv1.ToolsOverview, error)
	ToolSettings(ctx context.Context, tenantID string) (apiv1.ToolSettingsResponse, error)
	SetToolEnabled(ctx context.Context, tenantID, tool string, enabled bool) (apiv1.ToolSettingsResponse, error)
	SetToolSetEnabled(ctx context.Context, tenantID, toolSet string, enabled bool) (apiv1.ToolSettingsResponse, error)
}

// toolsHandler is GET /ui/tools: the current tenant's tools.
type toolsHandler struct{ h *Handler }

func (p toolsHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	tenants, err := h.opts.Ops.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	v := frontend.ToolsView{Shell: h.shell(r, s, "Tools", frontend.NavTools, tenants)}
	if cur := currentTenant(s, tenants); cur.ID != "" {
		v.Tenant = frontend.TenantRef{ID: cur.ID, Name: cur.Name}
		if h.opts.Tools == nil {
			v.Unavailable = true
		} else {
			ov, err := h.opts.Tools.ToolsOverview(r.Context(), cur.ID)
			if err != nil {
				h.fail(w, r, fmt.Errorf("tools of %s: %w", cur.ID, err))
				return
			}
			fillTools(&v, ov)
		}
	}
	h.render(w, r, http.StatusOK, s, frontend.ToolsPage(v))
}

// fillTools groups a tenant's tools by their first tool set (tools in no
// set last) and says, for each, whether Claude may use it and what it
// needs.
func fillTools(v *frontend.ToolsView, ov apiv1.ToolsOverview) {
	setOff := func(name string) bool {
		return slices.ContainsFunc(ov.DisabledToolSets, func(d string) bool { return normSet(d) == normSet(name) })
	}
	groups := map[string]*frontend.ToolGroup{}
	var order []string
	for _, t := range ov.Tools {
		key := ""
		if len(t.ToolSets) > 0 {
			key = normSet(t.ToolSets[0])
		}
		g, ok := groups[key]
		if !ok {
			g = &frontend.ToolGroup{Name: key, Anchor: "set-" + anchorPart(key), Title: setTitle(key, ov.Tools), On: key == "" || !setOff(key)}
			if key == "" {
				g.Anchor, g.Title = "set-other", "Other tools"
			}
			groups[key] = g
			order = append(order, key)
		}
		row := frontend.ToolRow{
			Name:        t.Name,
			Anchor:      "tool-" + anchorPart(t.Name),
			Description: cmp.Or(t.Summary, t.Description),
			Source:      sourceLabel(t.Source),
			On:          t.Enabled,
			OwnOn:       !slices.Contains(ov.DisabledTools, t.Name),
		}
		for i, set := range t.ToolSets {
			if setOff(set) && row.OffBecause == "" {
				row.OffBecause = "the " + setTitle(normSet(set), ov.Tools) + " set"
			}
			if i > 0 {
				row.AlsoIn = append(row.AlsoIn, setTitle(normSet(set), ov.Tools))
			}
		}
		for _, c := range t.CredentialStatus {
			row.Needs = append(row.Needs, toolNeed(c))
		}
		g.Tools = append(g.Tools, row)
		v.Total++
		if row.On {
			v.On++
		}
	}
	// Tools in no set go last.
	if i := slices.Index(order, ""); i >= 0 && i != len(order)-1 {
		order = append(slices.Delete(order, i, i+1), "")
	}
	for _, k := range order {
		v.Groups = append(v.Groups, *groups[k])
	}
}

// normSet is a tool set's comparable form (tools.NormalizeToolSet).
func normSet(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), " ", "_") }

// anchorPart makes s safe in an element id.
func anchorPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// setTitle is how a person reads a tool set's name: a provider's name
// when a tool of the set connects to it ("github" -> "GitHub"), else the
// words capitalized ("weather_tools" -> "Weather tools").
func setTitle(set string, all []apiv1.ToolStatus) string {
	for _, t := range all {
		for _, c := range t.CredentialStatus {
			if c.Kind == apiv1.CredentialKindOAuth && strings.EqualFold(c.DisplayName, set) {
				return c.DisplayName
			}
		}
	}
	words := strings.ReplaceAll(set, "_", " ")
	if words == "" {
		return "Other tools"
	}
	rs := []rune(words)
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

func sourceLabel(s apiv1.ToolSource) string {
	switch s.Kind {
	case apiv1.ToolSourceUpstream:
		return "From the " + s.Name + " server"
	case apiv1.ToolSourceHTTP:
		return "HTTP tool " + s.Name
	}
	return "Built into Plexus"
}

// toolNeed says what a tool needs in words, and whether you have it.
func toolNeed(c apiv1.CredentialStatus) frontend.ToolNeed {
	n := needWords(c)
	n.Verb = "Needs"
	if n.Status == frontend.StatusOK {
		n.Verb = "Uses"
	}
	return n
}

func needWords(c apiv1.CredentialStatus) frontend.ToolNeed {
	connections := func(label string) *frontend.Action { return &frontend.Action{Label: label, Href: "/ui/connections"} }
	if c.Kind == apiv1.CredentialKindAPIKey {
		n := frontend.ToolNeed{What: "your " + c.DisplayName}
		if c.DisplayName == "" {
			n.What = "your " + c.Provider + " API key"
		}
		if c.Status == apiv1.CredentialConnected {
			n.Status, n.Label = frontend.StatusOK, "Connected"
			return n
		}
		n.Status, n.Label, n.Link = frontend.StatusWarn, "Missing", connections("Or add it now")
		n.Hint = "The first time Claude uses this tool, it gives you a link to a page where you type the key."
		return n
	}
	n := frontend.ToolNeed{What: "your " + c.DisplayName + " account"}
	switch c.Status {
	case apiv1.CredentialConnected:
		n.Status, n.Label = frontend.StatusOK, "Connected"
	case apiv1.CredentialExpired:
		n.Status, n.Label, n.Link = frontend.StatusBad, "Expired", connections("Connect it again")
		n.Hint = "Claude also asks you the next time it uses this tool."
	case apiv1.CredentialNotSetUp:
		n.Status, n.Label = frontend.StatusNever, "Not set up"
		n.Hint = c.DisplayName + " has to be added under Providers before you can connect your account."
		n.Link = &frontend.Action{Label: "Go to Providers", Href: "/ui/providers"}
	default:
		n.Status, n.Label, n.Link = frontend.StatusWarn, "Missing", connections("Or connect it now")
		n.Hint = "The first time Claude uses this tool, it asks you to connect your account."
	}
	return n
}

// toolSwitch is the Tools page's form: switch one tool or tool set of a
// tenant on or off.
type toolSwitch struct {
	Tenant string
	Set    bool // a tool set, not a tool
	Name   string
	On     bool
}

// parseToolSwitch reads the switch form; the error is for a person and
// never quotes the input.
func parseToolSwitch(f url.Values) (toolSwitch, error) {
	sw := toolSwitch{Tenant: f.Get("tenant"), Name: f.Get("name")}
	switch f.Get("kind") {
	case "tool":
	case "set":
		sw.Set = true
	default:
		return sw, errors.New("it does not say whether it is about a tool or a tool set")
	}
	switch f.Get("to") {
	case "on":
		sw.On = true
	case "off":
	default:
		return sw, errors.New("it does not say whether to switch on or off")
	}
	switch {
	case sw.Tenant == "" || len(sw.Tenant) > maxTenantIDLen || tenantIDProblem(sw.Tenant) != "":
		return sw, errors.New("it names no tenant")
	case sw.Name == "" || len(sw.Name) > 128 || strings.IndexFunc(sw.Name, unicode.IsControl) >= 0:
		return sw, errors.New("it names no tool")
	}
	return sw, nil
}

// switchToolHandler is POST /ui/tools.
type switchToolHandler struct{ h *Handler }

func (p switchToolHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sw, err := parseToolSwitch(form)
	if err != nil {
		h.message(w, r, http.StatusBadRequest, frontend.MessageView{
			Title: "This form could not be read",
			Lead:  "Plexus did not do this: " + err.Error() + ".",
			Body:  []string{"Go back, reload the page and try again."},
			Link:  &frontend.Action{Label: "Go to Tools", Href: "/ui/tools"},
		})
		return
	}
	if h.opts.Tools == nil {
		redirect(w, r, "/ui/tools")
		return
	}
	ctx := r.Context()
	if sw.Set {
		_, err = h.opts.Tools.SetToolSetEnabled(ctx, sw.Tenant, sw.Name, sw.On)
	} else {
		_, err = h.opts.Tools.SetToolEnabled(ctx, sw.Tenant, sw.Name, sw.On)
	}
	var fe *apiv1.FieldError
	switch {
	case errors.As(err, &fe), errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		s.setFlash(frontend.FlashError, "Nothing was switched: this tenant has no such tool or tool set any more. The list below is up to date.")
		h.saveAndRedirect(w, r, s, "/ui/tools")
		return
	case err != nil:
		h.fail(w, r, fmt.Errorf("switch tool: %w", err))
		return
	}
	anchor := "tool-" + anchorPart(sw.Name)
	if sw.Set {
		anchor = "set-" + anchorPart(normSet(sw.Name))
	}
	s.setFlash(frontend.FlashOK, h.switchedMessage(ctx, sw))
	h.saveAndRedirect(w, r, s, "/ui/tools#"+anchor)
}

// switchedMessage says what the switch did, in Claude's terms.
func (h *Handler) switchedMessage(ctx context.Context, sw toolSwitch) string {
	if !sw.Set {
		if sw.On {
			return sw.Name + " is on. Claude can use it."
		}
		return sw.Name + " is off. Claude can no longer use it."
	}
	title := setTitle(normSet(sw.Name), nil)
	if ov, err := h.opts.Tools.ToolsOverview(ctx, sw.Tenant); err == nil {
		title = setTitle(normSet(sw.Name), ov.Tools)
	}
	if sw.On {
		return "The " + title + " tools are on. Claude can use them."
	}
	return "The " + title + " tools are off. Claude can no longer use them."
}
