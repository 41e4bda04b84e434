package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// The Providers page: the OAuth providers of the current tenant, adding
// one from a preset or by hand, editing one (a change of where its secret
// goes needs the secret again) and deleting one. A client secret goes
// into the vault and never comes back: no page shows it, and a form with
// an error asks for it again rather than echoing it.

const providersSentence = "The services your tools sign in to for you, such as GitHub or Google. " +
	"You add each one once, with an app you register at that service."

// customPreset names the "add by hand" form.
const customPreset = "custom"

// Limits of the provider form.
const (
	maxProviderURL   = 2048
	maxClientIDLen   = 512
	maxSecretLen     = 8 << 10
	maxOriginsInForm = 50
)

// presetInfo is what a page says about a preset: what tools get from it,
// and how to register the app there.
type presetInfo struct {
	text  string
	howTo func(callback string) frontend.HowTo
}

var presetInfos = map[string]presetInfo{
	"github": {
		text: "Repositories, issues and your profile.",
		howTo: func(string) frontend.HowTo {
			return frontend.HowTo{
				Where: "GitHub", Link: "https://github.com/settings/applications/new", LinkLabel: "Open GitHub’s “Register a new OAuth app” page",
				Steps: []string{
					"At GitHub, open Settings → Developer settings → OAuth Apps → New OAuth App (the link above goes straight there).",
					"Application name: anything you will recognise, such as Plexus. Homepage URL: any address, such as your own website.",
					"Authorization callback URL: paste this address.",
					"Press Register application. Copy the Client ID, then press Generate a new client secret and copy the secret.",
				},
				CallbackAfter: 3,
			}
		},
	},
	"google": {
		text: "Your Google profile; with more scopes, Gmail, Calendar or Drive.",
		howTo: func(string) frontend.HowTo {
			return frontend.HowTo{
				Where: "Google", Link: "https://console.cloud.google.com/apis/credentials", LinkLabel: "Open the Google Cloud console’s Credentials page",
				Steps: []string{
					"In the Google Cloud console, choose or create a project and open APIs & Services → Credentials. If it asks, set up the OAuth consent screen first (for yourself: External, with your own address as a test user).",
					"Choose Create credentials → OAuth client ID, with the application type Web application.",
					"Under Authorized redirect URIs, add this address.",
					"Press Create, then copy the Client ID and the Client secret it shows.",
				},
				CallbackAfter: 3,
			}
		},
	},
	"slack": {
		text: "Your Slack profile; with more scopes, channels and messages.",
		howTo: func(callback string) frontend.HowTo {
			h := frontend.HowTo{
				Where: "Slack", Link: "https://api.slack.com/apps", LinkLabel: "Open Slack’s “Your Apps” page",
				Steps: []string{
					"At api.slack.com/apps, choose Create New App → From scratch, give it a name and pick your workspace.",
					"Open OAuth & Permissions. Under Redirect URLs, add this address and save.",
					"Open Basic Information. Under App Credentials, copy the Client ID and the Client Secret.",
				},
				CallbackAfter: 2,
			}
			if strings.HasPrefix(callback, "http://") {
				h.Note = "Slack accepts only https addresses here, even for this computer. Start Plexus with an https public URL " +
					"(plexus serve --public-url) before you add Slack."
			}
			return h
		},
	},
	"microsoft": {
		text: "Your Microsoft account; with more scopes, Outlook mail and calendar.",
		howTo: func(string) frontend.HowTo {
			return frontend.HowTo{
				Where: "Microsoft", Link: "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
				LinkLabel: "Open App registrations in the Microsoft Entra admin center",
				Steps: []string{
					"In the Microsoft Entra admin center (or the Azure portal), open App registrations → New registration, and choose who may sign in (for personal and work accounts: any organizational directory and personal Microsoft accounts).",
					"Under Redirect URI, choose the platform Web and paste this address.",
					"Press Register and copy the Application (client) ID.",
					"Open Certificates & secrets → New client secret, and copy its Value (not its Secret ID).",
				},
				CallbackAfter: 2,
			}
		},
	},
	customPreset: {
		text: "Any service that signs people in with OAuth 2.0.",
		howTo: func(string) frontend.HowTo {
			return frontend.HowTo{
				Where: "the service",
				Steps: []string{
					"At the service, register an OAuth 2.0 client (it may be called an app, an integration or a client) of the kind for web servers.",
					"Give it this redirect (callback) address.",
					"Copy its client ID and client secret, and look up its authorization and token URLs in the service’s documentation.",
				},
				CallbackAfter: 2,
			}
		},
	},
}

