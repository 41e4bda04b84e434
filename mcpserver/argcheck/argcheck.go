// Package argcheck checks a tool call's arguments against the tool's input
// schema before the tool runs, and says in plain words which argument is
// wrong and why ("missing required argument \"city\"", "argument \"days\"
// must be an integer, not a string", "unknown argument \"colour\"; this
// tool takes: city, days").
//
// A Schema is compiled once (Compile) from exactly what tools/list shows
// the client: the tool's RawInputSchema when set, else its structured
// InputSchema. JSON Schema 2020-12 is the default dialect (as MCP says for
// inputSchema); a schema may name another with $schema. Compiling never
// reads a file or the network: a $ref must point inside the schema (a
// tool's schema may come from an upstream server, which must not make
// Plexus read local files).
//
// The "format" keyword is an annotation, as JSON Schema 2020-12 has it by
// default: argcheck does not assert it.
//
// This package only checks values. It never logs, and an error quotes at
// most a short prefix of a wrong value (the caller sent it; it is not a
// secret of anyone else's).
package argcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ErrInvalidSchema is returned (wrapped) by Compile for an input schema that
// is not valid JSON Schema, or that refers outside itself.
var ErrInvalidSchema = errors.New("invalid input schema")

// MaxProblems bounds the problems an Error lists.
const MaxProblems = 8

// maxQuoted bounds how much of a wrong value a message quotes.
const maxQuoted = 40

// Schema is a compiled tool input schema. The zero value and nil accept
// anything.
type Schema struct {
	tool     string
	compiled *jsonschema.Schema
	// args names the top-level properties, sorted, for "this tool takes".
	args []string
	// emptyOK: no arguments at all ({}) are valid, so a call without any
	// needs no validator run.
	emptyOK bool
}

// Compile compiles tool's input schema (RawInputSchema when set, else
// InputSchema, exactly as tools/list shows it). An error wraps
// ErrInvalidSchema and says what is wrong.
func Compile(tool mcp.Tool) (*Schema, error) {
	var raw []byte
	if len(tool.RawInputSchema) > 0 {
		raw = tool.RawInputSchema
	} else {
		b, err := json.Marshal(tool.InputSchema)
		if err != nil {
			return nil, fmt.Errorf("tool %q: %w: %v", tool.Name, ErrInvalidSchema, err)
		}
		raw = b
	}
	return CompileJSON(tool.Name, raw)
}

// CompileJSON compiles the input schema raw of the tool called name.
func CompileJSON(name string, raw []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tool %q: %w: not JSON: %v", name, ErrInvalidSchema, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("tool %q: %w: want a JSON object, got %s", name, ErrInvalidSchema, jsonType(doc))
	}
	if t, ok := obj["type"]; ok && t != "object" {
		// MCP: inputSchema is an object schema (arguments are an object).
		return nil, fmt.Errorf("tool %q: %w: \"type\" must be \"object\"", name, ErrInvalidSchema)
	}
	const url = "mem:///plexus/tool-input-schema.json"
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("tool %q: %w: %v", name, ErrInvalidSchema, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %q: %w: %v", name, ErrInvalidSchema, err)
	}
	s := &Schema{tool: name, compiled: compiled, emptyOK: compiled.Validate(map[string]any{}) == nil}
	if props, ok := obj["properties"].(map[string]any); ok {
		for k := range props {
			s.args = append(s.args, k)
		}
		slices.Sort(s.args)
	}
	return s, nil
}

// noLoader refuses every $ref outside the schema (and any $schema that is
// not one of the built-in drafts): a schema from an upstream server must
// not make Plexus read files or the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: a tool's input schema may only refer to itself", url)
}

// Check checks args, a tool call's arguments as decoded from JSON (nil
// means none, checked as {}). It returns nil or an *Error.
func (s *Schema) Check(args any) error {
	if s == nil || s.compiled == nil {
		return nil
	}
	if m, ok := args.(map[string]any); (ok && len(m) == 0 || args == nil) && s.emptyOK {
		return nil
	}
	v, err := normalize(args)
	if err != nil {
		return &Error{Tool: s.tool, Problems: []Problem{{Message: "arguments are not JSON: " + err.Error()}}}
	}
	err = s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	verr, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return &Error{Tool: s.tool, Problems: []Problem{{Message: err.Error()}}}
	}
	e := &Error{Tool: s.tool}
	s.collect(v, verr, e)
	if len(e.Problems) == 0 { // cannot happen; never answer "valid" after all
		e.Problems = []Problem{{Message: "the arguments do not match the tool's input schema"}}
	}
	return e
}

