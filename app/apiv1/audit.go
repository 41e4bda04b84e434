package apiv1

import (
	"encoding/json"
	"time"
)

// AuditQuery selects a page of the audit log, newest first: GET
// /api/v1/audit?tenant=&user=&who=&tool=&outcome=&kind=&since=&until=&cursor=&limit=.
// Every field is optional.
type AuditQuery struct {
	Tenant string `json:"tenant,omitempty"`
	// User is a persistent user id; Who is as in ActivityQuery (local,
	// guest, user:<id>). Give at most one.
	User    string `json:"user,omitempty"`
	Who     string `json:"who,omitempty"`
	Tool    string `json:"tool,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// Kind is tool_call, credential, login or admin.
	Kind string `json:"kind,omitempty"`
	// Since and Until bound the records' times: RFC 3339 times, or a
	// duration back from now ("24h", "90m").
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	// Cursor continues from a previous answer's Next ("" = newest).
	Cursor string `json:"cursor,omitempty"`
	// Limit is the page size, 1-200 (0 = 50).
	Limit int `json:"limit,omitempty"`
}

// AuditRecord is one record of the audit log. It never holds a secret:
// Args are the tool's arguments masked ("[masked]" for secret-named keys
// and stored secrets), cut to 2 KiB (ArgsCut) when longer.
type AuditRecord struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Tenant string    `json:"tenant,omitempty"`
	// UserID is the caller's persistent id; UserName its host user id
	// when the user still exists.
	UserID   string `json:"persistent_user_id,omitempty"`
	UserName string `json:"user_name,omitempty"`
	Local    bool   `json:"local,omitempty"`
	Session  string `json:"session_fingerprint,omitempty"`
	Client   string `json:"client,omitempty"`
	Tool     string `json:"tool,omitempty"`
	// Action, Target and Actor describe a credential change, login or
	// admin action: what was done, to what, by whom (admin_token,
	// local_token, ui, host_app, link, vault).
	Action     string          `json:"action,omitempty"`
	Target     string          `json:"target,omitempty"`
	Actor      string          `json:"actor,omitempty"`
	Outcome    string          `json:"outcome"`
	Reason     string          `json:"reason,omitempty"`
	DurationMS float64         `json:"duration_ms"`
	ArgsBytes  int             `json:"args_bytes,omitempty"`
	Args       json.RawMessage `json:"args,omitempty"`
	ArgsCut    bool            `json:"args_cut,omitempty"`
}

// AuditResponse is a page of records.
type AuditResponse struct {
	Records []AuditRecord `json:"records"`
	// Next is the cursor of the next (older) page; "" when there is none.
	Next string `json:"next,omitempty"`
	// NotRecorded counts records since the daemon started that were not
	// written (it was too busy, or the disk refused).
	NotRecorded uint64 `json:"not_recorded"`
}
