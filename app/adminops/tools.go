// This file holds the tool-settings operations: which tools and tool sets
// a tenant has switched off.

package adminops

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// Limits on tool settings.
const (
	maxDisabled     = 1000
	maxToolSetBytes = 128
)

// toolNameRE is the MCP tool-name rule (1-128 of A-Z a-z 0-9 _ - .).
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// nameKind says whether a name is a tool's or a tool set's.
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

// cleanName checks one tool or tool-set name (the request field "field")
// and returns its stored form.
func cleanName(k nameKind, field, name string) (string, error) {
	if k == toolKind {
		if !toolNameRE.MatchString(name) {
			return "", fieldErr(field, "invalid tool name %q: want 1-128 of A-Z a-z 0-9 _ - .", clip(name))
		}
		return name, nil
	}
	n := normalizeToolSet(name)
	if n == "" || len(n) > maxToolSetBytes || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", fieldErr(field, "invalid tool set name %q: want 1-%d printable characters", clip(name), maxToolSetBytes)
	}
	return n, nil
}

// cleanNames checks a list of names and returns it sorted, without duplicates.
func cleanNames(k nameKind, field string, names []string) ([]string, error) {
	if len(names) > maxDisabled {
		return nil, fieldErr(field, "%s: at most %d names", field, maxDisabled)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		c, err := cleanName(k, field, n)
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

// ToolSettings returns a tenant's disabled tools and tool sets and, when
// the daemon lists them (Options.Tools), its tools.
func (s *Service) ToolSettings(ctx context.Context, tenantID string) (apiv1.ToolSettingsResponse, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	st, err := s.store.GetToolSettings(ctx, t.ID)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, wrapf(err, "tool settings of %s", t.ID)
	}
	return s.toolsView(t.ID, st), nil
}

// PutToolSettings replaces a tenant's disabled tools and tool sets. The
// vault announces the change: connected MCP clients are told their tool
// list changed.
func (s *Service) PutToolSettings(ctx context.Context, tenantID string, in apiv1.ToolSettings) (apiv1.ToolSettingsResponse, error) {
	tools, err := cleanNames(toolKind, "disabled_tools", in.DisabledTools)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	sets, err := cleanNames(toolSetKind, "disabled_tool_sets", in.DisabledToolSets)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	st := vault.ToolSettings{DisabledTools: tools, DisabledToolSets: sets}
	s.toolsMu.Lock()
	err = s.store.PutToolSettings(ctx, t.ID, st)
	s.toolsMu.Unlock()
	if err != nil {
		return apiv1.ToolSettingsResponse{}, wrapf(err, "put tool settings of %s", t.ID)
	}
	return s.toolsView(t.ID, st), nil
}

// SetToolEnabled enables or disables one of a tenant's tools. A name the
// tenant has no tool for is vault.ErrNotFound (when the daemon lists its
// tools), unless it is currently disabled.
func (s *Service) SetToolEnabled(ctx context.Context, tenantID, tool string, enabled bool) (apiv1.ToolSettingsResponse, error) {
	return s.switchTool(ctx, tenantID, toolKind, "tool", tool, enabled)
}

// SetToolSetEnabled enables or disables one of a tenant's tool sets, as
// SetToolEnabled does a tool.
func (s *Service) SetToolSetEnabled(ctx context.Context, tenantID, toolSet string, enabled bool) (apiv1.ToolSettingsResponse, error) {
	return s.switchTool(ctx, tenantID, toolSetKind, "tool_set", toolSet, enabled)
}

// switchTool enables or disables one tool or tool set in a tenant's
// settings, under toolsMu. A write is announced by the vault itself (the
// MCP server listens).
func (s *Service) switchTool(ctx context.Context, tenantID string, k nameKind, field, name string, enable bool) (apiv1.ToolSettingsResponse, error) {
	name, err := cleanName(k, field, name)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, err
	}
	s.toolsMu.Lock()
	defer s.toolsMu.Unlock()
	st, err := s.store.GetToolSettings(ctx, t.ID)
	if err != nil {
		return apiv1.ToolSettingsResponse{}, wrapf(err, "tool settings of %s", t.ID)
	}
	list := &st.DisabledTools
	if k == toolSetKind {
		list = &st.DisabledToolSets
	}
	disabled := slices.Contains(*list, name)
	if !disabled && !s.knownTool(t.ID, k, name) {
		return apiv1.ToolSettingsResponse{}, notFoundf("tenant %s has no %s %q", t.ID, k, name)
	}
	switch {
	case enable && disabled:
		*list = slices.DeleteFunc(*list, func(n string) bool { return n == name })
	case !enable && !disabled:
		*list = append(*list, name)
		slices.Sort(*list)
	default:
		return s.toolsView(t.ID, st), nil
	}
	if err := s.store.PutToolSettings(ctx, t.ID, st); err != nil {
		return apiv1.ToolSettingsResponse{}, wrapf(err, "put tool settings of %s", t.ID)
	}
	return s.toolsView(t.ID, st), nil
}

// knownTool reports whether tenantID has a tool (or a tool in the tool
// set) called name; without Options.Tools every name is accepted.
func (s *Service) knownTool(tenantID string, k nameKind, name string) bool {
	if s.opts.Tools == nil {
		return true
	}
	for _, ti := range s.opts.Tools(tenantID) {
		if k == toolKind && ti.Name == name {
			return true
		}
		if k == toolSetKind && slices.ContainsFunc(ti.ToolSets, func(s string) bool { return normalizeToolSet(s) == name }) {
			return true
		}
	}
	return false
}

// toolsView builds the answer for st, with the tenant's tools if the
// daemon lists them; a tool is enabled when the daemon says so and
// neither it nor any of its tool sets is disabled.
func (s *Service) toolsView(tenantID string, st vault.ToolSettings) apiv1.ToolSettingsResponse {
	out := apiv1.ToolSettingsResponse{
		DisabledTools:    nonNil(st.DisabledTools),
		DisabledToolSets: nonNil(st.DisabledToolSets),
	}
	if s.opts.Tools == nil {
		return out
	}
	out.Tools = []apiv1.ToolInfo{}
	for _, ti := range s.opts.Tools(tenantID) {
		ti.ToolSets = nonNil(ti.ToolSets)
		if ti.Source.Kind == "" {
			ti.Source.Kind = apiv1.ToolSourceBuiltIn
		}
		ti.Enabled = ti.Enabled && !slices.Contains(st.DisabledTools, ti.Name) &&
			!slices.ContainsFunc(ti.ToolSets, func(s string) bool {
				n := normalizeToolSet(s)
				return slices.ContainsFunc(st.DisabledToolSets, func(d string) bool { return normalizeToolSet(d) == n })
			})
		out.Tools = append(out.Tools, ti)
	}
	return out
}