// normalize turns args into the values the validator takes: maps, slices,
// strings, numbers, bools and nil, as encoding/json decodes them.
func normalize(args any) (any, error) {
	switch a := args.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return a, nil
	case json.RawMessage:
		if len(bytes.TrimSpace(a)) == 0 {
			return map[string]any{}, nil
		}
		return jsonschema.UnmarshalJSON(bytes.NewReader(a))
	case []any, string, float64, bool, json.Number:
		return a, nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// Error says why a call's arguments do not match the tool's schema.
type Error struct {
	Tool     string
	Problems []Problem
	// More counts problems left out after MaxProblems.
	More int
}

// Problem is one thing wrong with the arguments.
type Problem struct {
	// Argument is the path of the argument at fault, dotted
	// ("options.limit", "items[2].name"); "" for the arguments as a whole.
	Argument string
	// Message says what is wrong, in plain words, naming the argument.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid arguments for tool %q: ", e.Tool)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Message)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, " (and %d more)", e.More)
	}
	return b.String()
}

// collect walks the error tree of instance v and keeps one problem per
// leaf.
func (s *Schema) collect(v any, verr *jsonschema.ValidationError, e *Error) {
	if len(verr.Causes) > 0 {
		if s.alternatives(v, verr, e) {
			return
		}
		for _, c := range verr.Causes {
			s.collect(v, c, e)
		}
		return
	}
	for _, p := range s.problems(short(argPath(v, verr.InstanceLocation)), verr) {
		if len(e.Problems) >= MaxProblems {
			e.More++
			continue
		}
		if !slices.Contains(e.Problems, p) {
			e.Problems = append(e.Problems, p)
		}
	}
}

// alternatives turns an anyOf/oneOf failure into one problem: listing why
// each alternative failed helps nobody.
func (s *Schema) alternatives(v any, verr *jsonschema.ValidationError, e *Error) bool {
	var what string
	switch k := verr.ErrorKind.(type) {
	case *kind.AnyOf:
		what = "does not match any of the forms the tool accepts"
	case *kind.OneOf:
		what = "does not match exactly one of the forms the tool accepts"
		if len(k.Subschemas) > 1 {
			what = "matches more than one of the forms the tool accepts"
		}
	default:
		return false
	}
	if len(e.Problems) >= MaxProblems {
		e.More++
		return true
	}
	path := short(argPath(v, verr.InstanceLocation))
	e.Problems = append(e.Problems, Problem{Argument: path, Message: subject(path) + " " + what})
	return true
}

var printer = message.NewPrinter(language.English)

