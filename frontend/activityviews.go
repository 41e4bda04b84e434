package frontend

// ActivityView is the Activity page: a chart of the last 24 hours, the
// filters, and the calls newest first.
type ActivityView struct {
	Shell   Shell
	Tenant  TenantRef // zero when there is no tenant yet
	Filters ActivityFilters
	Chart   Chart
	Calls   []CallRow
	// OlderHref is the next page's URL ("" = no older calls); NewestHref
	// leads back to the first page ("" = this is it).
	OlderHref, NewestHref string
	// Filtered: a filter is set (an empty list then means "no match").
	Filtered bool
	// NeverCalled: no call at all is recorded for the tenant.
	NeverCalled bool
	// NotRecorded counts calls since Plexus started that are missing
	// here (it was too busy to record them).
	NotRecorded uint64
	// Unavailable: this Plexus does not record calls.
	Unavailable bool
	// Changes are the newest settings changes, credential changes and
	// sign-ins, of every tenant.
	Changes []ChangeRow
}

// ChangeRow is one change or sign-in in the Activity page's second list.
type ChangeRow struct {
	When, WhenFull string
	What           string // "In this window: providers › github › delete"
	Tenant         string // "" when the record belongs to no tenant
	By             string // "You, in this window", "A host app", ""
	Status         Status
	Outcome        string // "Done", "Refused", "Failed"
}

// ActivityFilters are the filter form's choices and what is chosen.
type ActivityFilters struct {
	Tool, Who, Outcome string
	Tools              []Option
	Whos               []Option
	Outcomes           []Option
}

// Option is one choice of a select.
type Option struct {
	Value, Label string
}

// Chart is the 24 hourly bars, drawn in a 240x100 view box.
type Chart struct {
	Bars []Bar
	// Top is the value at the top of the chart (a round number).
	Top int
	// Axis are the hour labels under the chart, one per six hours.
	Axis []string
	// Summary is one sentence: the chart in words.
	Summary string
	Calls   int
	Errors  int
}

// Bar is one hour: the calls bar and, at its foot, the errors' share.
type Bar struct {
	X, Width          string // view-box units, formatted
	CallsY, CallsH    string
	ErrorsY, ErrorsH  string
	HasCalls, HasErrs bool
	Label             string // "14:00 to 15:00: 12 calls, 3 errors"
}

// CallRow is one call in the list.
type CallRow struct {
	When     string // "14:32:05", "Yesterday 09:10", "3 May 14:00"
	WhenFull string // the full date and time
	Tool     string
	Who      string // "You (this computer)", "alice", "Guest"
	WhoNote  string // "session 1a2b3c4d", "via Claude"
	Status   Status
	Outcome  string // "OK", "Tool error", "Failed", ...
	Note     string // "Unknown or switched-off tool"
	Duration string // "12 ms"
}
