// Package audit keeps Plexus's audit log: every tool call, credential
// change, sign-in and admin action, as JSON lines in the data dir. It is
// what the admin UI's Activity page and GET /api/v1/audit read.
//
// # What a record holds, and what it never holds
//
// A Record (Call, for history) has a Kind: a tool call, a credential
// change, a login or an admin action. It names the tenant, the caller (a
// persistent user id, marked when it is the tenant's local owner; for a
// guest only the fingerprint of its MCP session, never the session id),
// the MCP client's name or the admin actor, the tool or action and its
// target, the outcome, the duration and the start time. A tool call's
// arguments are recorded masked: the value of any key named like a
// secret (token, secret, password, key, authorization, …, at any depth)
// and any string that is or contains a stored secret (Options.Secrets)
// become "[masked]", and arguments longer than MaxArgsBytes are cut with
// a marker. Masking happens in the writer, before anything reaches a
// file. Results, error texts and secret values never reach this package's
// files.
//
// # Where records go
//
// Records are JSON lines in files named audit-YYYY-MM-DD-NNNN.jsonl (UTC
// day, then a sequence number) in one directory of the data dir, mode
// 0600. A new file starts at UTC midnight and whenever the current one
// reaches Options.MaxFileBytes; the files before it are then gzipped
// (audit-YYYY-MM-DD-NNNN.jsonl.gz), files of days older than
// Options.MaxAge (default 90 days) are deleted, then the oldest ones
// until the directory holds at most Options.MaxTotalBytes (plus the file
// being written). So the log is bounded in size and age, and the newest
// records are always kept. Queries read plain and gzipped files alike.
//
// # Never in the way of a call
//
// Record does not block and does no I/O: it puts the record in a bounded
// queue. One goroutine drains it, letting records gather for 100 ms after
// the first (so a busy server wakes it ten times a second, not once a
// call), masks their arguments and writes each batch with one append;
// Flush writes at once. When the queue is full the record is dropped and
// counted (Stats.Dropped); so is a record whose write failed
// (Stats.Failed).
package audit

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Outcome says how a tool call ended.
type Outcome string

// Outcomes.
const (
	// OutcomeOK: the tool ran and answered.
	OutcomeOK Outcome = "ok"
	// OutcomeToolError: the tool ran and reported an error (an isError
	// result the model sees).
	OutcomeToolError Outcome = "tool_error"
	// OutcomeProtocolError: the call failed as a request (unknown or
	// switched-off tool, the tool's handler failed or panicked); the
	// client got a JSON-RPC error.
	OutcomeProtocolError Outcome = "protocol_error"
	// OutcomeNeedsConsent: the tool needs an account connection (or a
	// sign-in) the caller has not made yet; they were sent a link.
	OutcomeNeedsConsent Outcome = "needs_consent"
	// OutcomeNeedsKey: the tool needs an API key the caller has not
	// stored yet; they were told where to enter it.
	OutcomeNeedsKey Outcome = "needs_key"
	// OutcomeDenied: a login or admin request was refused (a wrong
	// token, secret or link).
	OutcomeDenied Outcome = "denied"
	// OutcomeFailed: an admin action was accepted but failed (bad input,
	// a record not found, an internal error).
	OutcomeFailed Outcome = "failed"
)

// Outcomes lists the outcomes of a tool call, in the order a filter
// offers them.
func Outcomes() []Outcome {
	return []Outcome{OutcomeOK, OutcomeToolError, OutcomeProtocolError, OutcomeNeedsConsent, OutcomeNeedsKey}
}

// AllOutcomes lists every outcome of every kind of record.
func AllOutcomes() []Outcome { return append(Outcomes(), OutcomeDenied, OutcomeFailed) }

// Kind is what a record is about.
type Kind string

// Kinds of records.
const (
	// KindToolCall: a tools/call (Tool, Args).
	KindToolCall Kind = "tool_call"
	// KindCredential: a credential, provider secret or host-app secret
	// was stored, replaced or deleted (Action says which, Target names
	// it; never its value).
	KindCredential Kind = "credential"
	// KindLogin: a sign-in or a token issued or refused (Action: how).
	KindLogin Kind = "login"
	// KindAdmin: a mutating admin request (Action: method and route,
	// Target: what it named; Actor: who).
	KindAdmin Kind = "admin"
)