// presetOrder is the order of the tiles.
var presetOrder = []string{"github", "google", "slack", "microsoft", customPreset}

// displayName is how a page names a provider: its preset's name (GitHub)
// when it came from one, else its own name.
func (h *Handler) displayName(p apiv1.Provider) string {
	for _, pr := range h.opts.Ops.Presets() {
		if pr.Name == p.Preset && p.Name == pr.Name {
			return pr.DisplayName
		}
	}
	return p.Name
}

func (h *Handler) preset(name string) (apiv1.Preset, bool) {
	for _, pr := range h.opts.Ops.Presets() {
		if pr.Name == name {
			return pr, true
		}
	}
	return apiv1.Preset{}, false
}

// providersHandler is GET /ui/providers.
type providersHandler struct{ h *Handler }

func (p providersHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "Providers", frontend.NavProviders, providersSentence)
	if !ok {
		return
	}
	ps, err := h.opts.Ops.ListProviders(r.Context(), sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("list providers: %w", err))
		return
	}
	v := frontend.ProvidersView{Shell: h.shell(r, s, "Providers", frontend.NavProviders, sc.tenants), Tenant: sc.ref()}
	for _, pr := range ps {
		row, err := h.providerRow(r, sc.tenant.ID, pr)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		v.Providers = append(v.Providers, row)
	}
	for _, name := range presetOrder {
		t := frontend.PresetTile{Name: name, Display: "Another service", Text: presetInfos[name].text, Href: "/ui/providers/add/" + name}
		if pr, ok := h.preset(name); ok {
			t.Display = pr.DisplayName
			if i := slices.IndexFunc(ps, func(p apiv1.Provider) bool { return p.Name == name }); i >= 0 {
				t.Added = ps[i].Name
				t.Href = "/ui/providers/" + ps[i].Name
			}
		}
		v.Presets = append(v.Presets, t)
	}
	h.render(w, r, http.StatusOK, s, frontend.ProvidersPage(v))
}

func (h *Handler) providerRow(r *http.Request, tenantID string, p apiv1.Provider) (frontend.ProviderRow, error) {
	n, err := h.opts.Ops.ProviderConnections(r.Context(), tenantID, p.Name)
	if err != nil {
		return frontend.ProviderRow{}, fmt.Errorf("count connections to %s: %w", p.Name, err)
	}
	kind := "Custom"
	if pr, ok := h.preset(p.Preset); ok {
		kind = pr.DisplayName + " preset"
	}
	cb := p.RedirectURL
	if cb == "" {
		cb = h.opts.Ops.CallbackURL(tenantID, p.Name)
	}
	return frontend.ProviderRow{Name: p.Name, Display: h.displayName(p), Kind: kind, ClientID: p.ClientID, Connections: n, CallbackURL: cb}, nil
}

// providerInput is the provider form, read: trimmed values, the scopes
// and API origins split.
type providerInput struct {
	Preset, Name, ClientID, Secret                   string
	AuthURL, TokenURL, UserURL, RevokeURL, ScopesRaw string
	OriginsRaw                                       string
	Scopes                                           []string
	Origins                                          []string
}

// providerErrors are a provider form's problems by field name (the JSON
// names: provider_name, client_id, ...); "" is the form as a whole.
type providerErrors map[string]string

