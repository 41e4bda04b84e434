package apiv1

// ToolInfo describes one tool available to a tenant.
type ToolInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ToolSets    []string `json:"tool_sets"`
	// Requires names the credential the tool needs ("" = none), e.g.
	// "oauth:github" or "api_key:openweather".
	Requires string `json:"requires,omitempty"`
	// Enabled is false when the tool, or one of its tool sets, is disabled
	// for the tenant.
	Enabled bool `json:"enabled"`
	// Summary says in plain words what the tool lets an AI app do ("" =
	// the description says it).
	Summary string `json:"summary,omitempty"`
	// Source says where the tool comes from (absent: not said).
	Source ToolSource `json:"source,omitzero"`
	// Credentials are the credentials the tool needs, with how to call
	// them in front of a person (Requires names the first, in short).
	Credentials []ToolCredential `json:"credentials,omitempty"`
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