// OutcomeOf is the outcome of an HTTP request (not a tool call) that
// answered status: 401 or 403 is denied, another error failed, the rest ok.
func OutcomeOf(status int) Outcome {
	switch {
	case status < 400:
		return OutcomeOK
	case status == 401 || status == 403:
		return OutcomeDenied
	}
	return OutcomeFailed
}

// Kinds lists the kinds, in the order a filter offers them.
func Kinds() []Kind { return []Kind{KindToolCall, KindCredential, KindLogin, KindAdmin} }

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if k == x {
			return true
		}
	}
	return false
}

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	for _, k := range AllOutcomes() {
		if o == k {
			return true
		}
	}
	return false
}

// Failed reports whether o is an error (tool or protocol); a call waiting
// for a credential is not.
func (o Outcome) Failed() bool { return o == OutcomeToolError || o == OutcomeProtocolError }

// ReasonUnknownTool is Call.Reason of a call to a tool the tenant does not
// have or has switched off (both answer alike).
const ReasonUnknownTool = "unknown_tool"

// Record is one audit record.
type Record = Call

// Call is one audit record: a tool call unless Kind says otherwise.
type Call struct {
	// Kind is what the record is about; "" is KindToolCall.
	Kind Kind
	// Time is when the call (or action) started.
	Time   time.Time
	Tenant string // "" for an action on no tenant
	Tool   string
	// Action is what a non-tool record did ("PUT /api/v1/tenants/{id}",
	// "ui_login_link", "credential_stored"); a fixed word or route
	// pattern, never a value from the request.
	Action string
	// Target names what the action was about (a tenant, user, provider
	// or upstream name, a credential kind); never a secret.
	Target string
	// Actor is who made an admin action or login: "admin_token",
	// "local_token", "ui", "host_app", "link".
	Actor string
	// User is the caller's persistent user id; "" for a guest.
	User string
	// Local is true when User is the tenant's local owner (the person at
	// this machine, through plexus stdio).
	Local bool
	// Session is a guest's session fingerprint (8 hex digits of the
	// SHA-256 of its session id); "" for users and sessionless guests.
	Session string
	// Client is the MCP client's name as it calls itself ("Claude").
	Client   string
	Outcome  Outcome
	Reason   string // a fixed word such as ReasonUnknownTool, or ""
	Duration time.Duration
	// ArgsBytes is the size of the arguments as JSON.
	ArgsBytes int
	// Args, given to Record, is the tool's arguments as JSON, unmasked
	// (at most MaxRawArgsBytes; longer ones are not kept). The writer
	// masks it before anything is written; read back it is the masked
	// form, or a JSON string of its first MaxArgsBytes and a marker when
	// ArgsCut.
	Args    json.RawMessage
	ArgsCut bool
}

// Limits on a record's text fields; longer values are cut.
const (
	maxTenantLen  = 64
	maxToolLen    = 128
	maxUserLen    = 256
	maxSessionLen = 16
	maxClientLen  = 64
	maxReasonLen  = 32
	maxActionLen  = 128
	maxTargetLen  = 256
	maxActorLen   = 32
)

// clean returns c as it is stored: text fields cut to their limits and
// stripped of control characters and invalid UTF-8, the time in UTC, an
// unknown outcome as a protocol error.
func (c Call) clean() Call {
	c.Time = c.Time.UTC()
	c.Tenant = cleanText(c.Tenant, maxTenantLen)
	c.Tool = cleanText(c.Tool, maxToolLen)
	c.User = cleanText(c.User, maxUserLen)
	c.Session = cleanText(c.Session, maxSessionLen)
	c.Client = cleanText(c.Client, maxClientLen)
	c.Reason = cleanText(c.Reason, maxReasonLen)
	c.Action = cleanText(c.Action, maxActionLen)
	c.Target = cleanText(c.Target, maxTargetLen)
	c.Actor = cleanText(c.Actor, maxActorLen)
	if !c.Kind.Valid() {
		c.Kind = KindToolCall
	}
	if !c.Outcome.Valid() {
		c.Outcome = OutcomeProtocolError
	}
	if c.Duration < 0 {
		c.Duration = 0
	}
	if c.ArgsBytes < 0 {
		c.ArgsBytes = 0
	}
	return c
}