// parseProviderForm reads a provider form and checks what a person can
// get wrong before the operation runs: missing fields, lengths, a scope
// or an origin list that does not parse. The deeper rules (https,
// origins) are the operation's. custom says whether the endpoint fields
// belong to this form; requireSecret, whether the client secret must be
// there. Messages never echo a value.
func parseProviderForm(form url.Values, custom, requireSecret bool) (providerInput, providerErrors) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	in := providerInput{
		Preset: get("preset"), Name: get("provider_name"), ClientID: get("client_id"),
		// A secret is taken as pasted, only the line breaks a paste
		// may add around it are dropped.
		Secret:    strings.Trim(form.Get("client_secret"), "\r\n"),
		ScopesRaw: get("scopes"),
	}
	if custom {
		in.AuthURL, in.TokenURL, in.UserURL, in.RevokeURL = get("authorization_url"), get("token_url"), get("userinfo_url"), get("revocation_url")
		in.OriginsRaw = strings.TrimSpace(form.Get("api_origins"))
	}
	errs := providerErrors{}
	if in.Name != "" {
		if err := vault.ValidateProviderName(in.Name); err != nil {
			errs["provider_name"] = "Use lowercase letters, digits, - and _, starting with a letter or digit (at most 63), for example gitlab."
		}
	}
	switch {
	case in.ClientID == "":
		errs["client_id"] = "Paste the client ID the service gave you."
	case len(in.ClientID) > maxClientIDLen:
		errs["client_id"] = fmt.Sprintf("This is longer than a client ID can be (%d characters).", maxClientIDLen)
	}
	switch {
	case in.Secret == "" && requireSecret:
		errs["client_secret"] = "Paste the client secret the service gave you."
	case len(in.Secret) > maxSecretLen:
		errs["client_secret"] = "This is longer than a client secret can be."
	case strings.ContainsAny(in.Secret, "\r\n"):
		errs["client_secret"] = "Paste the secret on one line."
	}
	if in.ScopesRaw != "" {
		sc, err := apiv1.ParseScopes(in.ScopesRaw)
		if err != nil {
			errs["scopes"] = sentence(err.Error())
		} else {
			in.Scopes = sc
		}
	}
	if custom {
		// The one rule for where a secret may go (egress.CheckURL), here
		// too, so every address's problem shows at once.
		for _, f := range []struct{ field, v string }{
			{"authorization_url", in.AuthURL}, {"token_url", in.TokenURL}, {"userinfo_url", in.UserURL}, {"revocation_url", in.RevokeURL},
		} {
			switch {
			case len(f.v) > maxProviderURL:
				errs[f.field] = fmt.Sprintf("Use at most %d characters.", maxProviderURL)
			case f.v != "":
				if err := egress.CheckURL(f.v); err != nil {
					errs[f.field] = sentence(err.Error())
				}
			}
		}
		if in.AuthURL == "" {
			errs["authorization_url"] = "Paste the address where the service asks people to sign in and agree (https://…)."
		}
		if in.TokenURL == "" {
			errs["token_url"] = "Paste the address where Plexus trades the sign-in for a token (https://…)."
		}
		in.Origins = strings.FieldsFunc(in.OriginsRaw, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
		switch {
		case len(in.Origins) > maxOriginsInForm:
			errs["api_origins"] = fmt.Sprintf("Use at most %d addresses.", maxOriginsInForm)
		case len(in.Origins) == 0 && in.UserURL == "":
			errs["api_origins"] = "Add the address of the service’s API, such as https://api.example.com (or a user info URL): Plexus sends the account’s tokens only there."
		}
	}
	return in, errs
}

// addProviderHandler is GET /ui/providers/add/{preset}.
type addProviderHandler struct{ h *Handler }

func (p addProviderHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	preset := r.PathValue("preset")
	if _, ok := presetInfos[preset]; !ok {
		h.notFound(w, r, "Page not found", "Plexus has no preset by this name.", frontend.Action{Label: "Go to Providers", Href: "/ui/providers"})
		return
	}
	name := preset
	if preset == customPreset {
		name = ""
	}
	h.renderAddProvider(w, r, s, http.StatusOK, preset, providerInput{Preset: preset, Name: name}, providerErrors{}, false)
}