// problems renders one leaf of the error tree, about the argument at path.
func (s *Schema) problems(path string, verr *jsonschema.ValidationError) []Problem {
	one := func(msg string) []Problem { return []Problem{{Argument: path, Message: msg}} }
	switch k := verr.ErrorKind.(type) {
	case *kind.Required:
		out := make([]Problem, 0, len(k.Missing))
		for _, m := range k.Missing {
			p := joinPath(path, m)
			out = append(out, Problem{Argument: p, Message: fmt.Sprintf("missing required argument %q", p)})
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]Problem, 0, len(k.Properties))
		for _, name := range k.Properties {
			p := joinPath(path, name)
			msg := fmt.Sprintf("unknown argument %q", p)
			if path == "" {
				if len(s.args) > 0 {
					msg += "; this tool takes: " + strings.Join(s.args, ", ")
				} else {
					msg += "; this tool takes no arguments"
				}
			} else {
				msg = fmt.Sprintf("unknown property %q in argument %q", short(name), path)
			}
			out = append(out, Problem{Argument: p, Message: msg})
		}
		return out
	case *kind.Type:
		if path == "" {
			return one(fmt.Sprintf("the arguments must be a JSON object, not %s", article(k.Got)))
		}
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return one(fmt.Sprintf("%s must be %s, not %s", subject(path), strings.Join(want, " or "), article(k.Got)))
	case *kind.Enum:
		want := make([]string, 0, len(k.Want))
		for _, w := range k.Want {
			want = append(want, display(w))
		}
		if len(want) == 1 {
			return one(fmt.Sprintf("%s must be %s; got %s", subject(path), want[0], display(k.Got)))
		}
		return one(fmt.Sprintf("%s must be one of %s; got %s", subject(path), strings.Join(want, ", "), display(k.Got)))
	case *kind.Const:
		return one(fmt.Sprintf("%s must be %s; got %s", subject(path), display(k.Want), display(k.Got)))
	case *kind.MinLength:
		return one(fmt.Sprintf("%s must be at least %s long; got %d", subject(path), plural(k.Want, "character"), k.Got))
	case *kind.MaxLength:
		return one(fmt.Sprintf("%s must be at most %s long; got %d", subject(path), plural(k.Want, "character"), k.Got))
	case *kind.Pattern:
		return one(fmt.Sprintf("%s must match the pattern %s; got %s", subject(path), strconv.Quote(k.Want), display(k.Got)))
	case *kind.Minimum:
		return one(fmt.Sprintf("%s must be at least %s; got %s", subject(path), rat(k.Want), rat(k.Got)))
	case *kind.Maximum:
		return one(fmt.Sprintf("%s must be at most %s; got %s", subject(path), rat(k.Want), rat(k.Got)))
	case *kind.ExclusiveMinimum:
		return one(fmt.Sprintf("%s must be greater than %s; got %s", subject(path), rat(k.Want), rat(k.Got)))
	case *kind.ExclusiveMaximum:
		return one(fmt.Sprintf("%s must be less than %s; got %s", subject(path), rat(k.Want), rat(k.Got)))
	case *kind.MultipleOf:
		return one(fmt.Sprintf("%s must be a multiple of %s; got %s", subject(path), rat(k.Want), rat(k.Got)))
	case *kind.MinItems:
		return one(fmt.Sprintf("%s must have at least %s; got %d", subject(path), plural(k.Want, "item"), k.Got))
	case *kind.MaxItems:
		return one(fmt.Sprintf("%s must have at most %s; got %d", subject(path), plural(k.Want, "item"), k.Got))
	case *kind.UniqueItems:
		return one(fmt.Sprintf("%s must not repeat items; items %d and %d are equal", subject(path), k.Duplicates[0], k.Duplicates[1]))
	case *kind.MinProperties:
		return one(fmt.Sprintf("%s must have at least %s; got %d", subject(path), plural(k.Want, "property"), k.Got))
	case *kind.MaxProperties:
		return one(fmt.Sprintf("%s must have at most %s; got %d", subject(path), plural(k.Want, "property"), k.Got))
	case *kind.FalseSchema:
		if path == "" {
			return one("this tool takes no arguments")
		}
		return one(fmt.Sprintf("%s is not allowed", subject(path)))
	}
	return one(fmt.Sprintf("%s: %s", subject(path), verr.ErrorKind.LocalizedString(printer)))
}

// subject names an argument at the start of a message.
func subject(path string) string {
	if path == "" {
		return "the arguments"
	}
	return fmt.Sprintf("argument %q", path)
}

// argPath renders an instance location in v as a dotted argument path:
// ["options","limit"] -> options.limit, ["items","2","name"] ->
// items[2].name (a segment is an index where v holds an array).
func argPath(v any, loc []string) string {
	var b strings.Builder
	for i, seg := range loc {
		arr, isArr := v.([]any)
		switch {
		case isArr:
			b.WriteString("[" + seg + "]")
			if n, err := strconv.Atoi(seg); err == nil && n >= 0 && n < len(arr) {
				v = arr[n]
			} else {
				v = nil
			}
			continue
		case i > 0:
			b.WriteString(".")
		}
		b.WriteString(seg)
		if m, ok := v.(map[string]any); ok {
			v = m[seg]
		} else {
			v = nil
		}
	}
	return b.String()
}

func joinPath(path, name string) string {
	if path != "" {
		name = path + "." + name
	}
	return short(name)
}

// maxPath bounds an argument path in a message: the names in it may be
// the client's own (an unknown argument).
const maxPath = 100

// short cuts s to maxPath bytes (on a UTF-8 boundary), marking the cut.
func short(s string) string {
	if len(s) <= maxPath {
		return s
	}
	cut := maxPath
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// article names a JSON type for a sentence: "an integer", "a string".
func article(t string) string {
	switch t {
	case "integer", "object", "array":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display shows a wrong value briefly: strings quoted and cut, numbers as
// they are, anything else by its type.
func display(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > maxQuoted {
			cut := maxQuoted
			for cut > 0 && !utf8Start(v[cut]) {
				cut--
			}
			return strconv.Quote(v[:cut]) + "…"
		}
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return article(jsonType(v))
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case json.Number, float64, int:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
