package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

const (
	maxTenantIDLen   = 63
	maxTenantNameLen = 200
)

// tenantInput is the "add a tenant" form, read and checked.
type tenantInput struct {
	ID, Name string
	// FromHome: sent by Home's one-click button; errors go back there
	// as a flash instead of the Tenants page's field errors.
	FromHome bool
}

// tenantErrors are the form's field errors, in plain words.
type tenantErrors struct {
	ID, Name string
}

func (e tenantErrors) any() bool { return e.ID != "" || e.Name != "" }

// parseTenantForm reads the form's fields: the name (required) and the id
// (taken from the name when empty). Its messages are for people and never
// echo more than a short piece of the input.
func parseTenantForm(form url.Values) (tenantInput, tenantErrors) {
	in := tenantInput{
		ID:       strings.TrimSpace(form.Get("entity_id")),
		Name:     strings.TrimSpace(form.Get("name")),
		FromHome: form.Get("from") == "home",
	}
	var errs tenantErrors
	switch {
	case in.Name == "":
		errs.Name = "Enter a name, for example Personal or Work."
	case !utf8.ValidString(in.Name) || strings.IndexFunc(in.Name, unicode.IsControl) >= 0:
		errs.Name = "Use letters, digits, spaces and punctuation only."
	case len(in.Name) > maxTenantNameLen:
		errs.Name = fmt.Sprintf("Use at most %d characters.", maxTenantNameLen)
	}
	if in.ID == "" && errs.Name == "" {
		in.ID = slug(in.Name)
	}
	errs.ID = tenantIDProblem(in.ID)
	return in, errs
}

// tenantIDProblem says what is wrong with a tenant id, in plain words ("" =
// nothing), following vault.ValidateTenantID.
func tenantIDProblem(id string) string {
	switch {
	case id == "":
		return "Choose an ID: lowercase letters, digits, - and _, for example work."
	case len(id) > maxTenantIDLen:
		return fmt.Sprintf("Use at most %d characters.", maxTenantIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "Use only lowercase letters, digits, - and _ (no spaces or capitals)."
		}
	}
	if id[0] == '-' || id[0] == '_' {
		return "Start with a letter or a digit."
	}
	if vault.ValidateTenantID(id) != nil {
		return "Plexus uses this word itself. Choose another ID."
	}
	return ""
}

// slug makes an id from a name: "My Work" -> "my-work".
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= maxTenantIDLen {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func tenantForm(in tenantInput, errs tenantErrors) frontend.TenantForm {
	return frontend.TenantForm{
		Name: frontend.Field{Name: "name", Label: "Name", Value: in.Name, Error: errs.Name, Required: true,
			Help: "What you call it, for example Personal or Work.", MaxLength: maxTenantNameLen},
		ID: frontend.Field{Name: "entity_id", Label: "ID", Value: in.ID, Error: errs.ID, Mono: true, MaxLength: maxTenantIDLen,
			Help: "Used in your apps' settings; it cannot be changed later. Lowercase letters, digits, - and _. Leave it empty to make one from the name."},
	}
}

// tenantsHandler is GET /ui/tenants.
type tenantsHandler struct{ h *Handler }

func (p tenantsHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderTenants(w, r, s, http.StatusOK, tenantForm(tenantInput{}, tenantErrors{}))
}

func (h *Handler) renderTenants(w http.ResponseWriter, r *http.Request, s *session, status int, form frontend.TenantForm) {
	tenants, err := h.opts.Backend.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	v := frontend.TenantsView{Shell: h.shell(r, s, "Tenants", frontend.NavTenants, tenants), Form: form}
	for _, t := range tenants {
		v.Tenants = append(v.Tenants, tenantRow(t))
	}
	h.render(w, r, status, s, frontend.TenantsPage(v))
}

func tenantRow(t vault.Tenant) frontend.TenantRow {
	return frontend.TenantRow{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, HostSecret: t.HasHostAppSecret}
}

// createTenantHandler is POST /ui/tenants.
type createTenantHandler struct{ h *Handler }

func (p createTenantHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	in, errs := parseTenantForm(form)
	back := "/ui/tenants"
	if in.FromHome {
		back = "/ui/"
	}
	if !errs.any() {
		_, err := h.opts.Backend.CreateTenant(r.Context(), vault.Tenant{ID: in.ID, Name: in.Name})
		switch {
		case err == nil:
			h.log.InfoContext(r.Context(), "Tenant created in the admin UI", "tenant", in.ID)
			if s.tenant == "" {
				s.tenant = in.ID
			}
			s.setFlash(frontend.FlashOK, "Tenant "+in.Name+" created.")
			h.saveAndRedirect(w, r, s, back)
			return
		case errors.Is(err, vault.ErrExists):
			errs.ID = "A tenant with this ID exists already. Choose another ID."
		case errors.Is(err, vault.ErrInvalid):
			errs.ID = "Plexus cannot use this ID. Use lowercase letters, digits, - and _."
		default:
			h.fail(w, r, fmt.Errorf("create tenant: %w", err))
			return
		}
	}
	if in.FromHome {
		msg := errs.Name
		if msg == "" {
			msg = errs.ID
		}
		s.setFlash(frontend.FlashError, "The tenant was not created. "+msg)
		h.saveAndRedirect(w, r, s, back)
		return
	}
	h.renderTenants(w, r, s, http.StatusUnprocessableEntity, tenantForm(in, errs))
}

// saveAndRedirect saves the session (a flash) and answers 303.
func (h *Handler) saveAndRedirect(w http.ResponseWriter, r *http.Request, s *session, path string) {
	if err := h.sessions.save(w, r, s); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, path)
}

