// Package httptool compiles a tenant's declarative HTTP tool (a
// vault.HTTPTool) into an MCP tool definition and, per call, the HTTP
// request its arguments make and the result its answer gives.
//
// # Templates
//
// The URL's path, the values of Query and Headers and the strings of the
// JSON Body are templates: "{city}" stands for the call's argument city
// ("{{" and "}}" are literal braces). Every placeholder must name a
// property of the input schema, and the arguments are checked against
// that schema before any request is built (package argcheck, for every
// tools/call). Each value is escaped for where it goes, so no argument can
// change the request's shape:
//
//   - path: url.PathEscape per value ("/" and "?" are escaped); a value
//     that is empty or makes a segment "." or ".." is refused; the origin
//     (scheme, host, port) is literal in the definition and checked again
//     on the built URL;
//   - query: url.Values, so "&" and "=" stay inside their value; a
//     parameter with an absent argument is left out; a list argument that
//     is the whole value repeats the parameter;
//   - header: a value with a line break or another control character is
//     refused; a header with an absent argument is left out;
//   - body: the JSON template is decoded once and the request body is
//     encoded from values (encoding/json), never by pasting text: a
//     string that is exactly "{arg}" becomes the argument's JSON value
//     (any type), other strings get the argument's text inside a JSON
//     string; a member whose argument is absent is left out.
//
// The package builds requests and reads answers; who sends them, with
// which credential, is the caller's (mcpserver/httptools.go).
package httptool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/argcheck"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Defaults.
const (
	// DefaultMaxResponseBytes bounds an answer when the definition sets
	// no max_response_bytes.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultTimeoutSeconds bounds a call when the definition sets no
	// timeout_seconds.
	DefaultTimeoutSeconds = 30
	// ToolSet is the tool set every HTTP tool belongs to.
	ToolSet = "http"
)

// ErrInvalid is wrapped by Compile's errors: the definition cannot be
// used. The message names the field.
var ErrInvalid = errors.New("invalid http tool")

// ArgError is an argument that cannot go where the template puts it (a
// tool execution error for the model to correct).
type ArgError struct{ Msg string }

func (e *ArgError) Error() string { return e.Msg }

// Tool is a compiled HTTP tool.
type Tool struct {
	def      vault.HTTPTool
	mcp      mcp.Tool
	schema   *argcheck.Schema
	origin   egress.Origin
	base     string // origin as written: scheme://host[:port]
	path     template
	rawQuery url.Values // literal query of the URL
	query    map[string]template
	headers  map[string]template
	body     any // decoded body template: map, slice, string (template), others literal
	hasBody  bool
	pointer  []string // nil: whole answer
	maxBytes int
}

// Definition is the MCP tool (name, description, input schema).
func (t *Tool) Definition() mcp.Tool { return t.mcp }

// Origin is where the tool's requests go; an injected API key goes
// nowhere else.
func (t *Tool) Origin() egress.Origin { return t.origin }

// Record is the definition the tool was compiled from.
func (t *Tool) Record() vault.HTTPTool { return t.def }

