package apiv1

import (
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var scopesCases = []struct {
	name  string
	raw   []string
	want  []string
	error string // substring; "" = ok
}{
	{name: "none", raw: nil, want: []string{}},
	{name: "one string", raw: []string{"read:user repo"}, want: []string{"read:user", "repo"}},
	{name: "list", raw: []string{"a", " b  c ", ""}, want: []string{"a", "b", "c"}},
	{name: "tabs and newlines split", raw: []string{"a\tb\nc"}, want: []string{"a", "b", "c"}},
	{name: "long scope", raw: []string{strings.Repeat("s", MaxScopeBytes+1)}, error: "longer than 256 bytes"},
	{name: "quote", raw: []string{`a"b`}, error: "quote or backslash"},
	{name: "backslash", raw: []string{`a\b`}, error: "quote or backslash"},
	{name: "control", raw: []string{"a\x00b"}, error: "control character"},
	{name: "delete", raw: []string{"a\x7fb"}, error: "control character"},
	{name: "not utf-8", raw: []string{"a\xffb"}, error: "not valid UTF-8"},
	{name: "too many", raw: []string{strings.Repeat("s ", MaxScopes+1)}, error: "more than 100 scopes"},
	{name: "max", raw: []string{strings.Repeat("s ", MaxScopes)}, want: slices.Repeat([]string{"s"}, MaxScopes)},
}

func TestParseScopes(t *testing.T) {
	for _, tc := range scopesCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScopes(tc.raw...)
			if tc.error != "" {
				fe, ok := errors.AsType[*FieldError](err)
				if !ok || fe.Field != "scopes" || !strings.Contains(err.Error(), tc.error) || !strings.HasPrefix(err.Error(), `field "scopes" `) {
					t.Fatalf("ParseScopes = %v, want a scopes FieldError with %q", err, tc.error)
				}
				return
			}
			if err != nil || got == nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseScopes = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, tc := range scopesCases {
		f.Add(strings.Join(tc.raw, " "))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParseScopes(raw)
		if err != nil {
			if _, ok := errors.AsType[*FieldError](err); !ok {
				t.Fatalf("error %v is not a FieldError", err)
			}
			return
		}
		if len(got) > MaxScopes {
			t.Fatalf("%d scopes accepted", len(got))
		}
		for _, s := range got {
			if s == "" || len(s) > MaxScopeBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "\"\\ \t\n") {
				t.Fatalf("scope %q accepted", s)
			}
		}
		// The JSON string form decodes to the same scopes.
		b, _ := json.Marshal(raw)
		var sc Scopes
		if err := json.Unmarshal(b, &sc); err != nil || !slices.Equal(sc, got) {
			t.Fatalf("JSON %s = %q, %v; want %q", b, sc, err, got)
		}
	})
}

func TestScopesJSON(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  []string
		error string
	}{
		{in: `"a b"`, want: []string{"a", "b"}},
		{in: `["a b","c"]`, want: []string{"a", "b", "c"}},
		{in: `[]`, want: []string{}},
		{in: `null`, want: nil},
		{in: `5`, error: `field "scopes" must be an array of strings or a space-separated string`},
		{in: `["a",1]`, error: "must be an array of strings"},
		{in: `"a\u0000"`, error: "control character"},
	} {
		var got Scopes
		err := json.Unmarshal([]byte(tc.in), &got)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%s: %v, want %q", tc.in, err, tc.error)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) || (tc.want != nil) != (got != nil) {
			t.Errorf("%s = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestTokenState(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		tok  TokenInfo
		want string
	}{
		{TokenInfo{}, "active"},
		{TokenInfo{ExpiresAt: now.Add(time.Second)}, "active"},
		{TokenInfo{ExpiresAt: now}, "expired"},
		{TokenInfo{Revoked: true, ExpiresAt: now.Add(-time.Hour)}, "revoked"},
	} {
		if got := tc.tok.State(now); got != tc.want {
			t.Errorf("%+v.State = %q, want %q", tc.tok, got, tc.want)
		}
	}
}

// TestWireTypesStandApart holds the line that keeps the API and the file
// format apart: this package imports nothing of Plexus (so it cannot
// marshal a vault record), and nothing in vault/ imports app/ (so no wire
// type can reach a stored record). Renaming or adding a field here then
// changes the API's JSON (pinned by app/adminapi/testdata/api) and never
// the vault's bytes (pinned by vault/testdata/records.golden).
func TestWireTypesStandApart(t *testing.T) {
	const module = "github.com/plexus-mcp/plexus/"
	for _, imp := range importsUnder(t, ".") {
		if strings.HasPrefix(imp, module) || strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			t.Errorf("apiv1 imports %s; it may import the standard library only", imp)
		}
	}
	for _, imp := range importsUnder(t, filepath.Join("..", "..", "vault")) {
		if strings.HasPrefix(imp, module+"app") {
			t.Errorf("vault imports %s; the file format must not depend on the API", imp)
		}
	}
}

// importsUnder lists the imports of the non-test Go files below dir.
func importsUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no imports found under %s", dir)
	}
	return out
}