// renderAddProvider shows the add form of a preset (or the custom one)
// with what was typed and its problems; retype asks for the secret again.
func (h *Handler) renderAddProvider(w http.ResponseWriter, r *http.Request, s *session, status int, preset string, in providerInput, errs providerErrors, retype bool) {
	sc, ok := h.scoped(w, r, s, "Providers", frontend.NavProviders, providersSentence)
	if !ok {
		return
	}
	custom := preset == customPreset
	display := "another service"
	title := "Add a service"
	if pr, ok := h.preset(preset); ok {
		display = pr.DisplayName
		title = "Add " + pr.DisplayName
	}
	name := in.Name
	if name == "" || errs["provider_name"] != "" {
		name = preset
		if custom {
			name = "NAME"
		}
	}
	callback := h.opts.Ops.CallbackURL(sc.tenant.ID, name)
	v := frontend.AddProviderView{
		Shell:    h.shell(r, s, title, frontend.NavProviders, sc.tenants),
		Tenant:   sc.ref(),
		Display:  display,
		HowTo:    presetInfos[preset].howTo(callback),
		Callback: callback,
		Form:     h.providerForm("/ui/providers", custom, true, in, errs, retype),
	}
	if base := h.opts.Ops.CallbackURL(sc.tenant.ID, "x"); base != "" {
		v.CallbackBase = strings.TrimSuffix(base, "x")
	}
	v.Form.Button = "Add " + display
	if custom {
		v.Form.Button = "Add service"
	}
	h.render(w, r, status, s, frontend.AddProviderPage(v))
}

// providerForm is the add or edit form's fields, filled with in.
func (h *Handler) providerForm(post string, custom, adding bool, in providerInput, errs providerErrors, retype bool) frontend.ProviderForm {
	f := frontend.ProviderForm{
		Post:   post,
		Custom: custom,
		Preset: in.Preset,
		Name: frontend.Field{Name: "provider_name", Label: "Name in Plexus", Value: echo(in.Name), Error: errs["provider_name"], Mono: true,
			MaxLength: 63, Required: custom,
			Help: "Tools ask for a service by this name, so keep the suggested one unless you add a second app of the same service. " +
				"Lowercase letters, digits, - and _."},
		ClientID: frontend.Field{Name: "client_id", Label: "Client ID", Value: echo(in.ClientID), Error: errs["client_id"], Mono: true,
			Required: adding, MaxLength: maxClientIDLen},
		Secret: frontend.Field{Name: "client_secret", Label: "Client secret", Type: "password", Error: errs["client_secret"], Mono: true,
			Required: adding, Help: "Plexus locks it away and never shows it again."},
		Scopes: frontend.Field{Name: "scopes", Label: "Scopes", Value: echo(in.ScopesRaw), Error: errs["scopes"], Mono: true,
			Help: "What Plexus asks the service for, separated by spaces. Leave empty for the preset’s own."},
		Error: errs[""],
	}
	if retype && f.Secret.Error == "" {
		f.Secret.Help = "For your safety, paste it again: Plexus never sends a secret back to your browser."
	}
	if adding && !custom {
		if pr, ok := h.preset(in.Preset); ok && len(pr.Scopes) > 0 {
			f.Scopes.Help = "What Plexus asks " + pr.DisplayName + " for, separated by spaces. Leave it empty for the usual: " + strings.Join(pr.Scopes, " ") + "."
		}
	}
	if !adding {
		f.Scopes.Help = "What Plexus asks the service for, separated by spaces. Accounts connected before keep what they agreed to."
	}
	if custom {
		f.Name.Help = "Tools ask for the service by this name, such as gitlab; it also ends the callback address above. Lowercase letters, digits, - and _."
		f.Scopes.Help = "What Plexus asks the service for, separated by spaces, as its documentation names them."
		f.AuthURL = frontend.Field{Name: "authorization_url", Label: "Authorization URL", Value: echo(in.AuthURL), Error: errs["authorization_url"],
			Mono: true, Required: true, Placeholder: "https://example.com/oauth/authorize", Help: "Where people sign in and agree."}
		f.TokenURL = frontend.Field{Name: "token_url", Label: "Token URL", Value: echo(in.TokenURL), Error: errs["token_url"],
			Mono: true, Required: true, Placeholder: "https://example.com/oauth/token", Help: "Where Plexus trades the sign-in for a token, with the client secret."}
		f.UserURL = frontend.Field{Name: "userinfo_url", Label: "User info URL (optional)", Value: echo(in.UserURL), Error: errs["userinfo_url"],
			Mono: true, Help: "Where Plexus can ask whose account it is."}
		f.RevokeURL = frontend.Field{Name: "revocation_url", Label: "Revocation URL (optional)", Value: echo(in.RevokeURL), Error: errs["revocation_url"],
			Mono: true, Help: "Where Plexus cancels a token when you disconnect."}
		f.Origins = frontend.TextArea{Rows: 3, Field: frontend.Field{Name: "api_origins", Label: "API addresses", Value: echo(in.OriginsRaw),
			Error: errs["api_origins"], Mono: true, Placeholder: "https://api.example.com",
			Help: "The only addresses Plexus sends the account’s tokens to, one a line (https://host, no path). Optional when you gave a user info URL: then its address is used."}}
	}
	return f
}

