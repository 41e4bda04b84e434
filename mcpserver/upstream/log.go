package upstream

import (
	"bufio"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of a Log.
const (
	// DefaultLogLines is how many lines a Log keeps.
	DefaultLogLines = 500
	// MaxLogLine is the longest line a Log keeps; longer ones are cut.
	MaxLogLine = 2048
)

// LogLine is one line of an upstream's log.
type LogLine struct {
	Time time.Time `json:"time"`
	// Source is "stderr" (the process wrote it), "notification" (a log
	// message the upstream sent over MCP) or "plexus" (what Plexus did:
	// started, exited, restarting).
	Source string `json:"source"`
	Text   string `json:"text"`
}

// Log is the bounded, per-upstream log an administrator reads: the
// upstream's stderr, the log messages it sent, and Plexus's own lines
// about it. It keeps the last DefaultLogLines lines of at most MaxLogLine
// bytes, and masks the credentials Plexus injected (Mask) wherever the
// upstream prints them. Safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	lines   []LogLine // ring
	next    int
	full    bool
	max     int
	secrets []string
	now     func() time.Time
}

// NewLog returns a Log keeping max lines (DefaultLogLines if max <= 0).
func NewLog(max int) *Log {
	if max <= 0 {
		max = DefaultLogLines
	}
	return &Log{lines: make([]LogLine, max), max: max, now: time.Now}
}

// minMaskLen is the shortest value Mask hides: shorter ones would mask
// ordinary words.
const minMaskLen = 6

// Mask makes the log print [redacted] in place of each of secrets from now
// on (values shorter than 6 bytes are not masked).
func (l *Log) Mask(secrets ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= minMaskLen && !slices.Contains(l.secrets, s) { // each start masks them again
			l.secrets = append(l.secrets, s)
		}
	}
	// Longest first: a secret that contains another is hidden whole.
	slices.SortStableFunc(l.secrets, func(a, b string) int { return len(b) - len(a) })
}

// Add appends one line (cut to MaxLogLine bytes, control characters
// replaced, injected secrets masked).
func (l *Log) Add(source, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.secrets {
		text = strings.ReplaceAll(text, s, "[redacted]")
	}
	text = cleanLine(text)
	l.lines[l.next] = LogLine{Time: l.now().UTC(), Source: source, Text: text}
	l.next = (l.next + 1) % l.max
	if l.next == 0 {
		l.full = true
	}
}

// Lines returns the kept lines, oldest first.
func (l *Log) Lines() []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]LogLine(nil), l.lines[:l.next]...)
	}
	out := make([]LogLine, 0, l.max)
	out = append(out, l.lines[l.next:]...)
	return append(out, l.lines[:l.next]...)
}

// Tail returns the last n lines' texts joined by newlines, for an error
// message ("" when there are none).
func (l *Log) Tail(source string, n int) string {
	lines := l.Lines()
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if source == "" || lines[i].Source == source {
			out = append(out, lines[i].Text)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, "\n")
}

// cleanLine cuts s to MaxLogLine bytes (on a rune boundary) and replaces
// control characters and invalid UTF-8 (a terminal reading the log must
// not be driven by them).
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if len(s) > MaxLogLine {
		cut := MaxLogLine
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + " …(cut)"
	}
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) && r != '\t' }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return r
		case r == utf8.RuneError, unicode.IsControl(r):
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// copyLines reads r line by line into l as source until r ends, never
// blocking the writer for long: a line longer than MaxLogLine is cut and
// the rest of it skipped.
func (l *Log) copyLines(source string, r io.Reader) {
	br := bufio.NewReaderSize(r, MaxLogLine+1)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			l.Add(source, string(line))
			if err == bufio.ErrBufferFull {
				// Skip the rest of an over-long line.
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
