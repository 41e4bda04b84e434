package adminops

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var clientNameCases = []struct{ raw, want string }{
	{``, ""},
	{`null`, ""},
	{`{"clientInfo":{"name":"claude-ai","version":"0.12"}}`, "claude-ai 0.12"},
	{`{"clientInfo":{"name":"x","title":"Claude Desktop"}}`, "Claude Desktop"},
	{`{"clientInfo":{"name":"a\u0000b\u202e","version":"` + strings.Repeat("9", 40) + `"}}`, "ab"},
	{`{"clientInfo":{"name":"` + strings.Repeat("é", 200) + `"}}`, strings.Repeat("é", maxClientName-1) + "…"},
	{`{"clientInfo":"nope"}`, ""},
	{`[1,2]`, ""},
}

func TestClientName(t *testing.T) {
	for _, c := range clientNameCases {
		if got := clientName(json.RawMessage(c.raw)); got != c.want {
			t.Errorf("clientName(%.60s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// FuzzClientName: whatever an MCP client stored, the name shown is short,
// valid text without control or format characters.
func FuzzClientName(f *testing.F) {
	for _, c := range clientNameCases {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := clientName(json.RawMessage(raw))
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxClientName ||
			strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
			t.Fatalf("clientName(%q) = %q", raw, got)
		}
	})
}