// createProviderHandler is POST /ui/providers.
type createProviderHandler struct{ h *Handler }

func (p createProviderHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	preset := strings.TrimSpace(form.Get("preset"))
	if _, ok := presetInfos[preset]; !ok {
		preset = customPreset
	}
	custom := preset == customPreset
	in, errs := parseProviderForm(form, custom, true)
	in.Preset = preset
	if custom && in.Name == "" {
		errs["provider_name"] = "Choose a name, for example gitlab."
	}
	sc, ok := h.scoped(w, r, s, "Providers", frontend.NavProviders, providersSentence)
	if !ok {
		return
	}
	if len(errs) == 0 {
		req := apiv1.ProviderRequest{
			ProviderName: in.Name, ClientID: in.ClientID, ClientSecret: in.Secret,
			AuthorizationURL: in.AuthURL, TokenURL: in.TokenURL, UserinfoURL: in.UserURL, RevocationURL: in.RevokeURL,
			Scopes: in.Scopes, APIOrigins: in.Origins,
		}
		if !custom {
			req.Preset = preset
		}
		created, err := h.opts.Ops.CreateProvider(r.Context(), sc.tenant.ID, req)
		switch {
		case err == nil:
			h.log.InfoContext(r.Context(), "Provider added in the admin UI", "tenant", sc.tenant.ID, "provider", created.Name)
			s.setFlash(frontend.FlashOK, h.displayName(created)+" added. Next, connect your account on Connections & keys.")
			h.saveAndRedirect(w, r, s, "/ui/providers/"+created.Name)
			return
		case errors.Is(err, vault.ErrExists):
			errs["provider_name"] = "This tenant has a provider called " + in.Name + " already. Choose another name, or change that one."
		default:
			field, msg, ok := opsProblem(err)
			if !ok {
				h.fail(w, r, fmt.Errorf("create provider: %w", err))
				return
			}
			errs[providerField(field)] = msg
		}
	}
	h.renderAddProvider(w, r, s, http.StatusUnprocessableEntity, preset, in, errs, in.Secret != "")
}

// providerField is the form field an operation's field error belongs to;
// one the form does not show goes to the form as a whole.
func providerField(field string) string {
	switch field {
	case "provider_name", "client_id", "client_secret", "authorization_url", "token_url", "userinfo_url", "revocation_url", "scopes", "api_origins":
		return field
	}
	return ""
}

// providerHandler is GET /ui/providers/{name}.
type providerHandler struct{ h *Handler }

