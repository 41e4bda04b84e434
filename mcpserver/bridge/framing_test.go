package bridge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAllLines(t testing.TB, in string, max int) (lines []string, tooLong []bool) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	for range len(in) + 2 {
		l, err := readLine(br, max)
		if errors.Is(err, io.EOF) {
			return lines, tooLong
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			t.Fatalf("readLine: %v", err)
		}
		lines = append(lines, string(l))
		tooLong = append(tooLong, errors.Is(err, errLineTooLong))
	}
	t.Fatalf("readLine did not reach EOF on %q", in)
	return nil, nil
}

var readLineCases = []struct {
	name    string
	in      string
	max     int
	want    []string
	tooLong []bool
}{
	{"empty", "", 10, nil, nil},
	{"one", "abc\n", 10, []string{"abc"}, []bool{false}},
	{"crlf", "abc\r\ndef\r\n", 10, []string{"abc", "def"}, []bool{false, false}},
	{"no final newline", "abc\ndef", 10, []string{"abc", "def"}, []bool{false, false}},
	{"blank lines", "\n\nx\n", 10, []string{"", "", "x"}, []bool{false, false, false}},
	{"exactly max", "0123456789\n", 10, []string{"0123456789"}, []bool{false}},
	{"exactly max crlf", "0123456789\r\n", 10, []string{"0123456789"}, []bool{false}},
	{"one over", "01234567890\nok\n", 10, []string{"0123456789", "ok"}, []bool{true, false}},
	{"far over, longer than buffer", strings.Repeat("x", 100) + "\nok\n", 10, []string{strings.Repeat("x", 10), "ok"}, []bool{true, false}},
	{"over at eof", strings.Repeat("y", 50), 10, []string{strings.Repeat("y", 10)}, []bool{true}},
}

func TestReadLine(t *testing.T) {
	for _, tc := range readLineCases {
		t.Run(tc.name, func(t *testing.T) {
			got, tooLong := readAllLines(t, tc.in, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("lines = %q, want %q", got, tc.want)
			}
			for i := range tooLong {
				if tooLong[i] != tc.tooLong[i] {
					t.Fatalf("tooLong = %v, want %v", tooLong, tc.tooLong)
				}
			}
		})
	}
}

var peekIDCases = []struct {
	name string
	in   string
	want string // "" = none
}{
	{"number", `{"jsonrpc":"2.0","id":7,"method":"x"}`, "7"},
	{"string", `{"id":"a-1"}`, `"a-1"`},
	{"truncated after id", `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"aaaa`, "42"},
	{"truncated before id", `{"jsonrpc":"2.0","method":"tools/call","params":{"x":"aaaa`, ""},
	{"null id", `{"id":null}`, ""},
	{"object id", `{"id":{}}`, ""},
	{"not an object", `[1,2]`, ""},
	{"garbage", `hello`, ""},
	{"empty", ``, ""},
}

