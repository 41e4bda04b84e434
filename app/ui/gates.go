package ui

// The "Code-protected tools" page (/ui/gates, linked from Tools): the
// current tenant's TOTP gates (a tool set whose tools answer "locked"
// until the chat's session is unlocked with a code from an authenticator
// app) and its tool search. Putting a gate on a set, or asking for a new
// QR code, answers the page with the QR code and the key, shown this once
// (never stored in the session, never redirected through a cookie).
//
// The QR code is inline SVG drawn on the server (one <path>), so the
// page passes the UI's CSP as it is (img-src 'self': no data: images).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// GatesOps is what the gates page needs; *adminops.Service satisfies it.
// The page finds it on Options.Tools (the same service), so the daemon's
// wiring needs no new field.
type GatesOps interface {
	ListGates(ctx context.Context, tenantID string) (apiv1.GateList, error)
	CreateGate(ctx context.Context, tenantID string, in apiv1.GateRequest) (apiv1.GateEnrollment, error)
	EnrollGate(ctx context.Context, tenantID, toolSet string) (apiv1.GateEnrollment, error)
	UpdateGate(ctx context.Context, tenantID, toolSet string, in apiv1.GateRequest) (apiv1.Gate, error)
	DeleteGate(ctx context.Context, tenantID, toolSet string) error
	SetToolSearch(ctx context.Context, tenantID string, enabled bool) (apiv1.GateList, error)
}

const (
	gatesPath  = "/ui/gates"
	gatesTitle = "Code-protected tools"
	gatesLead  = "Ask for a code from your phone before Claude can use a set of tools."
)

func (h *Handler) gatesOps() GatesOps {
	g, _ := h.opts.Tools.(GatesOps)
	return g
}

// gatesRoutes adds the page's routes to m.
func (h *Handler) gatesRoutes(m *http.ServeMux) {
	m.Handle("GET "+gatesPath, h.page(gatesHandler{h}))
	m.Handle("POST "+gatesPath, h.form(gateFormHandler{h}))
}

// gatesHandler is GET /ui/gates.
type gatesHandler struct{ h *Handler }

func (p gatesHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderGates(w, r, s, http.StatusOK, gatesState{})
}

// gatesState is what a POST hands back to the page: the form as typed and
// its errors, or an enrollment to show once.
type gatesState struct {
	add      frontend.GateForm
	enrolled *apiv1.GateEnrollment
}

func (h *Handler) renderGates(w http.ResponseWriter, r *http.Request, s *session, status int, st gatesState) {
	sc, ok := h.scoped(w, r, s, gatesTitle, frontend.NavTools, gatesLead)
	if !ok {
		return
	}
	v := frontend.GatesView{Shell: h.shell(r, s, gatesTitle, frontend.NavTools, sc.tenants), Tenant: sc.ref(), Add: st.add}
	ops := h.gatesOps()
	if ops == nil {
		v.Unavailable = true
		h.render(w, r, status, s, frontend.GatesPage(v))
		return
	}
	ctx := r.Context()
	list, err := ops.ListGates(ctx, sc.tenant.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("gates of %s: %w", sc.tenant.ID, err))
		return
	}
	v.SearchOn = list.SearchTools
	var tools []apiv1.ToolStatus
	if ov, err := h.opts.Tools.ToolsOverview(ctx, sc.tenant.ID); err == nil {
		tools = ov.Tools
	}
	gated := map[string]bool{}
	for _, g := range list.Gates {
		gated[normSet(g.ToolSet)] = true
		v.Gates = append(v.Gates, gateRow(g, tools))
	}
	for _, t := range tools {
		for _, set := range t.ToolSets {
			if n := normSet(set); n != "" && !gated[n] && !slices.ContainsFunc(v.Sets, func(o frontend.Option) bool { return o.Value == n }) {
				v.Sets = append(v.Sets, frontend.Option{Value: n, Label: setTitle(n, tools)})
			}
		}
	}
	slices.SortFunc(v.Sets, func(a, b frontend.Option) int { return strings.Compare(a.Label, b.Label) })
	if v.Add.UnlockFor == "" {
		v.Add.UnlockFor = "15"
	}
	if v.Add.CoolOff == "" {
		v.Add.CoolOff = "15"
	}
	if e := st.enrolled; e != nil {
		qr, err := qrSVG(e.OTPAuthURI)
		if err != nil {
			h.fail(w, r, fmt.Errorf("QR code: %w", err))
			return
		}
		v.Enrolled = &frontend.GateEnrolled{ToolSet: e.Gate.ToolSet, Title: setTitle(normSet(e.Gate.ToolSet), tools),
			QR: qr, URI: e.OTPAuthURI, Secret: e.Secret, Account: e.Gate.TenantID + "/" + e.Gate.ToolSet}
	}
	h.render(w, r, status, s, frontend.GatesPage(v))
}