func (p providerHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderProvider(w, r, s, http.StatusOK, nil, providerErrors{}, providerPageState{})
}

// providerPageState is what a form left on a provider's page.
type providerPageState struct {
	replaceErr        string
	typed, confirmErr string
	retype            bool
}

// loadProvider reads the current tenant's provider named by the path; an
// unknown one (or another tenant's) gets the 404 page.
func (h *Handler) loadProvider(w http.ResponseWriter, r *http.Request, s *session) (scope, apiv1.Provider, bool) {
	sc, ok := h.scoped(w, r, s, "Providers", frontend.NavProviders, providersSentence)
	if !ok {
		return scope{}, apiv1.Provider{}, false
	}
	name := r.PathValue("name")
	pr, err := h.opts.Ops.GetProvider(r.Context(), sc.tenant.ID, name)
	if err == nil && vault.ValidateProviderName(name) != nil {
		err = vault.ErrNotFound
	}
	switch {
	case err == nil:
		return sc, pr, true
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		h.notFound(w, r, "Provider not found", "Tenant "+sc.tenant.Name+" has no provider by this name. It may have been deleted, or belong to another tenant.",
			frontend.Action{Label: "Go to Providers", Href: "/ui/providers"})
	default:
		h.fail(w, r, fmt.Errorf("get provider: %w", err))
	}
	return scope{}, apiv1.Provider{}, false
}

func (h *Handler) renderProvider(w http.ResponseWriter, r *http.Request, s *session, status int, typed *providerInput, errs providerErrors, st providerPageState) {
	sc, pr, ok := h.loadProvider(w, r, s)
	if !ok {
		return
	}
	row, err := h.providerRow(r, sc.tenant.ID, pr)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, isPreset := h.preset(pr.Preset)
	in := providerInput{
		Name: pr.Name, ClientID: pr.ClientID, ScopesRaw: strings.Join(pr.Scopes, " "),
		AuthURL: pr.AuthorizationURL, TokenURL: pr.TokenURL, UserURL: pr.UserinfoURL, RevokeURL: pr.RevocationURL,
		OriginsRaw: strings.Join(pr.APIOrigins, "\n"),
	}
	if typed != nil {
		in = *typed
	}
	base := "/ui/providers/" + pr.Name
	v := frontend.ProviderView{
		Shell:     h.shell(r, s, row.Display, frontend.NavProviders, sc.tenants),
		Tenant:    sc.ref(),
		Row:       row,
		Preset:    isPreset,
		SecretSet: pr.ClientSecretSet,
		Form:      h.providerForm(base, !isPreset, false, in, errs, st.retype),
		Replace: frontend.ProviderForm{Post: base + "/secret", Button: "Replace secret",
			Secret: frontend.Field{Name: "new_client_secret", Label: "New client secret", Type: "password", Mono: true, Required: true,
				Error: st.replaceErr, Help: "After you make a new secret at the service. Connected accounts stay connected."}},
		Delete: frontend.DangerZone{
			Title: "Delete this provider",
			Text: "Tools stop using " + row.Display + " in tenant " + sc.tenant.Name + ", and every account connected to it is disconnected here. " +
				"The app you registered at the service stays there; delete it there too if you no longer need it.",
			Post:    base + "/delete",
			Confirm: pr.Name,
			Button:  "Delete provider " + pr.Name,
			Value:   st.typed,
			Error:   st.confirmErr,
		},
	}
	if row.Connections > 0 {
		v.Delete.Button += " and its " + count(row.Connections, "connection", "connections")
	}
	v.Form.Button = "Save changes"
	what := "the client ID"
	v.Form.Secret.Label = "Client secret (only for a new client ID)"
	if !isPreset {
		what = "the client ID, a URL or the API addresses"
		v.Form.Secret.Label = "Client secret (only for a new client ID or address)"
	}
	v.Form.Secret.Help = "Leave it empty, unless you change " + what + ": then paste the secret again, so that Plexus sends it only where you confirm."
	if row.Connections > 0 {
		v.Form.Secret.Help += " Such a change disconnects the " + count(row.Connections, "account", "accounts") +
			" connected now; they connect again the next time a tool needs " + row.Display + "."
	}
	if st.retype && errs["client_secret"] == "" {
		v.Form.Secret.Help = "For your safety, paste it again: Plexus never sends a secret back to your browser."
	}
	if isPreset {
		v.Facts = [][2]string{
			{"Authorization URL", pr.AuthorizationURL}, {"Token URL", pr.TokenURL},
			{"User info URL", frontend.OrDash(pr.UserinfoURL)}, {"Revocation URL", frontend.OrDash(pr.RevocationURL)},
			{"API addresses", strings.Join(pr.APIOrigins, ", ")},
		}
	}
	if !pr.ClientSecretSet {
		v.Notice = &frontend.Notice{Status: frontend.StatusWarn, Text: []string{"This provider has no client secret. Most services need one: replace it below."}}
	}
	h.render(w, r, status, s, frontend.ProviderPage(v))
}

