package frontend

// View models of the Tenants, Providers, Connections & keys and Users &
// sessions pages (app/ui fills them). A secret appears in a view only in
// a OnceSecret, in the answer to the form that made it.

// OnceSecret is a secret shown this once, right after it was made: in a
// read-only field with a Copy button and "You will not see this again".
type OnceSecret struct {
	ID    string // element id
	Label string // "New host-app secret"
	Value string
	// Next says what to do with it, in one or two sentences.
	Next []string
}

// Notice is a short message in a card: a tone and its sentences.
type Notice struct {
	Status Status
	Text   []string
}

// TextArea is a multi-line form field (one item a line).
type TextArea struct {
	Field
	Rows int
}

// TenantPageView is one tenant's page: its facts, rename, host-app
// secret and danger zone.
type TenantPageView struct {
	Shell  Shell
	Tenant TenantRow
	Rename Field
	// Secret is the new host-app secret, right after it was made.
	Secret *OnceSecret
	// Holds says what the tenant holds, in words ("3 users, 2
	// connected accounts"); "" when nothing.
	Holds  string
	Delete DangerZone
}

// ProvidersView is the Providers page.
type ProvidersView struct {
	Shell     Shell
	Tenant    TenantRef
	Providers []ProviderRow
	Presets   []PresetTile
}

// ProviderRow is one provider in the list.
type ProviderRow struct {
	Name        string // in Plexus: "github"
	Display     string // "GitHub"
	Kind        string // "GitHub preset" or "Custom"
	ClientID    string
	Connections int
	CallbackURL string
}

// PresetTile offers to add a provider of a kind.
type PresetTile struct {
	Name    string // "github", "custom"
	Display string // "GitHub"
	Text    string // one line: what tools get
	Href    string
	// Added names the provider already added from this preset ("").
	Added string
}

// HowTo is how to create the OAuth app at a provider: steps, with the
// callback URL to paste after step CallbackAfter (1-based).
type HowTo struct {
	Where         string // "GitHub"
	Link          string // where to start, "" for custom
	LinkLabel     string
	Steps         []string
	CallbackAfter int
	Note          string // a caveat ("Slack only accepts https addresses.")
}

// ProviderForm is the add or edit form of a provider; Custom shows the
// endpoint fields.
type ProviderForm struct {
	Post      string
	Custom    bool
	Preset    string // the preset it is added from (a hidden field)
	Name      Field  // add only (the name in Plexus)
	ClientID  Field
	Secret    Field
	AuthURL   Field
	TokenURL  Field
	UserURL   Field
	RevokeURL Field
	Scopes    Field
	Origins   TextArea
	Button    string
	// Error is a problem not tied to one field.
	Error string
}

// AddProviderView is the page that adds a provider of one kind.
type AddProviderView struct {
	Shell    Shell
	Tenant   TenantRef
	Display  string // "GitHub", "a custom provider"
	HowTo    HowTo
	Callback string // the callback URL for the form's current name
	// CallbackBase is the callback URL without the provider name, for
	// app.js to follow the name field ("" when the daemon's URL is unknown).
	CallbackBase string
	Form         ProviderForm
}

// ProviderView is one provider's page.
type ProviderView struct {
	Shell     Shell
	Tenant    TenantRef
	Row       ProviderRow
	Preset    bool
	Facts     [][2]string // read-only settings, label and value
	Form      ProviderForm
	Replace   ProviderForm // the "Replace secret" form
	SecretSet bool
	Notice    *Notice
	Delete    DangerZone
	HowToFix  string // where at the provider the callback URL goes
}

// PersonTab is one person on the Connections & keys page.
type PersonTab struct {
	Label  string
	Href   string
	Active bool
}

// ConnectionsView is the Connections & keys page for one person.
type ConnectionsView struct {
	Shell      Shell
	Tenant     TenantRef
	People     []PersonTab
	MorePeople int    // registered users not in People
	Person     string // "You" or the user's id in their app
	Owner      bool   // the person at this machine
	UserPath   string // "/ui/connections/local-owner"
	Accounts   []AccountRow
	Keys       []KeyRow
	KeyForm    KeyForm
	// NoProviders: the tenant has no OAuth provider yet.
	NoProviders bool
}

// AccountRow is a person's state with one OAuth provider.
type AccountRow struct {
	Provider     string // name in Plexus
	Display      string
	Status       Status
	Label        string // "Connected", "Expires in 3 hours", "Expired", "Never"
	Detail       string // "Since 4 Mar 2026"
	Connect      string // form action to connect ("" = not offered)
	ConnectLabel string
	Disconnect   string // form action to disconnect ("" = not connected)
}

// KeyRow is a person's API key for one service, or one a tool needs.
type KeyRow struct {
	Provider string
	Tools    string // the tools that use it, "" when none known
	Set      bool
	Masked   string // "•••• 3f9a", "••••" when too short to show
	Saved    string // "Saved 4 Mar 2026"
	Delete   string // form action ("" = not offered)
	Replace  bool   // offer to replace (the owner)
	// Form is the replace/add form for this row, with its error.
	Form KeyForm
}

// KeyForm enters (or replaces) an API key.
type KeyForm struct {
	Post     string
	Provider Field // hidden when Fixed
	Fixed    bool
	Key      Field
	Button   string
	Open     bool // shown open (after an error)
}

// UsersView is the Users & sessions page.
type UsersView struct {
	Shell    Shell
	Tenant   TenantRef
	People   []UserRow
	Issue    Field
	Token    *OnceSecret
	Sessions []SessionRow
	// MoreSessions counts the sessions not listed.
	MoreSessions int
}

// UserRow is one person of a tenant.
type UserRow struct {
	Label        string // "You (this computer)" or their id in the app
	Href         string
	PersistentID string
	Added        string
	Tokens       string // "2 active", "—"
	Owner        bool
}

// SessionRow is one active MCP session.
type SessionRow struct {
	Fingerprint string
	Who         string
	App         string
	LastActive  string // "5 minutes ago"
	Started     string
	End         string // form action
}

// UserView is one person's page.
type UserView struct {
	Shell        Shell
	Tenant       TenantRef
	Label        string
	Owner        bool
	HostID       string
	PersistentID string
	Added        string
	Connections  string // link to their connections
	Tokens       []TokenRow
	NewToken     string // form action for another token ("" for the owner)
	Token        *OnceSecret
	Delete       DangerZone
}

// TokenRow is one user token, never its value.
type TokenRow struct {
	ID      string
	Created string
	Expires string
	Status  Status
	Label   string // "Active", "Revoked", "Expired"
	Revoke  string // form action ("" when not active)
}
