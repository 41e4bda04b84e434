package apiv1

import (
	"encoding/json"
	"time"
)

// Declarative HTTP tools (issue 11): a tool whose call is one HTTP
// request built from templates ("{city}" is the argument city, escaped
// for where it goes). The same shape is a file's entry (YAML or JSON,
// `plexus admin httptool import`), the body of the admin API's create and
// replace, and what the UI's form and paste box edit.

// HTTPToolDefinition is one HTTP tool as an administrator writes it.
type HTTPToolDefinition struct {
	// Name is the tool's name (1-64 of A-Z a-z 0-9 _ - ., no "__").
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// InputSchema is the tool's input JSON Schema; without
	// additionalProperties, other arguments are refused.
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	// Method is GET (default), POST, PUT, PATCH or DELETE.
	Method string `json:"method,omitempty"`
	// URL is https (http only to localhost); placeholders in the path
	// only.
	URL     string            `json:"url"`
	Query   map[string]string `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is a JSON template sent as application/json: a string that is
	// exactly "{arg}" becomes the argument's JSON value.
	Body json.RawMessage `json:"body,omitempty"`
	Auth *HTTPToolAuth   `json:"auth,omitempty"`
	// ResponsePointer is an RFC 6901 JSON pointer selecting the part of
	// the answer the tool returns ("" the whole answer).
	ResponsePointer  string `json:"response_pointer,omitempty"`
	MaxResponseBytes int    `json:"max_response_bytes,omitempty"`
	TimeoutSeconds   int    `json:"timeout_seconds,omitempty"`
}

// HTTPToolAuth names the calling user's credential a tool sends: Type
// "oauth" is their connection to the tenant's OAuth provider
// ProviderName, as a bearer token; "api_key" is their API key for
// ProviderName, in Header (prefixed with Scheme and a space when set) or
// in the query parameter QueryParam. Never a secret value.
type HTTPToolAuth struct {
	Type         string `json:"type"`
	ProviderName string `json:"provider_name"`
	Header       string `json:"header,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	QueryParam   string `json:"query_param,omitempty"`
}

// HTTPTool is a tenant's HTTP tool as the API shows it.
type HTTPTool struct {
	TenantID string `json:"entity_id"`
	HTTPToolDefinition
	// Shown is false when the tenant's MCP server does not show the tool;
	// Problem says why (its name is a built-in tool's, ...). Both are
	// absent when this daemon does not serve MCP.
	Shown     *bool     `json:"shown,omitempty"`
	Problem   string    `json:"problem,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HTTPToolBody is the answer of the single-tool endpoints.
type HTTPToolBody struct {
	HTTPTool HTTPTool `json:"http_tool"`
}

// HTTPToolList is the answer of GET /api/v1/tenants/{id}/http-tools,
// sorted by name.
type HTTPToolList struct {
	HTTPTools []HTTPTool `json:"http_tools"`
}

// HTTPToolImport is the body of POST /api/v1/tenants/{id}/http-tools/import:
// Content is a file's text, YAML or JSON, holding one tool, a list of
// tools, or {"tools": [...]}. Every tool is checked before any is
// written; a tool that exists is replaced.
type HTTPToolImport struct {
	Content string `json:"content"`
}

// HTTPToolImported is the answer of an import.
type HTTPToolImported struct {
	Created   []string   `json:"created"`
	Updated   []string   `json:"updated"`
	HTTPTools []HTTPTool `json:"http_tools"`
}
