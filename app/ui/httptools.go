package ui

// The HTTP tools page (issue 11): a tenant's declarative HTTP tools,
// added by pasting YAML or JSON (what `plexus admin httptool import`
// reads), edited the same way, deleted in a danger zone.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v2"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

const httpToolsSentence = "Tools you define yourself: each one calls a web API with the arguments Claude gives it."

// httpToolExample is the example under the definition field.
const httpToolExample = `name: city_weather
description: Current weather in a city
input_schema:
  type: object
  properties:
    city: {type: string, description: "City name, e.g. Paris"}
  required: [city]
method: GET
url: https://api.openweathermap.org/data/2.5/weather
query:
  q: "{city}"
  units: metric
auth:
  type: api_key            # or: oauth (the person's connection, as a bearer token)
  provider_name: openweathermap
  query_param: appid       # or: header: X-Api-Key
response_pointer: /main`

// httpToolsHandler is GET /ui/http-tools.
type httpToolsHandler struct{ h *Handler }

func (p httpToolsHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "HTTP tools", frontend.NavHTTPTools, httpToolsSentence)
	if !ok {
		return
	}
	list, err := h.opts.Ops.ListHTTPTools(r.Context(), sc.tenant.ID)
	if err != nil && !isUnsupported(err) {
		h.fail(w, r, fmt.Errorf("list http tools: %w", err))
		return
	}
	v := frontend.HTTPToolsView{Shell: h.shell(r, s, "HTTP tools", frontend.NavHTTPTools, sc.tenants), Tenant: sc.ref()}
	for _, t := range list {
		v.Tools = append(v.Tools, httpToolRow(t))
	}
	h.render(w, r, http.StatusOK, s, frontend.HTTPToolsPage(v))
}

func httpToolRow(t apiv1.HTTPTool) frontend.HTTPToolRow {
	row := frontend.HTTPToolRow{Name: t.Name, Description: t.Description, Method: t.Method, URL: t.URL,
		Credential: "None", Status: frontend.StatusNever, StatusLabel: "Saved"}
	if a := t.Auth; a != nil {
		switch {
		case a.Type == "oauth":
			row.Credential = "Each person's " + a.ProviderName + " connection"
		case a.Header != "":
			row.Credential = "Each person's " + a.ProviderName + " API key (header " + a.Header + ")"
		default:
			row.Credential = "Each person's " + a.ProviderName + " API key (query " + a.QueryParam + ")"
		}
	}
	if t.Shown != nil {
		if *t.Shown {
			row.Status, row.StatusLabel = frontend.StatusOK, "Shown"
		} else {
			row.Status, row.StatusLabel, row.Problem = frontend.StatusBad, "Not shown", sentence(t.Problem)
		}
	}
	return row
}

// definitionField is the text area holding a definition.
func definitionField(value, errMsg string) frontend.TextArea {
	return frontend.TextArea{Rows: 12, Field: frontend.Field{
		Name: "definition", Label: "Definition (YAML or JSON)", Value: echo(value), Error: errMsg, Required: true, Mono: true,
		Help: "One tool, a list of tools, or tools: [...]. Open “Example and rules” below for the fields.",
	}}
}

// newHTTPToolHandler is GET /ui/http-tools/_new.
type newHTTPToolHandler struct{ h *Handler }

func (p newHTTPToolHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderHTTPToolEdit(w, r, s, http.StatusOK, nil, "", "")
}

// renderHTTPToolEdit renders the add page (tool nil) or tool's page with
// typed text and an error.
func (h *Handler) renderHTTPToolEdit(w http.ResponseWriter, r *http.Request, s *session, status int, tool *apiv1.HTTPTool, typed, problem string) {
	sc, ok := h.scoped(w, r, s, "HTTP tools", frontend.NavHTTPTools, httpToolsSentence)
	if !ok {
		return
	}
	title := "Add HTTP tools"
	if tool != nil {
		title = tool.Name
	}
	v := frontend.HTTPToolEditView{
		Shell: h.shell(r, s, title, frontend.NavHTTPTools, sc.tenants), Tenant: sc.ref(),
		Adding: tool == nil, Post: "/ui/http-tools", Example: httpToolExample,
		Definition: definitionField(typed, problem),
	}
	if tool != nil {
		v.Row = httpToolRow(*tool)
		v.Post = "/ui/http-tools/" + url.PathEscape(tool.Name)
		if typed == "" && problem == "" {
			v.Definition.Value = definitionYAML(tool.HTTPToolDefinition)
		}
		v.Delete = frontend.DangerZone{
			Title:   "Delete this tool",
			Text:    "Claude stops seeing " + tool.Name + " at once; connected apps are told. Nobody's keys or connections are touched.",
			Post:    "/ui/http-tools/" + url.PathEscape(tool.Name) + "/delete",
			Confirm: tool.Name,
			Button:  "Delete HTTP tool " + tool.Name,
		}
	}
	h.render(w, r, status, s, frontend.HTTPToolEditPage(v))
}

