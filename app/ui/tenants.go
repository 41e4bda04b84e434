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

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
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
	// Back: sent by another page's one-click button (a page that needs a
	// tenant): where to go after, errors as a flash.
	Back string
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
	if b := form.Get("back"); b != "" {
		in.Back = cleanBack(b)
	}
	var errs tenantErrors
	errs.Name = tenantNameProblem(in.Name)
	if in.ID == "" && errs.Name == "" {
		in.ID = slug(in.Name)
	}
	errs.ID = tenantIDProblem(in.ID)
	return in, errs
}

// tenantNameProblem says what is wrong with a tenant name, in plain words
// ("" = nothing).
func tenantNameProblem(name string) string {
	switch {
	case name == "":
		return "Enter a name, for example Personal or Work."
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "Use letters, digits, spaces and punctuation only."
	case len(name) > maxTenantNameLen:
		return fmt.Sprintf("Use at most %d characters.", maxTenantNameLen)
	}
	return ""
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
	tenants, err := h.opts.Ops.ListTenants(r.Context())
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

func tenantRow(t apiv1.Tenant) frontend.TenantRow {
	return frontend.TenantRow{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, HostSecret: t.HasHostAppSecret}
}

// createTenantHandler is POST /ui/tenants.
type createTenantHandler struct{ h *Handler }

func (p createTenantHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	in, errs := parseTenantForm(form)
	back := "/ui/tenants"
	flashErrors := in.FromHome || in.Back != ""
	switch {
	case in.FromHome:
		back = "/ui/"
	case in.Back != "":
		back = in.Back
	}
	if !errs.any() {
		// The operation makes the tenant's host-app secret with it; it is
		// not shown here (most people never need one): the tenant's page
		// makes a new one for whoever does.
		_, err := h.opts.Ops.CreateTenant(r.Context(), apiv1.CreateTenantRequest{ID: in.ID, Name: in.Name})
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
			if field, _, _ := opsProblem(err); field == "name" {
				errs.Name = "Plexus cannot use this name. Use letters, digits, spaces and punctuation."
			} else {
				errs.ID = "Plexus cannot use this ID. Use lowercase letters, digits, - and _."
			}
		default:
			h.fail(w, r, fmt.Errorf("create tenant: %w", err))
			return
		}
	}
	if flashErrors {
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
	p.h.renderTenant(w, r, s, http.StatusOK, tenantPageState{})
}

// tenantPageState is what a form left on the tenant's page: typed
// values, errors, a new secret.
type tenantPageState struct {
	rename, renameErr string
	typed, confirmErr string
	secret            string
}

func (h *Handler) renderTenant(w http.ResponseWriter, r *http.Request, s *session, status int, st tenantPageState) {
	t, tenants, ok := h.loadTenant(w, r, s)
	if !ok {
		return
	}
	n, err := h.opts.Ops.CountTenant(r.Context(), t.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("count tenant: %w", err))
		return
	}
	holds := holdsWords(n)
	button := "Delete tenant " + t.ID
	if len(holds) > 0 {
		button += " and its " + strings.Join(holds, ", ")
	}
	rename := st.rename
	if rename == "" && st.renameErr == "" {
		rename = t.Name
	}
	v := frontend.TenantPageView{
		Shell:  h.shell(r, s, t.Name, frontend.NavTenants, tenants),
		Tenant: tenantRow(t),
		Rename: frontend.Field{Name: "name", Label: "Name", Value: rename, Error: st.renameErr, Required: true,
			MaxLength: maxTenantNameLen, Help: "What you call it. Its ID stays " + t.ID + "."},
		Holds: frontend.ListWords(holds),
		Delete: frontend.DangerZone{
			Title: "Delete this tenant",
			Text: "This removes tenant " + t.Name + " with its users, their connected accounts and keys, its providers and its settings. " +
				"Apps set up for it stop working. This cannot be undone.",
			Post:    "/ui/tenants/" + t.ID + "/delete",
			Confirm: t.ID,
			Button:  button,
			Value:   st.typed,
			Error:   st.confirmErr,
		},
	}
	if st.secret != "" {
		v.Secret = &frontend.OnceSecret{
			ID: "host-app-secret", Label: "New host-app secret", Value: st.secret,
			Next: []string{"Put it in your app's settings now. The previous secret, if there was one, no longer works."},
		}
	}
	h.render(w, r, status, s, frontend.TenantDetailPage(v))
}

// holdsWords names what a tenant holds: "3 users", "1 provider",
// "2 connections", "1 API key" (the ones it has).
func holdsWords(n adminops.TenantCounts) []string {
	var out []string
	for _, c := range []struct {
		n         int
		one, many string
	}{
		{n.Users, "user", "users"},
		{n.Providers, "provider", "providers"},
		{n.OAuthConnections, "connection", "connections"},
		{n.APIKeys, "API key", "API keys"},
	} {
		if c.n > 0 {
			out = append(out, count(c.n, c.one, c.many))
		}
	}
	return out
}

