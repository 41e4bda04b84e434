package httptool

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// FuzzTemplate: any template either fails to parse with ErrTemplate or
// expands without panicking; literal text survives the round trip.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "/a/{b}", "{{x}}", "{", "}", "{a}{b}", "x-{city}-y", "{a b}", "{{{a}}}", "{é}", "/{a}/../{b}"} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, s, v string) {
		tm, err := parseTemplate(s)
		if err != nil {
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("error %v does not wrap ErrTemplate", err)
			}
			return
		}
		args := map[string]any{}
		for _, a := range tm.args() {
			if !validArgName(a) {
				t.Fatalf("placeholder %q accepted", a)
			}
			args[a] = v
		}
		out, present, err := tm.expand(args, nil)
		if err != nil || !present {
			t.Fatalf("expand: %q %v %v", out, present, err)
		}
		if !tm.hasArgs() {
			want := strings.NewReplacer("{{", "{", "}}", "}").Replace(s)
			if out != want {
				t.Fatalf("literal %q expanded to %q, want %q", s, out, want)
			}
		}
	})
}

// FuzzRequest: whatever string an argument holds, the request goes to
// the tool's origin, the path keeps its segments, the query and header
// values come back exactly (or the value is refused), and the body is
// JSON carrying the value unchanged.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"Paris", "../admin", "a?b=c&d", "a\r\nX: y", `"},{"`, "%2e%2e", "..", ".", "", "a/b", "#x", "@evil.example", "\x00", "é☃", "{city}", "}}{{"} {
		f.Add(s)
	}
	tl, err := Compile(cityTool())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req, err := tl.Request(map[string]any{"city": v, "units": v, "trace": v})
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("error is not an ArgError: %v", err)
			}
			return
		}
		if req.URL.Scheme != "https" || req.URL.Host != "api.example.com" || req.URL.User != nil {
			t.Fatalf("origin changed by %q: %s", v, req.URL.Redacted())
		}
		segs := strings.Split(req.URL.EscapedPath(), "/")
		if len(segs) != 5 || segs[4] != "weather" {
			t.Fatalf("path shape changed by %q: %s", v, req.URL.EscapedPath())
		}
		if got, err := url.PathUnescape(segs[3]); err != nil || got != v {
			t.Fatalf("path value %q came back as %q (%v)", v, got, err)
		}
		q := req.URL.Query()
		if q.Get("units") != v || q.Get("fixed") != "1" || len(q["fixed"]) != 1 {
			t.Fatalf("query changed by %q: %v", v, q)
		}
		if got := req.Header.Get("X-Trace"); got != "t-"+v {
			t.Fatalf("header %q came back as %q", v, got)
		}
		if len(req.Header) != 4 { // Accept, User-Agent, Content-Type, X-Trace
			t.Fatalf("headers changed by %q: %v", v, req.Header)
		}
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("body not JSON for %q: %s", v, b)
		}
		if body["city"] != strings.ToValidUTF8(v, "\uFFFD") || len(body) != 3 {
			t.Fatalf("body changed by %q: %s", v, b)
		}
	})
}

// FuzzPointer: any pointer and document resolve or fail without panic.
func FuzzPointer(f *testing.F) {
	f.Add("/a/0/b", `{"a":[{"b":1}]}`)
	f.Add("/~0~1", `{"~/":2}`)
	f.Add("/-", `[1]`)
	f.Fuzz(func(t *testing.T, p, doc string) {
		toks, err := parsePointer(p)
		if err != nil {
			return
		}
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		_, _ = resolvePointer(v, toks)
	})
}