// cleanText drops control characters and invalid UTF-8 and cuts s to at
// most max bytes on a rune boundary.
func cleanText(s string, max int) string {
	ok := len(s) <= max && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "") {
		if unicode.IsControl(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// line is a Call as one JSON line.
type line struct {
	Time      time.Time       `json:"time"`
	Kind      Kind            `json:"kind,omitempty"`
	Tenant    string          `json:"tenant"`
	Tool      string          `json:"tool"`
	Action    string          `json:"action,omitempty"`
	Target    string          `json:"target,omitempty"`
	Actor     string          `json:"actor,omitempty"`
	User      string          `json:"user,omitempty"`
	Local     bool            `json:"local,omitempty"`
	Session   string          `json:"session,omitempty"`
	Client    string          `json:"client,omitempty"`
	Outcome   Outcome         `json:"outcome"`
	Reason    string          `json:"reason,omitempty"`
	Micros    int64           `json:"duration_us"`
	ArgsBytes int             `json:"args_bytes,omitempty"`
	Args      json.RawMessage `json:"args,omitempty"`
	ArgsCut   bool            `json:"args_cut,omitempty"`
}

// appendLine appends c (cleaned: no control characters, valid UTF-8; Args
// masked, compact JSON) as one JSON line, the encoding of line, without
// reflection: only '"' and '\\' need escaping in a clean string.
func appendLine(b []byte, c Call) []byte {
	b = append(b, `{"time":"`...)
	b = c.Time.AppendFormat(b, time.RFC3339Nano)
	b = appendField(b, `","kind":`, string(c.Kind))
	b = appendField(b, `,"tenant":`, c.Tenant)
	b = appendField(b, `,"tool":`, c.Tool)
	if c.Action != "" {
		b = appendField(b, `,"action":`, c.Action)
	}
	if c.Target != "" {
		b = appendField(b, `,"target":`, c.Target)
	}
	if c.Actor != "" {
		b = appendField(b, `,"actor":`, c.Actor)
	}
	if c.User != "" {
		b = appendField(b, `,"user":`, c.User)
	}
	if c.Local {
		b = append(b, `,"local":true`...)
	}
	if c.Session != "" {
		b = appendField(b, `,"session":`, c.Session)
	}
	if c.Client != "" {
		b = appendField(b, `,"client":`, c.Client)
	}
	b = appendField(b, `,"outcome":`, string(c.Outcome))
	if c.Reason != "" {
		b = appendField(b, `,"reason":`, c.Reason)
	}
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, c.Duration.Microseconds(), 10)
	if c.ArgsBytes != 0 {
		b = append(b, `,"args_bytes":`...)
		b = strconv.AppendInt(b, int64(c.ArgsBytes), 10)
	}
	if len(c.Args) > 0 {
		b = append(append(b, `,"args":`...), c.Args...)
	}
	if c.ArgsCut {
		b = append(b, `,"args_cut":true`...)
	}
	return append(b, "}\n"...)
}

// appendField appends key (with its leading comma and colon) and s as a
// JSON string.
func appendField(b []byte, key, s string) []byte {
	b = append(append(b, key...), '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func (l line) call() Call {
	k := l.Kind
	if k == "" {
		k = KindToolCall // written before kinds existed
	}
	return Call{Kind: k, Time: l.Time, Tenant: l.Tenant, Tool: l.Tool, Action: l.Action, Target: l.Target, Actor: l.Actor,
		User: l.User, Local: l.Local, Session: l.Session,
		Client: l.Client, Outcome: l.Outcome, Reason: l.Reason, Duration: time.Duration(l.Micros) * time.Microsecond,
		ArgsBytes: l.ArgsBytes, Args: l.Args, ArgsCut: l.ArgsCut}
}
