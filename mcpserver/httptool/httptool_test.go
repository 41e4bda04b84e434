package httptool

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/vault"
)

const citySchema = `{"type":"object","properties":{"city":{"type":"string"},"units":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"n":{"type":"integer"},"trace":{"type":"string"},"opts":{"type":"object"}},"required":["city"]}`

func cityTool() vault.HTTPTool {
	return vault.HTTPTool{
		TenantID: "acme", Name: "city", Method: "POST",
		InputSchema: json.RawMessage(citySchema),
		URL:         "https://api.example.com/v1/cities/{city}/weather?fixed=1",
		Query:       map[string]string{"units": "{units}", "tag": "{tags}", "q": "x-{city}"},
		Headers:     map[string]string{"X-Trace": "t-{trace}"},
		Body:        json.RawMessage(`{"city":"{city}","n":"{n}","label":"City: {city}!","opts":"{opts}","lit":"{{not a placeholder}}"}`),
	}
}

func mustCompile(t *testing.T, d vault.HTTPTool) *Tool {
	t.Helper()
	tl, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// TestRequestEscaping: every argument is escaped for its position; the
// injection attempts stay inside their value.
func TestRequestEscaping(t *testing.T) {
	tl := mustCompile(t, cityTool())
	tests := []struct {
		name string
		args map[string]any
		path string // escaped path
		q    url.Values
		hdr  string
		body map[string]any
		err  string
	}{
		{"plain", map[string]any{"city": "Paris"}, "/v1/cities/Paris/weather",
			url.Values{"fixed": {"1"}, "q": {"x-Paris"}}, "", map[string]any{"city": "Paris", "label": "City: Paris!", "lit": "{not a placeholder}"}, ""},
		{"slash and dots", map[string]any{"city": "../admin"}, "/v1/cities/..%2Fadmin/weather",
			url.Values{"fixed": {"1"}, "q": {"x-../admin"}}, "", nil, ""},
		{"query breaker", map[string]any{"city": "a?b=c&d", "units": "m&fixed=2"}, "/v1/cities/a%3Fb=c&d/weather",
			url.Values{"fixed": {"1"}, "q": {"x-a?b=c&d"}, "units": {"m&fixed=2"}}, "", nil, ""},
		{"fragment and percent", map[string]any{"city": "a#b%2F"}, "/v1/cities/a%23b%252F/weather", nil, "", nil, ""},
		{"json breaker", map[string]any{"city": `"},{"admin":true,"x":"`}, "", nil, "",
			map[string]any{"city": `"},{"admin":true,"x":"`, "label": `City: "},{"admin":true,"x":"!`, "lit": "{not a placeholder}"}, ""},
		{"typed body values", map[string]any{"city": "P", "n": float64(3), "opts": map[string]any{"a": []any{1.0}}}, "", nil, "",
			map[string]any{"city": "P", "n": 3.0, "opts": map[string]any{"a": []any{1.0}}, "label": "City: P!", "lit": "{not a placeholder}"}, ""},
		{"repeated query", map[string]any{"city": "P", "tags": []any{"a", "b&c"}}, "", url.Values{"fixed": {"1"}, "q": {"x-P"}, "tag": {"a", "b&c"}}, "", nil, ""},
		{"header", map[string]any{"city": "P", "trace": "abc"}, "", nil, "t-abc", nil, ""},
		{"crlf header", map[string]any{"city": "P", "trace": "a\r\nX-Admin: 1"}, "", nil, "", nil, "line breaks"},
		{"dot dot segment", map[string]any{"city": ".."}, "", nil, "", nil, `".."`},
		{"dot segment", map[string]any{"city": "."}, "", nil, "", nil, `".."`},
		{"empty path value", map[string]any{"city": ""}, "", nil, "", nil, "must not be empty"},
		{"missing required", map[string]any{}, "", nil, "", nil, "city"},
		{"extra argument", map[string]any{"city": "P", "colour": "red"}, "", nil, "", nil, "colour"},
		{"wrong type", map[string]any{"city": 3.0}, "", nil, "", nil, "city"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tl.Request(tc.args)
			if tc.err != "" {
				var ae *ArgError
				if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want an ArgError mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.Host != "api.example.com" || req.URL.Scheme != "https" {
				t.Fatalf("origin changed: %s", req.URL)
			}
			if tc.path != "" && req.URL.EscapedPath() != tc.path {
				t.Errorf("path = %s; want %s", req.URL.EscapedPath(), tc.path)
			}
			if tc.q != nil {
				if got := req.URL.Query(); got.Encode() != tc.q.Encode() {
					t.Errorf("query = %v; want %v", got, tc.q)
				}
			}
			if got := req.Header.Get("X-Trace"); got != tc.hdr {
				t.Errorf("X-Trace = %q; want %q", got, tc.hdr)
			}
			if tc.body != nil {
				b, _ := io.ReadAll(req.Body)
				var got map[string]any
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("body %s: %v", b, err)
				}
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(tc.body)
				if string(gb) != string(wb) {
					t.Errorf("body = %s; want %s", gb, wb)
				}
				if req.Header.Get("Content-Type") != "application/json" {
					t.Errorf("content type %q", req.Header.Get("Content-Type"))
				}
			}
		})
	}
}

