package apiv1

// Kinds of ToolSource.
const (
	// ToolSourceBuiltIn: a tool in Plexus's own code.
	ToolSourceBuiltIn = "built_in"
	// ToolSourceUpstream: a tool of an MCP server the tenant mounted
	// (Name is the server's name).
	ToolSourceUpstream = "upstream"
	// ToolSourceHTTP: a declarative HTTP tool binding (Name is the
	// binding's name).
	ToolSourceHTTP = "http"
)

// ToolSource says where a tool comes from.
type ToolSource struct {
	Kind string `json:"kind"`
	// Name names the upstream server or the HTTP binding; "" for a
	// built-in tool.
	Name string `json:"name,omitempty"`
}

// Kinds of ToolCredential.
const (
	CredentialKindOAuth  = "oauth"
	CredentialKindAPIKey = "api_key"
)

// ToolCredential is a credential a tool needs.
type ToolCredential struct {
	Kind     string `json:"kind"` // CredentialKindOAuth or CredentialKindAPIKey
	Provider string `json:"provider_name"`
	// DisplayName is how a person calls it ("OpenWeatherMap API key",
	// "GitHub"); Instructions say how to get an API key.
	DisplayName  string `json:"display_name,omitempty"`
	Instructions string `json:"instructions,omitempty"`
}

// Credential states in a ToolsOverview, for the tenant's local owner.
const (
	// CredentialConnected: an OAuth connection that works, or a saved key.
	CredentialConnected = "connected"
	// CredentialExpired: an OAuth connection that needs consent again.
	CredentialExpired = "expired"
	// CredentialMissing: nothing yet; the tool asks for it on first use.
	CredentialMissing = "missing"
	// CredentialNotSetUp: the tenant has no such OAuth provider; an
	// administrator has to add it before anyone can connect.
	CredentialNotSetUp = "not_set_up"
)

// CredentialStatus is whether the local owner has a credential a tool
// needs.
type CredentialStatus struct {
	ToolCredential
	Status string `json:"status"`
}

// ToolStatus is a tool as the Tools page shows it: what it is, whether it
// is on, and whether the local owner has what it needs.
type ToolStatus struct {
	ToolInfo
	CredentialStatus []CredentialStatus `json:"credential_status,omitempty"`
}

// ToolsOverview is a tenant's tools with the local owner's credentials
// for them, and the tenant's tool settings.
type ToolsOverview struct {
	TenantID         string       `json:"entity_id"`
	Tools            []ToolStatus `json:"tools"`
	DisabledTools    []string     `json:"disabled_tools"`
	DisabledToolSets []string     `json:"disabled_tool_sets"`
}