// definitionYAML is a definition as the YAML a person edits, its keys in
// the order of the definition (name first), not sorted: JSON is YAML, and
// yaml.v2 keeps a MapSlice's order.
func definitionYAML(d apiv1.HTTPToolDefinition) string {
	js, err := json.Marshal(d)
	if err != nil {
		return ""
	}
	var ordered yaml.MapSlice
	if err := yaml.Unmarshal(js, &ordered); err != nil {
		return ""
	}
	b, err := yaml.Marshal(ordered)
	if err != nil {
		return ""
	}
	return string(b)
}

// createHTTPToolHandler is POST /ui/http-tools: add the pasted tools.
type createHTTPToolHandler struct{ h *Handler }

func (p createHTTPToolHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "HTTP tools", frontend.NavHTTPTools, httpToolsSentence)
	if !ok {
		return
	}
	typed := form.Get("definition")
	defs, err := adminops.ParseHTTPTools([]byte(typed))
	if err != nil {
		h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, nil, typed, sentence(err.Error()))
		return
	}
	for _, d := range defs {
		if _, err := h.opts.Ops.GetHTTPTool(r.Context(), sc.tenant.ID, d.Name); err == nil {
			h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, nil, typed,
				"There is already an HTTP tool called "+d.Name+". Open it from the list to change it.")
			return
		}
	}
	got, err := h.opts.Ops.ImportHTTPTools(r.Context(), sc.tenant.ID, typed)
	if err != nil {
		if msg, ok := httpToolProblem(err); ok {
			h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, nil, typed, msg)
			return
		}
		h.fail(w, r, fmt.Errorf("add http tools: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "HTTP tools added in the admin UI", "tenant", sc.tenant.ID, "count", len(got.Created))
	s.setFlash(frontend.FlashOK, "Added "+frontend.ListWords(got.Created)+". Claude sees "+count(len(got.Created), "new tool", "new tools")+" now.")
	h.saveAndRedirect(w, r, s, "/ui/http-tools")
}

// httpToolProblem is an operation's refusal of a definition, in words
// naming the field.
func httpToolProblem(err error) (string, bool) {
	if !errors.Is(err, vault.ErrInvalid) {
		return "", false
	}
	msg := err.Error()
	if fe, ok := errors.AsType[*apiv1.FieldError](err); ok && fe.Field != "content" && fe.Field != "definition" && !strings.HasPrefix(msg, fe.Field) {
		msg = fe.Field + ": " + msg
	}
	msg = strings.TrimSpace(msg)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return strings.ToUpper(msg[:1]) + msg[1:], true
}

// loadHTTPTool reads the current tenant's HTTP tool named by the path.
func (h *Handler) loadHTTPTool(w http.ResponseWriter, r *http.Request, s *session) (scope, apiv1.HTTPTool, bool) {
	sc, ok := h.scoped(w, r, s, "HTTP tools", frontend.NavHTTPTools, httpToolsSentence)
	if !ok {
		return scope{}, apiv1.HTTPTool{}, false
	}
	t, err := h.opts.Ops.GetHTTPTool(r.Context(), sc.tenant.ID, r.PathValue("name"))
	switch {
	case err == nil:
		return sc, t, true
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid):
		h.notFound(w, r, "HTTP tool not found", "Tenant "+sc.tenant.Name+" has no HTTP tool by this name. It may have been deleted.",
			frontend.Action{Label: "Go to HTTP tools", Href: "/ui/http-tools"})
	default:
		h.fail(w, r, fmt.Errorf("get http tool: %w", err))
	}
	return scope{}, apiv1.HTTPTool{}, false
}

