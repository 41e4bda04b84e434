package apiv1

import "time"

// ActivityQuery selects a page of a tenant's recorded tool calls, newest
// first.
type ActivityQuery struct {
	// Tool is a tool name ("" = any).
	Tool string `json:"tool,omitempty"`
	// Who is "" (anyone), "local" (the person at this machine), "guest"
	// (callers without a Plexus user) or "user:<persistent id>".
	Who string `json:"who,omitempty"`
	// Outcome is one of ok, tool_error, protocol_error, needs_consent,
	// needs_key ("" = any).
	Outcome string `json:"outcome,omitempty"`
	// Cursor continues from a previous answer's Next ("" = newest).
	Cursor string `json:"cursor,omitempty"`
	// Limit is the page size, 1-200 (0 = 50).
	Limit int `json:"limit,omitempty"`
}

// Values of ActivityQuery.Who.
const (
	WhoLocal      = "local"
	WhoGuest      = "guest"
	WhoUserPrefix = "user:"
)

// ActivityCall is one recorded tool call (its masked arguments are in
// the audit log, GET /api/v1/audit; the Activity page shows their size).
type ActivityCall struct {
	Time time.Time `json:"time"`
	Tool string    `json:"tool"`
	// UserID is the caller's persistent id ("" for a guest); UserName its
	// host user id when the user still exists.
	UserID   string `json:"persistent_user_id,omitempty"`
	UserName string `json:"user_name,omitempty"`
	Local    bool   `json:"local,omitempty"`
	// Session is a guest's session fingerprint (never the session id).
	Session    string  `json:"session_fingerprint,omitempty"`
	Client     string  `json:"client,omitempty"`
	Outcome    string  `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	ArgsBytes  int     `json:"args_bytes,omitempty"`
}

// ActivityHour counts one hour's calls.
type ActivityHour struct {
	Start   time.Time `json:"start"`
	Calls   int       `json:"calls"`
	Errors  int       `json:"errors"`
	Waiting int       `json:"waiting"` // needed a connection or a key
}

// ActivityResponse is a page of calls, the last 24 hours of the same
// selection hour by hour (oldest first), and what recording lost.
type ActivityResponse struct {
	Calls []ActivityCall `json:"calls"`
	// Next is the cursor of the next (older) page; "" when there is none.
	Next  string         `json:"next,omitempty"`
	Hours []ActivityHour `json:"hours"`
	// NotRecorded counts calls since the daemon started that were not
	// recorded (it was too busy, or the disk refused).
	NotRecorded uint64 `json:"not_recorded"`
}
