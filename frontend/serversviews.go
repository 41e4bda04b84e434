package frontend

// ServersView is the Servers page: the current tenant's other MCP
// servers (upstreams), with how each is doing.
type ServersView struct {
	Shell   Shell
	Tenant  TenantRef
	Servers []ServerRow
	// Unavailable: this Plexus does not run other servers.
	Unavailable bool
}

// ServerRow is one server in the list, and the head of its own page.
type ServerRow struct {
	Name string
	// Where says how Plexus reaches it: "Runs on this computer" or "At
	// a web address"; Target is the command line or the address.
	Where, Target string
	State         Status
	StateLabel    string // "Running", "Starting", "Problem", "Not running"
	// StateText says in a sentence what is going on and what to do.
	StateText string
	// Offers is what it gives Claude: "12 tools, 1 prompt"; "" when not
	// known yet.
	Offers string
	// Uses names the credentials it gets ("your openai API key as
	// OPENAI_API_KEY").
	Uses []string
}

// ServerForm is the add or edit form of a server.
type ServerForm struct {
	Post   string
	Button string
	Adding bool
	Error  string // about the whole form
	Name   Field
	// Kind is "stdio", "http" or "sse"; KindError its problem.
	Kind      string
	KindError string
	Command   Field
	URL       Field
	// Key is the stored API key it gets ("" none), KeyAs where (an
	// environment variable or a header); Keys the choices.
	Key      string
	KeyError string
	Keys     []Option
	KeyAs    Field
	// SignIn is the OAuth provider whose connection it gets as a bearer
	// token ("" none); SignIns the choices.
	SignIn      string
	SignInError string
	SignIns     []Option
	Env         TextArea
	// Kept says what the form does not show and keeps (set with the
	// command line or the API).
	Kept string
}

// AddServerView is the page that adds a server.
type AddServerView struct {
	Shell  Shell
	Tenant TenantRef
	Form   ServerForm
}

// ServerView is one server's page: state, restart, log, settings, the
// danger zone.
type ServerView struct {
	Shell    Shell
	Tenant   TenantRef
	Row      ServerRow
	Facts    [][2]string
	Problems []string
	Log      []ServerLogLine
	// LogDropped: the log holds only the newest lines.
	LogNote string
	Form    ServerForm
	Delete  DangerZone
}

// ServerLogLine is one line of a server's log.
type ServerLogLine struct {
	Time   string // "15:04:05"
	From   string // "Server", "Message", "Plexus"
	Text   string
	Plexus bool // a line Plexus wrote about the server
}

func serversAction(v ServersView) *Action {
	if v.Unavailable || len(v.Servers) == 0 {
		return nil
	}
	return &Action{Label: "Add a server", Href: "/ui/servers/_add"}
}

func orNotYet(s string) string {
	if s == "" {
		return "Not known yet"
	}
	return s
}
