// This file holds the tool-settings endpoints (/api/v1/tenants/{id}/tools,
// /tool-sets): which tools and tool sets a tenant has switched off.

package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/plexus-mcp/plexus/vault"
)

// ToolInfo describes one tool available to a tenant, for
// GET /api/v1/tenants/{id}/tools.
type ToolInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ToolSets    []string `json:"tool_sets"`
	// Requires names the credential the tool needs ("" = none), e.g.
	// "oauth:github" or "api_key:openweather"; the daemon chooses the text.
	Requires string `json:"requires,omitempty"`
	Enabled  bool   `json:"enabled"`
}

// ToolSettingsResponse is the answer of every tools endpoint: the tenant's
// disabled tools and tool sets and, when the daemon provides it, the tools
// available to the tenant with whether each is enabled.
type ToolSettingsResponse struct {
	DisabledTools    []string   `json:"disabled_tools"`
	DisabledToolSets []string   `json:"disabled_tool_sets"`
	Tools            []ToolInfo `json:"tools,omitzero"`
}

// Limits on tool settings.
const (
	maxDisabled     = 1000
	maxToolSetBytes = 128
)

// toolNameRE is the MCP tool-name rule (1-128 of A-Z a-z 0-9 _ - .).
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

type nameKind int

const (
	toolKind nameKind = iota
	toolSetKind
)

func (k nameKind) String() string {
	if k == toolSetKind {
		return "tool set"
	}
	return "tool"
}

// normalizeToolSet is the comparable form of a tool-set name (as
// mcpserver/tools.NormalizeToolSet): trimmed, spaces as underscores.
func normalizeToolSet(name string) string {
	return strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
}

// cleanName checks one tool or tool-set name and returns its stored form.
func cleanName(k nameKind, name string) (string, error) {
	if k == toolKind {
		if !toolNameRE.MatchString(name) {
			return "", badRequest("invalid tool name %q: want 1-128 of A-Z a-z 0-9 _ - .", clip(name))
		}
		return name, nil
	}
	n := normalizeToolSet(name)
	if n == "" || len(n) > maxToolSetBytes || !printable(n) {
		return "", badRequest("invalid tool set name %q: want 1-%d printable characters", clip(name), maxToolSetBytes)
	}
	return n, nil
}

// cleanNames checks a list of names and returns it sorted, without duplicates.
func cleanNames(k nameKind, field string, names []string) ([]string, error) {
	if len(names) > maxDisabled {
		return nil, badRequest("%s: at most %d names", field, maxDisabled)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		c, err := cleanName(k, n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// clip shortens a user-supplied value for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func (a *api) getTools(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	st, err := a.store.GetToolSettings(r.Context(), t.ID)
	if err != nil {
		return fmt.Errorf("tool settings of %s: %w", t.ID, err)
	}
	writeJSON(w, http.StatusOK, a.toolsView(t.ID, st))
	return nil
}

func (a *api) putTools(w http.ResponseWriter, r *http.Request) error {
	var req vault.ToolSettings
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	tools, err := cleanNames(toolKind, "disabled_tools", req.DisabledTools)
	if err != nil {
		return err
	}
	sets, err := cleanNames(toolSetKind, "disabled_tool_sets", req.DisabledToolSets)
	if err != nil {
		return err
	}
	t, err := a.tenant(r)
	if err != nil {
		return err
	}
	st := vault.ToolSettings{DisabledTools: tools, DisabledToolSets: sets}
	a.toolsMu.Lock()
	err = a.store.PutToolSettings(r.Context(), t.ID, st)
	a.toolsMu.Unlock()
	if err != nil {
		return fmt.Errorf("put tool settings of %s: %w", t.ID, err)
	}
	writeJSON(w, http.StatusOK, a.toolsView(t.ID, st))
	return nil
}

// toolSwitch returns the handler that enables or disables one tool or
// tool set ({name}). A name the tenant has no tool for is a 404 (when the
// daemon provides the tool list), unless it is currently disabled.
func (a *api) toolSwitch(k nameKind, enable bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := cleanName(k, r.PathValue("name"))
		if err != nil {
			return err
		}
		t, err := a.tenant(r)
		if err != nil {
			return err
		}
		// A write is announced by the vault itself (the MCP server listens).
		st, _, err := a.switchTool(r.Context(), t.ID, k, name, enable)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.toolsView(t.ID, st))
		return nil
	}
}

// switchTool enables or disables one tool or tool set in tenantID's
// settings, under toolsMu, and reports whether anything changed.
func (a *api) switchTool(ctx context.Context, tenantID string, k nameKind, name string, enable bool) (vault.ToolSettings, bool, error) {
	a.toolsMu.Lock()
	defer a.toolsMu.Unlock()
	st, err := a.store.GetToolSettings(ctx, tenantID)
	if err != nil {
		return st, false, fmt.Errorf("tool settings of %s: %w", tenantID, err)
	}
	list := &st.DisabledTools
	if k == toolSetKind {
		list = &st.DisabledToolSets
	}
	disabled := slices.Contains(*list, name)
	if !disabled && !a.knownTool(tenantID, k, name) {
		return st, false, &requestError{status: http.StatusNotFound,
			msg: fmt.Sprintf("tenant %s has no %s %q", tenantID, k, name)}
	}
	switch {
	case enable && disabled:
		*list = slices.DeleteFunc(*list, func(n string) bool { return n == name })
	case !enable && !disabled:
		*list = append(*list, name)
		slices.Sort(*list)
	default:
		return st, false, nil
	}
	if err := a.store.PutToolSettings(ctx, tenantID, st); err != nil {
		return st, false, fmt.Errorf("put tool settings of %s: %w", tenantID, err)
	}
	return st, true, nil
}

// knownTool reports whether tenantID has a tool (or a tool in the tool
// set) called name; without Options.Tools every name is accepted.
func (a *api) knownTool(tenantID string, k nameKind, name string) bool {
	if a.opts.Tools == nil {
		return true
	}
	for _, ti := range a.opts.Tools(tenantID) {
		if k == toolKind && ti.Name == name {
			return true
		}
		if k == toolSetKind && slices.ContainsFunc(ti.ToolSets, func(s string) bool { return normalizeToolSet(s) == name }) {
			return true
		}
	}
	return false
}

// toolsView builds the response for st, with the tenant's tools if the
// daemon lists them; a tool is enabled when the daemon says so and
// neither it nor any of its tool sets is disabled.
func (a *api) toolsView(tenantID string, st vault.ToolSettings) ToolSettingsResponse {
	out := ToolSettingsResponse{
		DisabledTools:    nonNil(st.DisabledTools),
		DisabledToolSets: nonNil(st.DisabledToolSets),
	}
	if a.opts.Tools == nil {
		return out
	}
	out.Tools = []ToolInfo{}
	for _, ti := range a.opts.Tools(tenantID) {
		ti.ToolSets = nonNil(ti.ToolSets)
		ti.Enabled = ti.Enabled && !slices.Contains(st.DisabledTools, ti.Name) &&
			!slices.ContainsFunc(ti.ToolSets, func(s string) bool {
				n := normalizeToolSet(s)
				return slices.ContainsFunc(st.DisabledToolSets, func(d string) bool { return normalizeToolSet(d) == n })
			})
		out.Tools = append(out.Tools, ti)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