// TestCompileErrors: a definition that cannot work is refused, naming the
// field.
func TestCompileErrors(t *testing.T) {
	mod := func(f func(*vault.HTTPTool)) vault.HTTPTool { d := cityTool(); f(&d); return d }
	tests := []struct {
		name string
		d    vault.HTTPTool
		want string
	}{
		{"unknown placeholder", mod(func(d *vault.HTTPTool) { d.URL = "https://a.example/{cty}" }), "{cty} is not an argument"},
		{"optional in path", mod(func(d *vault.HTTPTool) { d.URL = "https://a.example/{units}" }), "required"},
		{"unclosed", mod(func(d *vault.HTTPTool) { d.Headers = map[string]string{"X": "{city"} }), "never closes"},
		{"stray close", mod(func(d *vault.HTTPTool) { d.Query = map[string]string{"a": "b}"} }), "closes nothing"},
		{"bad name", mod(func(d *vault.HTTPTool) { d.Query = map[string]string{"a": "{1x}"} }), "placeholder"},
		{"placeholder in url query", mod(func(d *vault.HTTPTool) { d.URL = "https://a.example/x?a={city}" }), "query"},
		{"host placeholder", mod(func(d *vault.HTTPTool) { d.URL = "https://{city}.example/x" }), "literal"},
		{"schema not compiling", mod(func(d *vault.HTTPTool) {
			d.InputSchema = json.RawMessage(`{"type":"object","properties":{"city":{"type":12}}}`)
		}), "input_schema"},
		{"schema not object type", mod(func(d *vault.HTTPTool) { d.InputSchema = json.RawMessage(`{"type":"string"}`) }), "input_schema"},
		{"remote ref", mod(func(d *vault.HTTPTool) {
			d.InputSchema = json.RawMessage(`{"type":"object","properties":{"city":{"$ref":"https://evil.example/s.json"}},"required":["city"]}`)
		}), "input_schema"},
		{"body placeholder", mod(func(d *vault.HTTPTool) { d.Body = json.RawMessage(`{"a":"{nope}"}`) }), "{nope}"},
		{"pointer", mod(func(d *vault.HTTPTool) { d.ResponsePointer = "/a~2" }), "response_pointer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.d)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func answer(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}
}

// TestResult: the pointer selects, strings come as text, errors in words,
// the size cap holds.
func TestResult(t *testing.T) {
	d := cityTool()
	tests := []struct {
		pointer string
		max     int
		status  int
		body    string
		want    string
		isErr   bool
	}{
		{"", 0, 200, `{"a":1}`, `{"a":1}`, false},
		{"/main/temp", 0, 200, `{"main":{"temp":21.5}}`, `21.5`, false},
		{"/list/1/name", 0, 200, `{"list":[{"name":"a"},{"name":"b"}]}`, `b`, false},
		{"/a~1b/c~0d", 0, 200, `{"a/b":{"c~d":true}}`, `true`, false},
		{"/missing", 0, 200, `{"a":1}`, `nothing at /missing`, true},
		{"/list/9", 0, 200, `{"list":[]}`, `no element`, true},
		{"/a", 0, 200, `not json`, `not JSON`, true},
		{"", 0, 404, `{"message":"no such city"}`, `404`, true},
		{"", 5, 200, `0123456789`, `larger than 5 bytes`, true},
	}
	for _, tc := range tests {
		d.ResponsePointer, d.MaxResponseBytes = tc.pointer, tc.max
		tl := mustCompile(t, d)
		res := tl.Result(answer(tc.status, tc.body))
		got := resultText(res)
		if res.IsError != tc.isErr || !strings.Contains(got, tc.want) {
			t.Errorf("pointer %q body %s: %q (error %v); want %q (error %v)", tc.pointer, tc.body, got, res.IsError, tc.want, tc.isErr)
		}
	}
}
