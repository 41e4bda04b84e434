package localclient

import (
	"bytes"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // providers
	}{
		{"one", "event: waiting\ndata: {\"kind\":\"consent\",\"provider_name\":\"github\"}\n\n", []string{"github"}},
		{"crlf and comments", ": hello\r\n\r\nevent: waiting\r\ndata: {\"kind\":\"consent\",\"provider_name\":\"a\"}\r\n\r\n: heartbeat\r\n\r\n", []string{"a"}},
		{"two", "event: waiting\ndata: {\"kind\":\"consent\",\"provider_name\":\"a\"}\n\nevent: waiting\ndata:{\"kind\":\"api_key\",\"provider_name\":\"b\"}\n\n", []string{"a", "b"}},
		{"other events skipped", "event: other\ndata: {\"kind\":\"consent\",\"provider_name\":\"x\"}\n\n", nil},
		{"bad data skipped", "event: waiting\ndata: {nope\n\nevent: waiting\ndata: {}\n\n", nil},
		{"multi-line data", "event: waiting\ndata: {\"kind\":\"consent\",\ndata: \"provider_name\":\"m\"}\n\n", []string{"m"}},
		{"unterminated block ignored", "event: waiting\ndata: {\"kind\":\"consent\"}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			alive := 0
			if err := readEvents(strings.NewReader(tc.in), func() { alive++ }, func(e apiv1.Event) { got = append(got, e.Provider) }); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || alive == 0 {
				t.Fatalf("got %v (alive %d), want %v", got, alive, tc.want)
			}
		})
	}
	long := "data: " + strings.Repeat("x", maxEventLine+10) + "\n\n"
	if err := readEvents(strings.NewReader(long), nil, func(apiv1.Event) {}); err == nil {
		t.Fatal("an overlong line was accepted")
	}
	many := "event: waiting\n" + strings.Repeat("data: "+strings.Repeat("y", 60000)+"\n", 3) + "\n"
	if err := readEvents(strings.NewReader(many), nil, func(apiv1.Event) {}); err == nil {
		t.Fatal("overlong data was accepted")
	}
}

func FuzzReadEvents(f *testing.F) {
	f.Add([]byte("event: waiting\ndata: {\"kind\":\"consent\",\"provider_name\":\"github\"}\n\n"))
	f.Add([]byte(": c\n\nevent:\ndata\n\n\r\n"))
	f.Add(bytes.Repeat([]byte("data: x\n"), 100))
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = readEvents(bytes.NewReader(in), func() {}, func(e apiv1.Event) {
			if e.Kind == "" {
				t.Fatal("an event without a kind")
			}
		})
	})
}