// tenantHandler is GET /ui/tenants/{id}.
type tenantHandler struct{ h *Handler }

func (p tenantHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderTenant(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) renderTenant(w http.ResponseWriter, r *http.Request, s *session, status int, typed, confirmErr string) {
	t, tenants, ok := h.loadTenant(w, r, s)
	if !ok {
		return
	}
	v := frontend.TenantView{
		Shell:  h.shell(r, s, t.Name, frontend.NavTenants, tenants),
		Tenant: tenantRow(t),
		Delete: frontend.DangerZone{
			Title:   "Delete this tenant",
			Text:    "This removes tenant " + t.Name + " with its users, their connected accounts and keys, and its settings. Apps set up for it stop working. This cannot be undone.",
			Post:    "/ui/tenants/" + t.ID + "/delete",
			Confirm: t.ID,
			Button:  "Delete tenant " + t.ID + " and everything in it",
			Value:   typed,
			Error:   confirmErr,
		},
	}
	h.render(w, r, status, s, frontend.TenantPage(v))
}

// loadTenant reads the tenant named by the path; an unknown one gets the
// 404 page.
func (h *Handler) loadTenant(w http.ResponseWriter, r *http.Request, s *session) (vault.Tenant, []vault.Tenant, bool) {
	id := r.PathValue("id")
	var t vault.Tenant
	err := errNotFoundPage
	if tenantIDProblem(id) == "" {
		t, err = h.opts.Backend.GetTenant(r.Context(), id)
	}
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, errNotFoundPage) || errors.Is(err, vault.ErrInvalid) {
			h.renderNoTenant(w, r, s)
		} else {
			h.fail(w, r, fmt.Errorf("get tenant: %w", err))
		}
		return vault.Tenant{}, nil, false
	}
	tenants, err := h.opts.Backend.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return vault.Tenant{}, nil, false
	}
	return t, tenants, true
}

var errNotFoundPage = errors.New("no such page")

func (h *Handler) renderNoTenant(w http.ResponseWriter, r *http.Request, _ *session) {
	h.message(w, r, http.StatusNotFound, frontend.MessageView{
		Title: "Tenant not found",
		Lead:  "There is no tenant with this ID. It may have been deleted.",
		Link:  &frontend.Action{Label: "Go to Tenants", Href: "/ui/tenants"},
	})
}

// deleteTenantHandler is POST /ui/tenants/{id}/delete, confirmed by typing
// the tenant's id.
type deleteTenantHandler struct{ h *Handler }

func (p deleteTenantHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	id := r.PathValue("id")
	if tenantIDProblem(id) != "" {
		h.renderNoTenant(w, r, s)
		return
	}
	typed := form.Get("confirm")
	if strings.TrimSpace(typed) != id {
		msg := "That is not " + id + ". Type it exactly, to show this is the tenant you mean."
		if strings.TrimSpace(typed) == "" {
			msg = "Type " + id + " to confirm."
		}
		if len(typed) > 200 {
			typed = ""
		}
		h.renderTenant(w, r, s, http.StatusUnprocessableEntity, typed, msg)
		return
	}
	t, err := h.opts.Backend.GetTenant(r.Context(), id)
	if err == nil {
		err = h.opts.Backend.DeleteTenant(r.Context(), id)
	}
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrNotFound):
		h.renderNoTenant(w, r, s)
		return
	default:
		h.fail(w, r, fmt.Errorf("delete tenant: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "Tenant deleted in the admin UI", "tenant", id)
	if s.tenant == id {
		s.tenant = ""
	}
	s.setFlash(frontend.FlashOK, "Tenant "+t.Name+" deleted.")
	h.saveAndRedirect(w, r, s, "/ui/tenants")
}

// switchTenantHandler is POST /ui/tenant: the tenant the pages show.
type switchTenantHandler struct{ h *Handler }

func (p switchTenantHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	id := form.Get("tenant")
	back := cleanBack(form.Get("back"))
	if tenantIDProblem(id) != "" || !h.tenantExists(r.Context(), id) {
		s.setFlash(frontend.FlashError, "That tenant does not exist any more.")
		h.saveAndRedirect(w, r, s, back)
		return
	}
	s.tenant = id
	s.dirty = true
	h.saveAndRedirect(w, r, s, back)
}

func (h *Handler) tenantExists(ctx context.Context, id string) bool {
	_, err := h.opts.Backend.GetTenant(ctx, id)
	return err == nil
}