// updateProviderHandler is POST /ui/providers/{name}: the settings form.
type updateProviderHandler struct{ h *Handler }

func (p updateProviderHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, pr, ok := h.loadProvider(w, r, s)
	if !ok {
		return
	}
	_, isPreset := h.preset(pr.Preset)
	in, errs := parseProviderForm(form, !isPreset, false)
	in.Name = pr.Name
	if len(errs) == 0 {
		patch, changed := providerPatch(pr, in, !isPreset)
		if !changed {
			s.setFlash(frontend.FlashOK, "Nothing to save: the settings are as they were.")
			h.saveAndRedirect(w, r, s, "/ui/providers/"+pr.Name)
			return
		}
		res, err := h.opts.Ops.UpdateProvider(r.Context(), sc.tenant.ID, pr.Name, patch)
		switch {
		case err == nil:
			msg := h.displayName(pr) + " saved."
			if res.ConnectionsDropped > 0 {
				msg = h.displayName(pr) + " saved. " + count(res.ConnectionsDropped, "connected account was", "connected accounts were") +
					" disconnected; they connect again the next time a tool needs it."
			}
			h.log.InfoContext(r.Context(), "Provider changed in the admin UI", "tenant", sc.tenant.ID, "provider", pr.Name, "dropped", res.ConnectionsDropped)
			s.setFlash(frontend.FlashOK, msg)
			h.saveAndRedirect(w, r, s, "/ui/providers/"+pr.Name)
			return
		case errors.Is(err, adminops.ErrSecretRequired):
			n, _ := h.opts.Ops.ProviderConnections(r.Context(), sc.tenant.ID, pr.Name)
			msg := "Paste the client secret again to change where Plexus sends it."
			if n > 0 {
				msg += " This change disconnects " + count(n, "account", "accounts") + "."
			}
			errs["client_secret"] = msg
		case errors.Is(err, vault.ErrNotFound):
			h.notFound(w, r, "Provider not found", "This provider was deleted meanwhile.", frontend.Action{Label: "Go to Providers", Href: "/ui/providers"})
			return
		default:
			field, msg, ok := opsProblem(err)
			if !ok {
				h.fail(w, r, fmt.Errorf("update provider: %w", err))
				return
			}
			errs[providerField(field)] = msg
		}
	}
	h.renderProvider(w, r, s, http.StatusUnprocessableEntity, &in, errs, providerPageState{retype: in.Secret != ""})
}

