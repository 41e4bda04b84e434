// Package audit keeps Plexus's record of tool calls: which tool a tenant's
// caller used, who the caller was, how it ended and how long it took. It
// is what the admin UI's Activity page reads.
//
// # What a record holds, and what it never holds
//
// A Call names the tenant, the tool, the caller (a persistent user id,
// marked when it is the tenant's local owner; for a guest only the
// fingerprint of its MCP session, never the session id), the MCP client's
// name, the outcome, the duration and the start time. A tool's arguments
// are never stored: at most their size in bytes. Results, error texts,
// tokens and keys never reach this package.
//
// # Where records go
//
// Records are JSON lines in files named calls-YYYYMMDD-NNNN.jsonl (UTC
// day, then a sequence number) in one directory of the data dir, mode
// 0600. A new file starts every UTC day and whenever the current one
// reaches Options.MaxFileBytes; when a file starts, files older than
// Options.MaxAge are deleted, then the oldest ones until the directory
// holds at most Options.MaxTotalBytes (plus the file being written). So the
// record is bounded in size and age, and the newest calls are always kept.
//
// # Never in the way of a call
//
// Record does not block and does no I/O: it puts the call in a bounded
// queue. One goroutine drains it, letting calls gather for 100 ms after
// the first (so a busy server wakes it ten times a second, not once a
// call) and writing each batch with one append; Flush writes at once. When the queue is full the call is dropped and counted
// (Stats.Dropped); so is a call whose write failed (Stats.Failed).
package audit

import (
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
)

// Outcomes lists every outcome, in the order a filter offers them.
func Outcomes() []Outcome {
	return []Outcome{OutcomeOK, OutcomeToolError, OutcomeProtocolError, OutcomeNeedsConsent, OutcomeNeedsKey}
}

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	for _, k := range Outcomes() {
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

// Call is one tool call.
type Call struct {
	// Time is when the call started.
	Time   time.Time
	Tenant string
	Tool   string
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
	// ArgsBytes is the size of the arguments as JSON; the arguments
	// themselves are never recorded.
	ArgsBytes int
}

// Limits on a record's text fields; longer values are cut.
const (
	maxTenantLen  = 64
	maxToolLen    = 128
	maxUserLen    = 256
	maxSessionLen = 16
	maxClientLen  = 64
	maxReasonLen  = 32
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
	Time      time.Time `json:"time"`
	Tenant    string    `json:"tenant"`
	Tool      string    `json:"tool"`
	User      string    `json:"user,omitempty"`
	Local     bool      `json:"local,omitempty"`
	Session   string    `json:"session,omitempty"`
	Client    string    `json:"client,omitempty"`
	Outcome   Outcome   `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	Micros    int64     `json:"duration_us"`
	ArgsBytes int       `json:"args_bytes,omitempty"`
}

// appendLine appends c (cleaned: no control characters, valid UTF-8) as
// one JSON line, the encoding of line, without reflection: only '"' and
// '\\' need escaping in a clean string.
func appendLine(b []byte, c Call) []byte {
	b = append(b, `{"time":"`...)
	b = c.Time.AppendFormat(b, time.RFC3339Nano)
	b = appendField(b, `","tenant":`, c.Tenant)
	b = appendField(b, `,"tool":`, c.Tool)
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
	return Call{Time: l.Time, Tenant: l.Tenant, Tool: l.Tool, User: l.User, Local: l.Local, Session: l.Session,
		Client: l.Client, Outcome: l.Outcome, Reason: l.Reason, Duration: time.Duration(l.Micros) * time.Microsecond,
		ArgsBytes: l.ArgsBytes}
}
