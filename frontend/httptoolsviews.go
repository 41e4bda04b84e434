package frontend

// Views of the HTTP tools page (issue 11).

// NavHTTPTools is the HTTP tools page's sidebar entry.
const NavHTTPTools Nav = "http-tools"

// HTTPToolsView is the list of a tenant's declarative HTTP tools.
type HTTPToolsView struct {
	Shell  Shell
	Tenant TenantRef
	Tools  []HTTPToolRow
}

// HTTPToolRow is one HTTP tool in the list.
type HTTPToolRow struct {
	Name        string
	Description string
	Method      string
	URL         string
	Credential  string // "Your GitHub connection", "Your wx API key (header X-Api-Key)", "None"
	Status      Status
	StatusLabel string // "Shown", "Not shown"
	Problem     string // why it is not shown
}

// HTTPToolEditView adds tools (Adding) or edits one: the definition as
// YAML or JSON in one text area.
type HTTPToolEditView struct {
	Shell      Shell
	Tenant     TenantRef
	Adding     bool
	Row        HTTPToolRow
	Post       string
	Definition TextArea
	Error      string // about the definition as a whole
	Example    string
	Delete     DangerZone
}
