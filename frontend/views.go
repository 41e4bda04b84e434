package frontend

import "time"

// Nav names a sidebar entry; Shell.Active marks the current one.
type Nav string

// The sidebar, in order.
const (
	NavHome        Nav = "home"
	NavTenants     Nav = "tenants"
	NavProviders   Nav = "providers"
	NavConnections Nav = "connections"
	NavTools       Nav = "tools"
	NavServers     Nav = "servers"
	NavActivity    Nav = "activity"
	NavUsers       Nav = "users"
)

// NavItem is one sidebar entry.
type NavItem struct {
	ID    Nav
	Label string
	Path  string
}

// NavItems is the sidebar: Home, Tenants, Providers, Connections & keys,
// Tools, Servers, Activity, Users & sessions.
func NavItems() []NavItem {
	return []NavItem{
		{NavHome, "Home", "/ui/"},
		{NavTenants, "Tenants", "/ui/tenants"},
		{NavProviders, "Providers", "/ui/providers"},
		{NavConnections, "Connections & keys", "/ui/connections"},
		{NavTools, "Tools", "/ui/tools"},
		{NavHTTPTools, "HTTP tools", "/ui/http-tools"},
		{NavServers, "Servers", "/ui/servers"},
		{NavActivity, "Activity", "/ui/activity"},
		{NavUsers, "Users & sessions", "/ui/users"},
	}
}

// Shell is what the layout around every signed-in page needs.
type Shell struct {
	Title  string // the page's title (also the <title>)
	Active Nav
	CSRF   string // the session's CSRF token, put in every form
	Assets string // AssetVersion(), for cache busting
	// Path is the current page's path: the tenant switcher returns there.
	Path string
	// Tenants are offered in the switcher when there is more than one;
	// Tenant is the current one ("" when there are none).
	Tenants []TenantRef
	Tenant  string
	Flash   *Flash
}

// TenantRef names a tenant.
type TenantRef struct {
	ID   string
	Name string
}

// FlashKind is the tone of a flash message.
type FlashKind string

// Flash kinds.
const (
	FlashOK    FlashKind = "ok"
	FlashError FlashKind = "error"
)

// Flash is a one-time message shown after a form was sent.
type Flash struct {
	Kind    FlashKind
	Message string
}

// Header is a page's header: a title, one sentence saying what the page
// is for, and at most one primary action (a link, or a form button).
type Header struct {
	Title    string
	Sentence string
	Action   *Action
}

// Action is a primary button: a link (Href) or, with Post, a one-button
// form sending Fields.
type Action struct {
	Label  string
	Href   string
	Post   string
	Fields map[string]string
}

// Field is a form field: label above, help under, the error under it,
// the value kept after an error.
type Field struct {
	Name        string
	ID          string // element id; "" = "f-" + Name
	Label       string
	Help        string
	Value       string
	Error       string
	Type        string // "text" when empty
	Placeholder string
	Required    bool
	Autofocus   bool
	Pattern     string
	MaxLength   int
	Mono        bool // ids and codes: monospace
}

// Status is the tone of a status pill.
type Status string

// Status tones: green, amber, grey, red.
const (
	StatusOK    Status = "ok"
	StatusWarn  Status = "warn"
	StatusNever Status = "never"
	StatusBad   Status = "bad"
)

// HomeView is the Home page.
type HomeView struct {
	Shell   Shell
	Daemon  DaemonView
	Key     KeyView
	Tenants []TenantRef
	Connect ConnectView
}

// DaemonView says how the daemon is doing.
type DaemonView struct {
	Version   string
	Addr      string
	DataDir   string
	StartedAt time.Time
	Uptime    string // "3 minutes"
}

// KeyView says where the vault's master key is kept, and what to do when
// that is a weak place.
type KeyView struct {
	Status  Status
	Label   string // "System keyring"
	Summary string // one sentence
	File    string // the key file, for a file key
	Warning string // plain words, when weak
	Fix     []string
	// Move offers to move a key kept in the generated key file (nil =
	// no offer).
	Move *KeyMoveView
	CSRF string // for Move's forms
}

// ConnectView is the "Connect Claude Desktop" card: the snippets for each
// app, for tenant Tenant.
type ConnectView struct {
	Tenant     TenantRef
	ConfigPath string // Claude Desktop's config file on this OS
	Snippets   []Snippet
	// Claude is the state of Claude Desktop's settings file and the
	// button that writes it (nil: no button, only the snippet).
	Claude *ClaudeView
	CSRF   string // for Claude's form
}

// Snippet is copyable text for one app.
type Snippet struct {
	ID    string // for ids in the page
	App   string // "Claude Desktop"
	Where string // one sentence: where it goes
	Code  string
}

// TenantsView is the Tenants page.
type TenantsView struct {
	Shell   Shell
	Tenants []TenantRow
	Form    TenantForm
}

// TenantRow is one tenant in the list.
type TenantRow struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	HostSecret bool
}

// TenantForm is the "add a tenant" form's fields.
type TenantForm struct {
	ID   Field
	Name Field
}

// DangerZone is a destructive action confirmed by typing a word.
type DangerZone struct {
	Title   string // "Delete this tenant"
	Text    string // what happens
	Post    string // form action
	Confirm string // what must be typed
	Button  string // "Delete tenant acme and everything in it"
	Value   string // what was typed, kept after an error
	Error   string // when the typed text did not match
}

// SoonView is a page that cannot show its content yet (no tenant): what it
// will do, and what to do first.
type SoonView struct {
	Shell  Shell
	Header Header
	Text   string
}

// MessageView is a page outside the signed-in shell: how to get in, a
// refused form, a bad link.
type MessageView struct {
	Assets  string
	Title   string
	Lead    string
	Body    []string
	Command string // a command to show, when there is one
	Link    *Action
	Refresh string // for the login page: where to go next (meta refresh)
	Status  Status
}