// loadTenant reads the tenant named by the path; an unknown one gets the
// 404 page.
func (h *Handler) loadTenant(w http.ResponseWriter, r *http.Request, s *session) (apiv1.Tenant, []apiv1.Tenant, bool) {
	id := r.PathValue("id")
	var t apiv1.Tenant
	err := errNotFoundPage
	if tenantIDProblem(id) == "" {
		t, err = h.opts.Ops.GetTenant(r.Context(), id)
	}
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, errNotFoundPage) || errors.Is(err, vault.ErrInvalid) {
			h.renderNoTenant(w, r, s)
		} else {
			h.fail(w, r, fmt.Errorf("get tenant: %w", err))
		}
		return apiv1.Tenant{}, nil, false
	}
	tenants, err := h.opts.Ops.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return apiv1.Tenant{}, nil, false
	}
	return t, tenants, true
}

var errNotFoundPage = errors.New("no such page")

func (h *Handler) renderNoTenant(w http.ResponseWriter, r *http.Request, _ *session) {
	h.notFound(w, r, "Tenant not found", "There is no tenant with this ID. It may have been deleted.",
		frontend.Action{Label: "Go to Tenants", Href: "/ui/tenants"})
}

// renameTenantHandler is POST /ui/tenants/{id}/rename.
type renameTenantHandler struct{ h *Handler }

func (p renameTenantHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	id := r.PathValue("id")
	if tenantIDProblem(id) != "" {
		h.renderNoTenant(w, r, s)
		return
	}
	name := strings.TrimSpace(form.Get("name"))
	problem := tenantNameProblem(name)
	if problem == "" {
		_, err := h.opts.Ops.RenameTenant(r.Context(), id, name)
		switch {
		case err == nil:
			s.setFlash(frontend.FlashOK, "Tenant renamed to "+name+".")
			h.saveAndRedirect(w, r, s, "/ui/tenants/"+id)
			return
		case errors.Is(err, vault.ErrNotFound):
			h.renderNoTenant(w, r, s)
			return
		case errors.Is(err, vault.ErrInvalid):
			problem = "Plexus cannot use this name. Use letters, digits, spaces and punctuation."
		default:
			h.fail(w, r, fmt.Errorf("rename tenant: %w", err))
			return
		}
	}
	h.renderTenant(w, r, s, http.StatusUnprocessableEntity, tenantPageState{rename: echo(name), renameErr: problem})
}

// rotateSecretHandler is POST /ui/tenants/{id}/secret: a new host-app
// secret, shown in this answer only.
type rotateSecretHandler struct{ h *Handler }

func (p rotateSecretHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	id := r.PathValue("id")
	if tenantIDProblem(id) != "" {
		h.renderNoTenant(w, r, s)
		return
	}
	res, err := h.opts.Ops.RotateHostAppSecret(r.Context(), id)
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrNotFound):
		h.renderNoTenant(w, r, s)
		return
	default:
		h.fail(w, r, fmt.Errorf("rotate host-app secret: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "Host-app secret replaced in the admin UI", "tenant", id)
	h.renderTenant(w, r, s, http.StatusOK, tenantPageState{secret: res.HostAppSecret})
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
	if msg := confirmProblem(typed, id); msg != "" {
		h.renderTenant(w, r, s, http.StatusUnprocessableEntity, tenantPageState{typed: echo(typed), confirmErr: msg})
		return
	}
	t, err := h.opts.Ops.GetTenant(r.Context(), id)
	var n adminops.TenantCounts
	if err == nil {
		n, err = h.opts.Ops.DeleteTenant(r.Context(), id)
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
	msg := "Tenant " + t.Name + " deleted."
	if holds := holdsWords(n); len(holds) > 0 {
		msg = "Tenant " + t.Name + " deleted, with its " + frontend.ListWords(holds) + "."
	}
	s.setFlash(frontend.FlashOK, msg)
	h.saveAndRedirect(w, r, s, "/ui/tenants")
}

// confirmProblem says what is wrong with a typed confirmation ("" = it
// matches want).
func confirmProblem(typed, want string) string {
	switch strings.TrimSpace(typed) {
	case want:
		return ""
	case "":
		return "Type " + want + " to confirm."
	}
	return "That is not " + want + ". Type it exactly, to show this is the one you mean."
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
	h.saveAndRedirect(w, r, s, switchBack(back))
}

// switchBack is where to go after switching tenants: the same page, or
// its list when the page is one record of the previous tenant (a
// provider, a user) that the new one does not have.
func switchBack(back string) string {
	for _, list := range []string{"/ui/providers/", "/ui/users/", "/ui/connections/"} {
		if strings.HasPrefix(back, list) {
			return strings.TrimSuffix(list, "/")
		}
	}
	return back
}

func (h *Handler) tenantExists(ctx context.Context, id string) bool {
	_, err := h.opts.Ops.GetTenant(ctx, id)
	return err == nil
}