// gateRow is one gate in words.
func gateRow(g apiv1.Gate, tools []apiv1.ToolStatus) frontend.GateRow {
	row := frontend.GateRow{
		ToolSet: g.ToolSet, Title: setTitle(normSet(g.ToolSet), tools), Anchor: "gate-" + anchorPart(g.ToolSet),
		UnlockFor: strconv.Itoa(g.UnlockForMinutes), CoolOff: strconv.Itoa(g.CoolOffMinutes),
		Status: frontend.StatusOK, Label: "On",
	}
	for _, t := range tools {
		if slices.ContainsFunc(t.ToolSets, func(s string) bool { return normSet(s) == normSet(g.ToolSet) }) {
			row.Tools = append(row.Tools, t.Name)
		}
	}
	switch {
	case g.CoolingUntil != nil:
		row.Status, row.Label = frontend.StatusBad, "Paused"
		row.Note = "5 wrong codes in a row: no code is taken until " + g.CoolingUntil.Local().Format("15:04 on Jan 2") + "."
	case g.Failures > 0:
		row.Status, row.Label = frontend.StatusWarn, count(g.Failures, "wrong code", "wrong codes")
		row.Note = "After 5 wrong codes in a row the set is paused for " + strconv.Itoa(g.CoolOffMinutes) + " minutes."
	}
	return row
}

// qrSVG draws text as a QR code: the size of its square (modules, with
// the quiet zone) and one SVG path of its dark modules.
func qrSVG(text string) (frontend.QRCode, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return frontend.QRCode{}, err
	}
	bm := q.Bitmap()
	var b strings.Builder
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	return frontend.QRCode{Size: len(bm), Path: b.String()}, nil
}

// gateFormHandler is POST /ui/gates: action add, enroll, settings, delete
// or search.
type gateFormHandler struct{ h *Handler }

// gateForm is the page's form as read.
type gateForm struct {
	Action, Tenant, ToolSet string
	UnlockFor, CoolOff      int
	On                      bool
}

// parseGateForm reads the form; the error is for a person and never
// quotes the input. Field errors of add are returned in errs.
func parseGateForm(f url.Values) (in gateForm, errs map[string]string, err error) {
	in = gateForm{Action: f.Get("action"), Tenant: f.Get("tenant"), ToolSet: normSet(f.Get("tool_set"))}
	if in.Tenant == "" || len(in.Tenant) > maxTenantIDLen || tenantIDProblem(in.Tenant) != "" {
		return in, nil, errors.New("it names no tenant")
	}
	switch in.Action {
	case "add", "enroll", "settings", "delete":
	case "search":
		switch f.Get("to") {
		case "on":
			in.On = true
		case "off":
		default:
			return in, nil, errors.New("it does not say whether to switch on or off")
		}
		return in, nil, nil
	default:
		return in, nil, errors.New("it does not say what to do")
	}
	errs = map[string]string{}
	if in.ToolSet == "" || len(in.ToolSet) > 128 || strings.IndexFunc(in.ToolSet, unicode.IsControl) >= 0 {
		if in.Action != "add" {
			return in, nil, errors.New("it names no tool set")
		}
		errs["tool_set"] = "Choose a set of tools."
	}
	if in.Action == "add" || in.Action == "settings" {
		for _, fld := range []struct {
			name string
			to   *int
		}{{"unlock_for", &in.UnlockFor}, {"cool_off", &in.CoolOff}} {
			raw := strings.TrimSpace(f.Get(fld.name))
			n, convErr := strconv.Atoi(raw)
			if raw == "" {
				n, convErr = 15, nil
			}
			if convErr != nil || n < 1 || n > 1440 {
				errs[fld.name] = "Use a number of minutes from 1 to 1440 (a day)."
				continue
			}
			*fld.to = n
		}
	}
	return in, errs, nil
}

