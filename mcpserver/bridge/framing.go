package bridge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// errLineTooLong is returned by readLine for a line longer than its limit.
var errLineTooLong = errors.New("line too long")

// errEventTooLarge is returned by sseReader.next for an event whose data is
// larger than the reader's limit.
var errEventTooLarge = errors.New("server-sent event too large")

// readLine reads one '\n'-terminated line and returns it without the '\n'
// and without one '\r' before it. A line longer than max bytes is consumed
// to its end and returned cut to max bytes, with errLineTooLong, so the
// caller can answer it and go on. A last line without '\n' is returned
// with a nil error; after it readLine returns io.EOF.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			// Room for "\r\n" beyond max: the terminator is not content.
			if len(buf) > max+2 {
				buf = buf[:max]
				tooLong = true
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && len(buf) == 0 && !tooLong {
			return nil, err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		break
	}
	if tooLong {
		return buf, errLineTooLong
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	if len(buf) > max {
		return buf[:max], errLineTooLong
	}
	return buf, nil
}

// peekID returns the top-level "id" of a JSON-RPC object, reading only as
// far as needed, so an over-long or otherwise broken message can still be
// answered with its id. It reports false when no valid id comes before the
// data breaks off.
func peekID(data []byte) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for range 256 {
		if !dec.More() {
			return nil, false
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := tok.(string)
		if !ok {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if key == "id" {
			if validID(v) {
				return v, true
			}
			return nil, false
		}
	}
	return nil, false
}

// validID reports whether raw is a JSON-RPC id: a string or a number.
func validID(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		return json.Unmarshal(raw, &s) == nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		return json.Unmarshal(raw, &n) == nil
	}
	return false
}

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	Event string // "" means "message"
	Data  string // data lines joined with '\n'
	ID    string // the last event id seen on the stream, as of this event
	Retry int    // reconnection time in ms, 0 if the event set none
}

// sseReader parses a text/event-stream body as the WHATWG HTML standard
// describes it: lines end in CRLF, LF or CR; ':' starts a comment; a field
// name is followed by ':' and an optional space; multiple data lines are
// joined with '\n'; a blank line dispatches the event; an event cut off by
// the end of the stream is dropped. Lines and event data are bounded by max.
type sseReader struct {
	br      *bufio.Reader
	max     int
	pending [][]byte // lines split off a chunk at a bare '\r'
	lastID  string
	started bool
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// line returns the next line of the stream, splitting at bare '\r' too.
func (s *sseReader) line() ([]byte, error) {
	if len(s.pending) == 0 {
		l, err := readLine(s.br, s.max)
		if err != nil {
			return nil, err
		}
		if !s.started {
			s.started = true
			l = bytes.TrimPrefix(l, []byte("\xEF\xBB\xBF"))
		}
		s.pending = bytes.Split(l, []byte("\r"))
	}
	l := s.pending[0]
	s.pending = s.pending[1:]
	return l, nil
}

// next returns the next event that carries data. It returns io.EOF at the
// end of the stream, errLineTooLong or errEventTooLarge for an oversized
// line or event, or the reader's error.
func (s *sseReader) next() (sseEvent, error) {
	var (
		ev      sseEvent
		data    bytes.Buffer
		hasData bool
	)
	for {
		line, err := s.line()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !hasData {
				ev = sseEvent{}
				continue
			}
			ev.Data = string(bytes.TrimSuffix(data.Bytes(), []byte("\n")))
			ev.ID = s.lastID
			return ev, nil
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.Event = string(value)
		case "data":
			if data.Len()+len(value)+1 > s.max {
				return sseEvent{}, errEventTooLarge
			}
			data.Write(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 && isDigits(value) {
				ev.Retry = n
			}
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