func TestPeekID(t *testing.T) {
	for _, tc := range peekIDCases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := peekID([]byte(tc.in))
			if got := string(id); got != tc.want || ok != (tc.want != "") {
				t.Fatalf("peekID = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

var sseCases = []struct {
	name string
	in   string
	want []sseEvent
}{
	{"simple", "event: message\ndata: {\"a\":1}\n\n", []sseEvent{{Event: "message", Data: `{"a":1}`}}},
	{"no space after colon", "data:{\"a\":1}\n\n", []sseEvent{{Data: `{"a":1}`}}},
	{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", []sseEvent{{Data: "{\"a\":\n1}"}}},
	{"comments and ids", ": keepalive\nid: 5\ndata: x\n\n: another\ndata: y\n\n", []sseEvent{{Data: "x", ID: "5"}, {Data: "y", ID: "5"}}},
	{"crlf", "id: 1\r\ndata: a\r\n\r\n", []sseEvent{{Data: "a", ID: "1"}}},
	{"bare cr", "data: a\rdata: b\r\r", []sseEvent{{Data: "a\nb"}}},
	{"retry", "retry: 1500\ndata: a\n\n", []sseEvent{{Data: "a", Retry: 1500}}},
	{"bad retry ignored", "retry: 1x\ndata: a\n\n", []sseEvent{{Data: "a"}}},
	{"event without data is not dispatched", "event: ping\n\ndata: a\n\n", []sseEvent{{Data: "a"}}},
	{"unterminated event dropped", "data: a\n\ndata: b\n", []sseEvent{{Data: "a"}}},
	{"bom", "\xEF\xBB\xBFdata: a\n\n", []sseEvent{{Data: "a"}}},
	{"unknown field", "foo: bar\ndata: a\n\n", []sseEvent{{Data: "a"}}},
	{"id with nul ignored", "id: 1\n\ndata: a\nid: x\x00y\n\n", []sseEvent{{Data: "a", ID: "1"}}},
	{"field without colon", "data\n\n", []sseEvent{{Data: ""}}},
}

func TestSSEReader(t *testing.T) {
	for _, tc := range sseCases {
		t.Run(tc.name, func(t *testing.T) {
			sr := newSSEReader(strings.NewReader(tc.in), 1<<10)
			var got []sseEvent
			for range 100 {
				ev, err := sr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("next: %v", err)
				}
				got = append(got, ev)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("event %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSSEReaderLimits(t *testing.T) {
	sr := newSSEReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
	if _, err := sr.next(); !errors.Is(err, errLineTooLong) {
		t.Fatalf("long line: err = %v, want errLineTooLong", err)
	}
	sr = newSSEReader(strings.NewReader(strings.Repeat("data: xxxxxxxxxx\n", 10)+"\n"), 50)
	if _, err := sr.next(); !errors.Is(err, errEventTooLarge) {
		t.Fatalf("large event: err = %v, want errEventTooLarge", err)
	}
}

func TestEncodeHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"echo":         "echo",
		"file:///a b":  "file:///a b",
		"héllo":        "=?base64?aMOpbGxv?=",
		" lead":        "=?base64?IGxlYWQ=?=",
		"a\r\nb":       "=?base64?YQ0KYg==?=",
		"=?base64?x?=": "=?base64?PT9iYXNlNjQ/eD89?=",
		"":             "",
	} {
		if got := encodeHeaderValue(in); got != want {
			t.Errorf("encodeHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReadMessage feeds arbitrary stdin to the line reader and the parts
// of message handling that need no network: every line is bounded and has
// no newline, ids peeked are valid ids, header values are header-safe.
func FuzzReadMessage(f *testing.F) {
	for _, tc := range readLineCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range peekIDCases {
		f.Add([]byte(tc.in + "\n"))
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"h\u00e9","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}` + "\n"))
	const max = 64
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range len(data) + 2 {
			l, err := readLine(br, max)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil && !errors.Is(err, errLineTooLong) {
				t.Fatalf("readLine: %v", err)
			}
			if len(l) > max || bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("line %q breaks the bounds", l)
			}
			if id, ok := peekID(l); ok && !validID(id) {
				t.Fatalf("peekID returned invalid id %q", id)
			}
			var m message
			if json.Unmarshal(l, &m) == nil {
				_, name, _ := m.meta()
				for _, c := range []byte(encodeHeaderValue(name)) {
					if c < 0x20 || c > 0x7e {
						t.Fatalf("header value for %q has byte %#x", name, c)
					}
				}
			}
		}
		t.Fatal("readLine did not reach EOF")
	})
}

// FuzzSSE feeds arbitrary bytes to the SSE parser: it must end, never
// panic, and never return more data than its limit.
func FuzzSSE(f *testing.F) {
	for _, tc := range sseCases {
		f.Add([]byte(tc.in))
	}
	const max = 128
	f.Fuzz(func(t *testing.T, data []byte) {
		sr := newSSEReader(bytes.NewReader(data), max)
		for range len(data) + 1 {
			ev, err := sr.next()
			if err != nil {
				return
			}
			if len(ev.Data) > max {
				t.Fatalf("event data of %d bytes exceeds the limit", len(ev.Data))
			}
		}
		t.Fatal("SSE parser returned more events than input bytes")
	})
}
