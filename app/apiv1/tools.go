package apiv1

// ToolInfo describes one tool available to a tenant.
type ToolInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ToolSets    []string `json:"tool_sets"`
	// Requires names the credential the tool needs ("" = none), e.g.
	// "oauth:github" or "api_key:openweather".
	Requires string `json:"requires,omitempty"`
	// Source says where the tool comes from: "builtin" (Plexus's own
	// tools) or "upstream" (an upstream MCP server the tenant mounts,
	// named by SourceName).
	Source     string `json:"source"`
	SourceName string `json:"source_name,omitempty"`
	// Enabled is false when the tool, or one of its tool sets, is disabled
	// for the tenant.
	Enabled bool `json:"enabled"`
}

// ToolSettings is the body of PUT /api/v1/tenants/{id}/tools: the tenant's
// disabled tools and tool sets (everything else is enabled).
type ToolSettings struct {
	DisabledTools    []string `json:"disabled_tools"`
	DisabledToolSets []string `json:"disabled_tool_sets"`
}

// ToolSettingsResponse is the answer of every tools endpoint: the tenant's
// disabled tools and tool sets and, when the daemon lists them, the tools
// available to the tenant with whether each is enabled.
type ToolSettingsResponse struct {
	DisabledTools    []string   `json:"disabled_tools"`
	DisabledToolSets []string   `json:"disabled_tool_sets"`
	Tools            []ToolInfo `json:"tools,omitzero"`
}