func (p gateFormHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	in, errs, err := parseGateForm(form)
	if err != nil {
		h.message(w, r, http.StatusBadRequest, frontend.MessageView{
			Title: "This form could not be read",
			Lead:  "Plexus did not do this: " + err.Error() + ".",
			Body:  []string{"Go back, reload the page and try again."},
			Link:  &frontend.Action{Label: "Go to " + gatesTitle, Href: gatesPath},
		})
		return
	}
	ops := h.gatesOps()
	if ops == nil {
		redirect(w, r, gatesPath)
		return
	}
	ctx := r.Context()
	typed := frontend.GateForm{ToolSet: in.ToolSet, UnlockFor: form.Get("unlock_for"), CoolOff: form.Get("cool_off"), Errors: errs}
	if len(errs) > 0 {
		if in.Action == "add" {
			h.renderGates(w, r, s, http.StatusUnprocessableEntity, gatesState{add: typed})
			return
		}
		s.setFlash(frontend.FlashError, "Nothing was changed. "+firstError(errs))
		h.saveAndRedirect(w, r, s, gatesPath+"#gate-"+anchorPart(in.ToolSet))
		return
	}
	req := apiv1.GateRequest{ToolSet: in.ToolSet, UnlockForMinutes: in.UnlockFor, CoolOffMinutes: in.CoolOff}
	var e apiv1.GateEnrollment
	var msg string
	switch in.Action {
	case "add":
		e, err = ops.CreateGate(ctx, in.Tenant, req)
		if errors.Is(err, vault.ErrExists) {
			typed.Errors = map[string]string{"tool_set": "This set already asks for a code. To use another phone, choose New QR code on it."}
			h.renderGates(w, r, s, http.StatusUnprocessableEntity, gatesState{add: typed})
			return
		}
		if _, m, ok := opsProblem(err); ok {
			typed.Errors = map[string]string{"tool_set": m}
			h.renderGates(w, r, s, http.StatusUnprocessableEntity, gatesState{add: typed})
			return
		}
	case "enroll":
		e, err = ops.EnrollGate(ctx, in.Tenant, in.ToolSet)
	case "settings":
		_, err = ops.UpdateGate(ctx, in.Tenant, in.ToolSet, req)
		msg = fmt.Sprintf("Saved. An unlock lasts %d minutes; open unlocks ended.", in.UnlockFor)
	case "delete":
		err = ops.DeleteGate(ctx, in.Tenant, in.ToolSet)
		msg = "The " + in.ToolSet + " tools no longer ask for a code."
	case "search":
		_, err = ops.SetToolSearch(ctx, in.Tenant, in.On)
		msg = "Tool search is off."
		if in.On {
			msg = "Tool search is on. Apps that miss new tools can find them with plexus_search_tools."
		}
	}
	switch {
	case errors.Is(err, vault.ErrNotFound):
		s.setFlash(frontend.FlashError, "Nothing was changed: this tenant has no such code-protected set any more. The page below is up to date.")
		h.saveAndRedirect(w, r, s, gatesPath)
		return
	case err != nil:
		h.fail(w, r, fmt.Errorf("gates %s: %w", in.Action, err))
		return
	}
	if in.Action == "add" || in.Action == "enroll" {
		h.log.InfoContext(ctx, "Gate enrolled in the admin UI", "tenant", in.Tenant, "toolSet", in.ToolSet)
		h.renderGates(w, r, s, http.StatusOK, gatesState{enrolled: &e})
		return
	}
	s.setFlash(frontend.FlashOK, msg)
	h.saveAndRedirect(w, r, s, gatesPath)
}

// firstError is one of errs, the same each time.
func firstError(errs map[string]string) string {
	for _, k := range []string{"tool_set", "unlock_for", "cool_off"} {
		if m := errs[k]; m != "" {
			return m
		}
	}
	return ""
}