// httpToolHandler is GET /ui/http-tools/{name}.
type httpToolHandler struct{ h *Handler }

func (p httpToolHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	_, t, ok := p.h.loadHTTPTool(w, r, s)
	if !ok {
		return
	}
	p.h.renderHTTPToolEdit(w, r, s, http.StatusOK, &t, "", "")
}

// updateHTTPToolHandler is POST /ui/http-tools/{name}: replace its
// definition with the edited one.
type updateHTTPToolHandler struct{ h *Handler }

func (p updateHTTPToolHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, t, ok := h.loadHTTPTool(w, r, s)
	if !ok {
		return
	}
	typed := form.Get("definition")
	defs, err := adminops.ParseHTTPTools([]byte(typed))
	switch {
	case err != nil:
		h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, &t, typed, sentence(err.Error()))
		return
	case len(defs) != 1:
		h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, &t, typed, "Here you edit one tool; add others from the list.")
		return
	}
	updated, err := h.opts.Ops.UpdateHTTPTool(r.Context(), sc.tenant.ID, t.Name, defs[0])
	if err != nil {
		if msg, ok := httpToolProblem(err); ok {
			h.renderHTTPToolEdit(w, r, s, http.StatusUnprocessableEntity, &t, typed, msg)
			return
		}
		h.fail(w, r, fmt.Errorf("update http tool: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "HTTP tool changed in the admin UI", "tenant", sc.tenant.ID, "tool", updated.Name)
	s.setFlash(frontend.FlashOK, "Saved "+updated.Name+". Claude uses the new definition from the next call.")
	h.saveAndRedirect(w, r, s, "/ui/http-tools/"+url.PathEscape(updated.Name))
}

// deleteHTTPToolHandler is POST /ui/http-tools/{name}/delete.
type deleteHTTPToolHandler struct{ h *Handler }

func (p deleteHTTPToolHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, t, ok := h.loadHTTPTool(w, r, s)
	if !ok {
		return
	}
	typed := form.Get("confirm")
	if msg := confirmProblem(typed, t.Name); msg != "" {
		h.renderHTTPToolDelete(w, r, s, t, echo(typed), msg)
		return
	}
	if err := h.opts.Ops.DeleteHTTPTool(r.Context(), sc.tenant.ID, t.Name); err != nil && !errors.Is(err, vault.ErrNotFound) {
		h.fail(w, r, fmt.Errorf("delete http tool: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "HTTP tool deleted in the admin UI", "tenant", sc.tenant.ID, "tool", t.Name)
	s.setFlash(frontend.FlashOK, "HTTP tool "+t.Name+" deleted.")
	h.saveAndRedirect(w, r, s, "/ui/http-tools")
}

// renderHTTPToolDelete is the tool's page with the danger zone's error.
func (h *Handler) renderHTTPToolDelete(w http.ResponseWriter, r *http.Request, s *session, t apiv1.HTTPTool, typed, problem string) {
	sc, ok := h.scoped(w, r, s, "HTTP tools", frontend.NavHTTPTools, httpToolsSentence)
	if !ok {
		return
	}
	v := frontend.HTTPToolEditView{
		Shell: h.shell(r, s, t.Name, frontend.NavHTTPTools, sc.tenants), Tenant: sc.ref(),
		Row: httpToolRow(t), Post: "/ui/http-tools/" + url.PathEscape(t.Name), Example: httpToolExample,
		Definition: definitionField(definitionYAML(t.HTTPToolDefinition), ""),
		Delete: frontend.DangerZone{
			Title:   "Delete this tool",
			Text:    "Claude stops seeing " + t.Name + " at once; connected apps are told. Nobody's keys or connections are touched.",
			Post:    "/ui/http-tools/" + url.PathEscape(t.Name) + "/delete",
			Confirm: t.Name, Button: "Delete HTTP tool " + t.Name, Value: typed, Error: problem,
		},
	}
	h.render(w, r, http.StatusUnprocessableEntity, s, frontend.HTTPToolEditPage(v))
}