// Timeout is the call's time bound in seconds.
func (t *Tool) Timeout() int {
	if t.def.TimeoutSeconds > 0 {
		return t.def.TimeoutSeconds
	}
	return DefaultTimeoutSeconds
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Compile checks def and compiles it. An input schema that does not say
// additionalProperties gets false, so a call with an argument the tool
// does not take is refused with a clear error instead of ignored.
func Compile(def vault.HTTPTool) (*Tool, error) {
	t := &Tool{def: def}
	if err := vault.ValidateHTTPToolName(def.Name); err != nil {
		return nil, invalid("%v", err)
	}
	raw := def.InputSchema
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{"type":"object"}`)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil || schema == nil {
		return nil, invalid("input_schema: must be a JSON object (a JSON Schema)")
	}
	if _, ok := schema["type"]; !ok {
		schema["type"] = "object"
	}
	if _, ok := schema["additionalProperties"]; !ok {
		schema["additionalProperties"] = false
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, invalid("input_schema: %v", err)
	}
	if t.schema, err = argcheck.CompileJSON(def.Name, raw); err != nil {
		return nil, invalid("input_schema: %v", err)
	}
	props, _ := schema["properties"].(map[string]any)
	required := map[string]bool{}
	if r, ok := schema["required"].([]any); ok {
		for _, x := range r {
			if s, ok := x.(string); ok {
				required[s] = true
			}
		}
	}
	known := func(field string, tm template) error {
		for _, a := range tm.args() {
			if _, ok := props[a]; !ok {
				return invalid("%s: {%s} is not an argument of the input schema (it has: %s)", field, a, argList(props))
			}
		}
		return nil
	}
	// URL: literal origin, templated path, literal query.
	u := def.URL
	if err := vault.ValidateHTTPToolURL(u); err != nil {
		return nil, invalid("%v", err)
	}
	scheme, rest, _ := strings.Cut(u, "://")
	authority, pathq := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, pathq = rest[:i], rest[i:]
	}
	t.base = scheme + "://" + authority
	if t.origin, err = egress.OriginOfURL(t.base + "/"); err != nil {
		return nil, invalid("url: %v", err)
	}
	p, q, _ := strings.Cut(pathq, "?")
	if p == "" {
		p = "/"
	}
	if strings.ContainsAny(q, "{}") {
		return nil, invalid("url: placeholders go in the path; put templated query parameters in query")
	}
	if t.rawQuery, err = url.ParseQuery(q); err != nil {
		return nil, invalid("url: the query does not parse")
	}
	if t.path, err = parseTemplate(p); err != nil {
		return nil, invalid("url: %v", err)
	}
	if err := known("url", t.path); err != nil {
		return nil, err
	}
	for _, a := range t.path.args() {
		if !required[a] {
			return nil, invalid("url: {%s} is in the path, so the input schema must list it in required", a)
		}
	}
	for _, part := range t.path {
		if part.arg == "" && strings.ContainsAny(part.lit, "#") {
			return nil, invalid("url: must not contain a fragment")
		}
	}
	t.query = map[string]template{}
	for k, v := range def.Query {
		tm, err := parseTemplate(v)
		if err != nil {
			return nil, invalid("query %s: %v", k, err)
		}
		if err := known("query "+k, tm); err != nil {
			return nil, err
		}
		t.query[k] = tm
	}
	t.headers = map[string]template{}
	for k, v := range def.Headers {
		tm, err := parseTemplate(v)
		if err != nil {
			return nil, invalid("header %s: %v", k, err)
		}
		if err := known("header "+k, tm); err != nil {
			return nil, err
		}
		t.headers[http.CanonicalHeaderKey(k)] = tm
	}
	if len(bytes.TrimSpace(def.Body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(def.Body))
		dec.UseNumber()
		var b any
		if err := dec.Decode(&b); err != nil {
			return nil, invalid("body: not JSON: %v", err)
		}
		if t.body, err = compileBody(b, known); err != nil {
			return nil, err
		}
		t.hasBody = true
	}
	if def.ResponsePointer != "" {
		if t.pointer, err = parsePointer(def.ResponsePointer); err != nil {
			return nil, invalid("response_pointer: %v", err)
		}
	}
	t.maxBytes = def.MaxResponseBytes
	if t.maxBytes <= 0 {
		t.maxBytes = DefaultMaxResponseBytes
	}
	readOnly := def.Method == "" || def.Method == http.MethodGet
	t.mcp = mcp.Tool{
		Name:           def.Name,
		Description:    def.Description,
		RawInputSchema: raw,
		Annotations: mcp.ToolAnnotation{
			ReadOnlyHint:    mcp.ToBoolPtr(readOnly),
			DestructiveHint: mcp.ToBoolPtr(def.Method == http.MethodDelete),
			OpenWorldHint:   mcp.ToBoolPtr(true),
		},
	}
	return t, nil
}

func argList(props map[string]any) string {
	if len(props) == 0 {
		return "no arguments"
	}
	return strings.Join(slices.Sorted(maps.Keys(props)), ", ")
}

// bodyString is a compiled string of the body template.
type bodyString struct {
	tm template
}

func compileBody(v any, known func(string, template) error) (any, error) {
	switch x := v.(type) {
	case string:
		tm, err := parseTemplate(x)
		if err != nil {
			return nil, invalid("body: %v", err)
		}
		if err := known("body", tm); err != nil {
			return nil, err
		}
		if !tm.hasArgs() {
			lit, _, _ := tm.expand(nil, nil)
			return lit, nil
		}
		return bodyString{tm}, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := compileBody(e, known)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := compileBody(e, known)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// absent marks a body value left out.
type absent struct{}

func expandBody(v any, args map[string]any) (any, error) {
	switch x := v.(type) {
	case bodyString:
		if a, ok := x.tm.single(); ok {
			val, ok := args[a]
			if !ok {
				return absent{}, nil
			}
			return val, nil
		}
		s, present, err := x.tm.expand(args, nil)
		if err != nil {
			return nil, &ArgError{Msg: "body: " + err.Error()}
		}
		if !present {
			return absent{}, nil
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := expandBody(e, args)
			if err != nil {
				return nil, err
			}
			if _, gone := c.(absent); !gone {
				out[k] = c
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			c, err := expandBody(e, args)
			if err != nil {
				return nil, err
			}
			if _, gone := c.(absent); !gone {
				out = append(out, c)
			}
		}
		return out, nil
	}
	return v, nil
}

// Check checks a call's arguments against the input schema (the server
// does it for every tools/call; Request does it again).
func (t *Tool) Check(args map[string]any) error { return t.schema.Check(args) }

// Request builds the HTTP request of a call with args (already checked
// against the schema, checked again here). An *ArgError is an argument
// that cannot go where the template puts it; the credential is not part
// of it (the caller's client adds it).
func (t *Tool) Request(args map[string]any) (*http.Request, error) {
	if args == nil {
		args = map[string]any{}
	}
	if err := t.schema.Check(args); err != nil {
		return nil, &ArgError{Msg: err.Error()}
	}
	path, err := t.expandPath(args)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for k, v := range t.rawQuery {
		q[k] = slices.Clone(v)
	}
	for _, k := range slices.Sorted(maps.Keys(t.query)) {
		tm := t.query[k]
		if a, ok := tm.single(); ok {
			if list, ok := args[a].([]any); ok {
				for _, e := range list {
					s, err := scalarText(a, e)
					if err != nil {
						return nil, &ArgError{Msg: "query " + k + ": " + err.Error()}
					}
					q.Add(k, s)
				}
				continue
			}
		}
		s, present, err := tm.expand(args, nil)
		if err != nil {
			return nil, &ArgError{Msg: "query " + k + ": " + err.Error()}
		}
		if present {
			q.Add(k, s)
		}
	}
	raw := t.base + path
	if len(q) > 0 {
		raw += "?" + q.Encode()
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &ArgError{Msg: "the arguments make no valid URL: " + err.Error()}
	}
	if egress.OriginOf(u) != t.origin {
		// Cannot happen (the origin is literal and values are escaped);
		// never send a request anywhere else.
		return nil, &ArgError{Msg: "the arguments would change where the request goes; refused"}
	}
	method := t.def.Method
	if method == "" {
		method = http.MethodGet
	}
	var body []byte
	if t.hasBody {
		v, err := expandBody(t.body, args)
		if err != nil {
			return nil, err
		}
		if _, gone := v.(absent); gone {
			v = nil
		}
		if body, err = json.Marshal(v); err != nil {
			return nil, &ArgError{Msg: "body: " + err.Error()}
		}
	}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &ArgError{Msg: "the arguments make no valid request: " + err.Error()}
	}
	if !t.hasBody {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, */*;q=0.5")
	req.Header.Set("User-Agent", "plexus-http-tool")
	for _, k := range slices.Sorted(maps.Keys(t.headers)) {
		s, present, err := t.headers[k].expand(args, headerValue)
		if err != nil {
			return nil, &ArgError{Msg: "header " + k + ": " + err.Error()}
		}
		if present {
			req.Header.Set(k, s)
		}
	}
	return req, nil
}

// expandPath fills the path template in, each value path-escaped.
func (t *Tool) expandPath(args map[string]any) (string, error) {
	s, present, err := t.path.expand(args, func(arg, text string) (string, error) {
		if text == "" {
			return "", fmt.Errorf("argument %q: must not be empty, it is part of the URL path", arg)
		}
		return url.PathEscape(text), nil
	})
	if err != nil {
		return "", &ArgError{Msg: "url: " + err.Error()}
	}
	if !present {
		return "", &ArgError{Msg: fmt.Sprintf("url: the path needs the arguments %s", strings.Join(t.path.args(), ", "))}
	}
	for seg := range strings.SplitSeq(s, "/") {
		if d, err := url.PathUnescape(seg); err == nil && (d == "." || d == "..") {
			return "", &ArgError{Msg: "url: an argument must not make a path segment \".\" or \"..\""}
		}
	}
	return s, nil
}

// headerValue refuses what could end or split a header.
func headerValue(arg, text string) (string, error) {
	for _, r := range text {
		if r < ' ' && r != '\t' || r == 0x7f {
			return "", fmt.Errorf("argument %q: a header value must not contain line breaks or other control characters", arg)
		}
	}
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("argument %q: not valid UTF-8", arg)
	}
	return text, nil
}

// Result turns an answer into the tool's result: the part of the JSON
// answer the response pointer selects (a string as its text, anything
// else as JSON), or the whole answer. A non-2xx status, an answer larger
// than the limit or a pointer that selects nothing is a tool error
// saying so. It closes the body.
func (t *Tool) Result(resp *http.Response) *mcp.CallToolResult {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(t.maxBytes)+1))
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("%s: reading the answer failed: %v", t.def.Name, err))
	}
	if len(body) > t.maxBytes {
		return mcp.NewToolResultError(fmt.Sprintf("%s: the answer is larger than %d bytes (the tool's max_response_bytes)", t.def.Name, t.maxBytes))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return mcp.NewToolResultError(fmt.Sprintf("%s: the API answered %d %s: %s", t.def.Name, resp.StatusCode, http.StatusText(resp.StatusCode), snippet(body)))
	}
	if t.pointer == nil {
		if !utf8.Valid(body) {
			return mcp.NewToolResultError(fmt.Sprintf("%s: the answer is not text (%d bytes of %s)", t.def.Name, len(body), resp.Header.Get("Content-Type")))
		}
		return mcp.NewToolResultText(string(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("%s: the answer is not JSON, so response_pointer %s selects nothing", t.def.Name, t.def.ResponsePointer))
	}
	v, err := resolvePointer(doc, t.pointer)
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("%s: the answer has nothing at %s: %v", t.def.Name, t.def.ResponsePointer, err))
	}
	if s, ok := v.(string); ok {
		return mcp.NewToolResultText(s)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return mcp.NewToolResultError(fmt.Sprintf("%s: %v", t.def.Name, err))
	}
	return mcp.NewToolResultText(string(out))
}

// snippet is a short, printable piece of an error answer.
func snippet(body []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(body), ""))
	s = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = "(no message)"
	}
	return s
}

// parsePointer reads an RFC 6901 JSON pointer ("" is the whole document).
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return []string{}, nil
	}
	if p[0] != '/' {
		return nil, errors.New(`a JSON pointer starts with "/" (e.g. /data/0/name)`)
	}
	toks := strings.Split(p[1:], "/")
	for i, tok := range toks {
		for j := 0; j < len(tok); j++ {
			if tok[j] == '~' && (j+1 >= len(tok) || tok[j+1] != '0' && tok[j+1] != '1') {
				return nil, errors.New(`"~" must be followed by 0 (for "~") or 1 (for "/")`)
			}
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

func resolvePointer(doc any, toks []string) (any, error) {
	cur := doc
	for _, tok := range toks {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[tok]
			if !ok {
				return nil, fmt.Errorf("no member %q", clip(tok))
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) || tok != strconv.Itoa(i) {
				return nil, fmt.Errorf("no element %q in a list of %d", clip(tok), len(x))
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("%q goes into a %s", clip(tok), jsonKind(cur))
		}
	}
	return cur, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return kindOf(v)
}
