package argcheck

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// weather is the schema most cases use: required, enum, integer with
// bounds, a nested object and an array of objects, no extra properties.
func weather(t testing.TB) *Schema {
	t.Helper()
	tool := mcp.NewTool("get_weather",
		mcp.WithString("city", mcp.Required(), mcp.MinLength(2)),
		mcp.WithString("units", mcp.Enum("metric", "imperial")),
		mcp.WithNumber("days", mcp.Min(1), mcp.Max(7)),
		mcp.WithObject("options", mcp.Properties(map[string]any{
			"limit":    map[string]any{"type": "integer"},
			"language": map[string]any{"type": "string"},
		})),
		mcp.WithArray("stations", mcp.Items(map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"name": map[string]any{"type": "string"}},
			"required":             []string{"name"},
			"additionalProperties": false,
		})),
		mcp.WithSchemaAdditionalProperties(false),
	)
	// "days" is an integer; mcp.WithNumber says number.
	tool.InputSchema.Properties["days"].(map[string]any)["type"] = "integer"
	tool.InputSchema.Properties["options"].(map[string]any)["additionalProperties"] = false
	s, err := Compile(tool)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

var checkCases = []struct {
	name string
	args string
	// want are substrings of the error; none means valid.
	want []string
	// argument is the first problem's Argument.
	argument string
}{
	{name: "valid minimal", args: `{"city":"Oslo"}`},
	{name: "valid full", args: `{"city":"Oslo","units":"metric","days":3,"options":{"limit":2,"language":"no"},"stations":[{"name":"a"}]}`},
	{name: "integer as float", args: `{"city":"Oslo","days":3.0}`},
	{name: "missing required", args: `{}`, want: []string{`missing required argument "city"`}, argument: "city"},
	{name: "no arguments", args: `null`, want: []string{`missing required argument "city"`}, argument: "city"},
	{name: "extra property", args: `{"city":"Oslo","colour":"red"}`,
		want: []string{`unknown argument "colour"`, "this tool takes: city, days, options, stations, units"}, argument: "colour"},
	{name: "wrong type", args: `{"city":42}`, want: []string{`argument "city" must be a string, not a number`}, argument: "city"},
	{name: "integer wanted", args: `{"city":"Oslo","days":2.5}`, want: []string{`argument "days" must be an integer, not a number`}, argument: "days"},
	{name: "below minimum", args: `{"city":"Oslo","days":0}`, want: []string{`argument "days" must be at least 1; got 0`}},
	{name: "above maximum", args: `{"city":"Oslo","days":8}`, want: []string{`argument "days" must be at most 7; got 8`}},
	{name: "too short", args: `{"city":"O"}`, want: []string{`argument "city" must be at least 2 characters long; got 1`}},
	{name: "enum", args: `{"city":"Oslo","units":"kelvin"}`, want: []string{`argument "units" must be one of "metric", "imperial"; got "kelvin"`}},
	{name: "nested wrong type", args: `{"city":"Oslo","options":{"limit":"ten"}}`,
		want: []string{`argument "options.limit" must be an integer, not a string`}, argument: "options.limit"},
	{name: "nested extra", args: `{"city":"Oslo","options":{"colour":1}}`,
		want: []string{`unknown property "colour" in argument "options"`}, argument: "options.colour"},
	{name: "array item missing", args: `{"city":"Oslo","stations":[{"name":"a"},{}]}`,
		want: []string{`missing required argument "stations[1].name"`}, argument: "stations[1].name"},
	{name: "not an object", args: `["Oslo"]`, want: []string{"the arguments must be a JSON object, not an array"}},
	{name: "string arguments", args: `"Oslo"`, want: []string{"the arguments must be a JSON object, not a string"}},
	{name: "several", args: `{"city":1,"units":2,"x":3}`,
		want: []string{`argument "city" must be a string`, `argument "units" must be a string`, `unknown argument "x"`}},
	{name: "long name cut", args: `{"city":"Oslo","` + strings.Repeat("n", 5000) + `":1}`,
		want: []string{`unknown argument "` + strings.Repeat("n", 100) + `…"`}},
	{name: "long value cut", args: `{"city":"Oslo","units":"` + strings.Repeat("k", 100) + `"}`,
		want: []string{`got "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"…`}},
}

func TestCheck(t *testing.T) {
	s := weather(t)
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			var args any
			if err := json.Unmarshal([]byte(tc.args), &args); err != nil {
				t.Fatal(err)
			}
			err := s.Check(args)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want valid", tc.args, err)
				}
				return
			}
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("Check(%s) = %v, want *Error", tc.args, err)
			}
			msg := e.Error()
			if !strings.HasPrefix(msg, `invalid arguments for tool "get_weather": `) {
				t.Errorf("message %q does not name the tool", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\nlacks %q", msg, w)
				}
			}
			if tc.argument != "" && e.Problems[0].Argument != tc.argument {
				t.Errorf("Problems[0].Argument = %q, want %q", e.Problems[0].Argument, tc.argument)
			}
			for _, p := range e.Problems {
				if strings.Contains(p.Message, "&{") || strings.Contains(p.Message, "jsonschema") || strings.Contains(p.Message, "mem:///") {
					t.Errorf("problem %q is not plain words", p.Message)
				}
			}
		})
	}
}

