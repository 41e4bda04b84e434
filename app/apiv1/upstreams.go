package apiv1

import "time"

// Upstream MCP servers a tenant mounts (issue 11): their tools, resources,
// resource templates and prompts appear in the tenant as "{name}__{item}".

// UpstreamRequest is the body of POST /api/v1/tenants/{id}/upstreams
// (create) and PUT /api/v1/tenants/{id}/upstreams/{name} (replace: every
// field as it should be; Name comes from the path).
type UpstreamRequest struct {
	Name string `json:"name,omitempty"`
	// Transport is "stdio", "http" or "sse"; empty means stdio with a
	// Command, http with a URL.
	Transport string `json:"transport,omitempty"`
	// Command is a stdio upstream's command line, split into words as a
	// shell would (quotes and backslashes) but never run through one:
	// "npx -y @modelcontextprotocol/server-everything". Args are further
	// arguments, taken as they are.
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env are plain environment variables of a stdio upstream. Not for
	// secrets: they are stored in the clear; use Credentials.
	Env map[string]string `json:"env,omitempty"`
	// URL is an http or sse upstream's endpoint.
	URL string `json:"url,omitempty"`
	// Credentials are references to the calling user's stored
	// credentials that Plexus injects, never the values.
	Credentials        []UpstreamCredential `json:"credentials,omitempty"`
	CallTimeoutSeconds int                  `json:"call_timeout_seconds,omitempty"`
	IdleTimeoutSeconds int                  `json:"idle_timeout_seconds,omitempty"`
	// OAuth makes Plexus the OAuth client of an upstream that requires
	// OAuth (upstream_oauth.go); it adds the OAuth credential itself.
	OAuth *UpstreamOAuthRequest `json:"oauth,omitempty"`
}

// UpstreamCredential names a credential of the calling user and where it
// goes: Env (stdio) or Header (http, sse), prefixed with Scheme and a
// space when set. Kind "api_key" is the user's API key for Provider
// (plexus admin connections set-api-key); "oauth" is their OAuth
// connection to the tenant's provider Provider, sent as
// "Authorization: Bearer <access token>" (the default Header and Scheme).
type UpstreamCredential struct {
	Kind     string `json:"kind"`
	Provider string `json:"provider_name"`
	Env      string `json:"env,omitempty"`
	Header   string `json:"header,omitempty"`
	Scheme   string `json:"scheme,omitempty"`
}

// Upstream is a tenant's upstream MCP server as the API shows it.
type Upstream struct {
	TenantID           string               `json:"entity_id"`
	Name               string               `json:"name"`
	Transport          string               `json:"transport"`
	Command            string               `json:"command,omitempty"`
	Args               []string             `json:"args,omitempty"`
	Env                map[string]string    `json:"env,omitempty"`
	URL                string               `json:"url,omitempty"`
	Credentials        []UpstreamCredential `json:"credentials"`
	CallTimeoutSeconds int                  `json:"call_timeout_seconds,omitempty"`
	IdleTimeoutSeconds int                  `json:"idle_timeout_seconds,omitempty"`
	// PerUser is true when each user runs the upstream with their own
	// credentials (it has Credentials); false: one shared per tenant.
	PerUser   bool      `json:"per_user"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// OAuth is set when Plexus is the upstream's OAuth client.
	OAuth *UpstreamOAuth `json:"oauth,omitempty"`
	// Status is how it runs now (absent when this daemon does not run
	// upstreams).
	Status *UpstreamStatus `json:"status,omitempty"`
}

// UpstreamStatus is how an upstream is doing.
type UpstreamStatus struct {
	// Listed is true once it listed its items; the counts are what the
	// tenant shows of them.
	Listed            bool `json:"listed"`
	Tools             int  `json:"tools"`
	Resources         int  `json:"resources"`
	ResourceTemplates int  `json:"resource_templates"`
	Prompts           int  `json:"prompts"`
	// Problems are items not shown (a name already taken), one sentence
	// each; Waiting says why nothing is listed yet, when known.
	Problems []string `json:"problems"`
	Waiting  string   `json:"waiting,omitempty"`
	// Instances are its sessions: one shared (owner ""), or one per user
	// carrying their own credentials.
	Instances []UpstreamInstance `json:"instances"`
}

// UpstreamInstance is one running (or stopped, or restarting) session of
// an upstream.
type UpstreamInstance struct {
	// Owner is "" for the tenant's shared session, else the persistent
	// user id whose credentials it carries.
	Owner string `json:"owner"`
	// State is "stopped", "starting", "running", "backoff" (restarting at
	// NextStart) or "closed".
	State     string    `json:"state"`
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Starts    int       `json:"starts"`
	Failures  int       `json:"failures"`
	LastError string    `json:"last_error,omitempty"`
	NextStart time.Time `json:"next_start,omitzero"`
	InFlight  int       `json:"in_flight"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	Server    string    `json:"server,omitempty"`
	Protocol  string    `json:"protocol,omitempty"`
}

// UpstreamBody is the answer of the single-upstream endpoints.
type UpstreamBody struct {
	Upstream Upstream `json:"upstream"`
}

// UpstreamList is the answer of GET /api/v1/tenants/{id}/upstreams,
// sorted by name.
type UpstreamList struct {
	Upstreams []Upstream `json:"upstreams"`
}

// UpstreamLog is the answer of GET .../upstreams/{name}/log: the
// upstream's bounded log, oldest line first.
type UpstreamLog struct {
	Lines []UpstreamLogLine `json:"lines"`
}

// UpstreamLogLine is one line of an upstream's log. Source is "stderr",
// "notification" (a log message it sent) or "plexus".
type UpstreamLogLine struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Text   string    `json:"text"`
}