// providerPatch is the change from pr to what the form says: only the
// fields that differ (so an untouched field never counts as a change of
// destination), and the secret when one was typed.
func providerPatch(pr apiv1.Provider, in providerInput, custom bool) (apiv1.ProviderPatch, bool) {
	var patch apiv1.ProviderPatch
	changed := false
	set := func(dst **string, old, v string) {
		if v != old {
			*dst = &v
			changed = true
		}
	}
	set(&patch.ClientID, pr.ClientID, in.ClientID)
	if strings.Join(in.Scopes, " ") != strings.Join(pr.Scopes, " ") {
		sc := apiv1.Scopes(in.Scopes)
		if sc == nil {
			sc = apiv1.Scopes{}
		}
		patch.Scopes = &sc
		changed = true
	}
	if custom {
		set(&patch.AuthorizationURL, pr.AuthorizationURL, in.AuthURL)
		set(&patch.TokenURL, pr.TokenURL, in.TokenURL)
		set(&patch.UserinfoURL, pr.UserinfoURL, in.UserURL)
		set(&patch.RevocationURL, pr.RevocationURL, in.RevokeURL)
		if !slices.Equal(in.Origins, pr.APIOrigins) {
			o := slices.Clone(in.Origins)
			if o == nil {
				o = []string{}
			}
			patch.APIOrigins = &o
			changed = true
		}
	}
	if in.Secret != "" {
		sec := in.Secret
		patch.ClientSecret = &sec
		changed = true
	}
	return patch, changed
}

// replaceSecretHandler is POST /ui/providers/{name}/secret.
type replaceSecretHandler struct{ h *Handler }

func (p replaceSecretHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, pr, ok := h.loadProvider(w, r, s)
	if !ok {
		return
	}
	secret := strings.Trim(form.Get("new_client_secret"), "\r\n")
	problem := ""
	switch {
	case strings.TrimSpace(secret) == "":
		problem = "Paste the new client secret."
	case len(secret) > maxSecretLen:
		problem = "This is longer than a client secret can be."
	case strings.ContainsAny(secret, "\r\n"):
		problem = "Paste the secret on one line."
	}
	if problem == "" {
		_, err := h.opts.Ops.UpdateProvider(r.Context(), sc.tenant.ID, pr.Name, apiv1.ProviderPatch{ClientSecret: &secret})
		switch {
		case err == nil:
			s.setFlash(frontend.FlashOK, "The client secret of "+h.displayName(pr)+" was replaced.")
			h.saveAndRedirect(w, r, s, "/ui/providers/"+pr.Name)
			return
		case errors.Is(err, vault.ErrInvalid):
			_, problem, _ = opsProblem(err)
		default:
			h.fail(w, r, fmt.Errorf("replace client secret: %w", err))
			return
		}
	}
	h.renderProvider(w, r, s, http.StatusUnprocessableEntity, nil, providerErrors{}, providerPageState{replaceErr: problem})
}

// deleteProviderHandler is POST /ui/providers/{name}/delete, confirmed by
// typing the provider's name.
type deleteProviderHandler struct{ h *Handler }

func (p deleteProviderHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, pr, ok := h.loadProvider(w, r, s)
	if !ok {
		return
	}
	typed := form.Get("confirm")
	if msg := confirmProblem(typed, pr.Name); msg != "" {
		h.renderProvider(w, r, s, http.StatusUnprocessableEntity, nil, providerErrors{}, providerPageState{typed: echo(typed), confirmErr: msg})
		return
	}
	n, err := h.opts.Ops.ProviderConnections(r.Context(), sc.tenant.ID, pr.Name)
	if err == nil {
		err = h.opts.Ops.DeleteProvider(r.Context(), sc.tenant.ID, pr.Name)
	}
	switch {
	case err == nil:
	case errors.Is(err, vault.ErrNotFound):
		h.notFound(w, r, "Provider not found", "This provider was deleted meanwhile.", frontend.Action{Label: "Go to Providers", Href: "/ui/providers"})
		return
	default:
		h.fail(w, r, fmt.Errorf("delete provider: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "Provider deleted in the admin UI", "tenant", sc.tenant.ID, "provider", pr.Name)
	msg := "Provider " + h.displayName(pr) + " deleted."
	if n > 0 {
		msg = "Provider " + h.displayName(pr) + " deleted, with its " + count(n, "connection", "connections") + "."
	}
	s.setFlash(frontend.FlashOK, msg)
	h.saveAndRedirect(w, r, s, "/ui/providers")
}