func TestCheckBoundsProblems(t *testing.T) {
	props := map[string]any{}
	args := map[string]any{}
	for i := range 20 {
		k := string(rune('a' + i))
		props[k] = map[string]any{"type": "string"}
		args[k] = float64(i)
	}
	s, err := Compile(mcp.Tool{Name: "many", InputSchema: mcp.ToolInputSchema{Type: "object", Properties: props}})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := errors.AsType[*Error](s.Check(args))
	if !ok {
		t.Fatal("want *Error")
	}
	if len(e.Problems) != MaxProblems || e.More != 20-MaxProblems {
		t.Errorf("problems %d more %d, want %d and %d", len(e.Problems), e.More, MaxProblems, 20-MaxProblems)
	}
	if !strings.HasSuffix(e.Error(), "(and 12 more)") {
		t.Errorf("message %q does not say how many more", e.Error())
	}
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		ok   bool
	}{
		{name: "empty object schema", raw: `{"type":"object"}`, ok: true},
		{name: "no type", raw: `{"properties":{"a":{"type":"string"}}}`, ok: true},
		{name: "draft-07", raw: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}}}`, ok: true},
		{name: "internal ref", raw: `{"type":"object","$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s"}}}`, ok: true},
		{name: "not json", raw: `{`},
		{name: "array", raw: `[]`},
		{name: "not an object schema", raw: `{"type":"string"}`},
		{name: "bad keyword value", raw: `{"type":"object","properties":{"a":{"type":"strin"}}}`},
		{name: "file ref refused", raw: `{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`},
		{name: "remote ref refused", raw: `{"type":"object","properties":{"a":{"$ref":"http://127.0.0.1:1/s.json"}}}`},
		{name: "unknown metaschema refused", raw: `{"$schema":"http://127.0.0.1:1/meta","type":"object"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileJSON("t", []byte(tc.raw))
			if tc.ok && err != nil {
				t.Fatalf("CompileJSON: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("CompileJSON = %v, want ErrInvalidSchema", err)
			}
		})
	}
}

func TestCompileRawInputSchema(t *testing.T) {
	s, err := Compile(mcp.NewToolWithRawSchema("raw", "", json.RawMessage(`{"type":"object","required":["q"]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(map[string]any{}); err == nil || !strings.Contains(err.Error(), `missing required argument "q"`) {
		t.Errorf("Check({}) = %v", err)
	}
	if err := s.Check(json.RawMessage(`{"q":1}`)); err != nil {
		t.Errorf("Check(raw) = %v", err)
	}
}

func TestNilSchemaAcceptsAnything(t *testing.T) {
	var s *Schema
	if err := s.Check("anything"); err != nil {
		t.Fatal(err)
	}
}

// FuzzCheck feeds arbitrary JSON to the weather schema: Check never
// panics, and whatever it accepts satisfies the schema's rules as checked
// here by hand (so a handler behind Check never sees invalid arguments).
func FuzzCheck(f *testing.F) {
	for _, tc := range checkCases {
		f.Add([]byte(tc.args))
	}
	f.Add([]byte(`{"city":"Oslo","stations":[{"name":"a","x":1}]}`))
	f.Add([]byte(`{"city":"Oslo","days":1e300}`))
	s := weather(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var args any
		if json.Unmarshal(data, &args) != nil {
			return
		}
		err := s.Check(args)
		if err != nil {
			if e, ok := errors.AsType[*Error](err); !ok || len(e.Problems) == 0 {
				t.Fatalf("Check(%s) = %v, want an *Error with problems", data, err)
			}
			if n := len(err.Error()); n > 4096 {
				t.Fatalf("a %d-byte message for %d bytes of arguments", n, len(data))
			}
			return
		}
		if why := weatherViolation(args); why != "" {
			t.Fatalf("Check accepted %s, which breaks the schema: %s", data, why)
		}
	})
}

// weatherViolation checks the weather schema's rules by hand ("" = valid).
func weatherViolation(args any) string {
	if args == nil {
		return "missing city"
	}
	m, ok := args.(map[string]any)
	if !ok {
		return "not an object"
	}
	allowed := map[string]bool{"city": true, "units": true, "days": true, "options": true, "stations": true}
	for k := range m {
		if !allowed[k] {
			return "extra property " + k
		}
	}
	city, ok := m["city"].(string)
	if !ok || len([]rune(city)) < 2 {
		return "city"
	}
	if u, present := m["units"]; present && u != "metric" && u != "imperial" {
		return "units"
	}
	if d, present := m["days"]; present {
		n, ok := d.(float64)
		if !ok || n != float64(int64(n)) || n < 1 || n > 7 {
			return "days"
		}
	}
	if o, present := m["options"]; present {
		om, ok := o.(map[string]any)
		if !ok {
			return "options"
		}
		for k, v := range om {
			switch k {
			case "limit":
				n, ok := v.(float64)
				if !ok || n != float64(int64(n)) {
					return "options.limit"
				}
			case "language":
				if _, ok := v.(string); !ok {
					return "options.language"
				}
			default:
				return "options extra " + k
			}
		}
	}
	if st, present := m["stations"]; present {
		arr, ok := st.([]any)
		if !ok {
			return "stations"
		}
		for _, it := range arr {
			im, ok := it.(map[string]any)
			if !ok || len(im) != 1 {
				return "station"
			}
			if _, ok := im["name"].(string); !ok {
				return "station name"
			}
		}
	}
	return ""
}

func BenchmarkCheck(b *testing.B) {
	s := weather(b)
	var args any
	_ = json.Unmarshal([]byte(`{"city":"Oslo","units":"metric","days":3,"options":{"limit":2}}`), &args)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Check(args); err != nil {
			b.Fatal(err)
		}
	}
}
