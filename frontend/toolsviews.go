package frontend

// ToolsView is the Tools page: the current tenant's tools, grouped by
// tool set, each with whether Claude may use it and what it needs.
type ToolsView struct {
	Shell  Shell
	Tenant TenantRef // zero when there is no tenant yet
	Groups []ToolGroup
	On     int // tools switched on
	Total  int
	// Unavailable: this Plexus cannot list its tools (a test build).
	Unavailable bool
}

// ToolGroup is a tool set and its tools (or, with Name "", the tools in
// no set).
type ToolGroup struct {
	Name   string // the tool set as stored ("github"); "" for no set
	Anchor string // the group's element id
	Title  string // "GitHub"
	On     bool   // the set is switched on
	Tools  []ToolRow
}

// ToolRow is one tool.
type ToolRow struct {
	Name        string
	Anchor      string // the row's element id
	Description string
	Source      string // "Built into Plexus"
	On          bool   // Claude can use it
	// OwnOn: the tool itself is switched on (it may still be off
	// because its set is).
	OwnOn bool
	// OffBecause names what else switched it off ("the GitHub set").
	OffBecause string
	AlsoIn     []string // its other tool sets' titles
	Needs      []ToolNeed
}

// ToolNeed is a credential a tool needs, and whether you have it.
type ToolNeed struct {
	Verb   string // "Needs", or "Uses" once you have it
	What   string // "your GitHub account", "your OpenWeatherMap API key"
	Status Status
	Label  string // "Connected", "Missing", "Expired", "Not set up"
	Hint   string // what happens or what to do, one sentence
	Link   *Action
}
