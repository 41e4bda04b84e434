package adminops_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

const httpToolsYAML = `
tools:
  - name: city_weather
    description: Current weather in a city
    input_schema:
      type: object
      properties:
        city: {type: string, maxLength: 100}
      required: [city]
    url: https://api.openweathermap.org/data/2.5/weather
    query:
      q: "{city}"
      units: metric
    auth: {type: api_key, provider_name: openweathermap, query_param: appid}
    response_pointer: /main
  - name: gh_repo
    url: https://api.github.com/repos/{owner}/{repo}
    input_schema:
      type: object
      properties: {owner: {type: string}, repo: {type: string}}
      required: [owner, repo]
    auth: {type: oauth, provider_name: github}
    response_pointer: /full_name
`

// TestHTTPToolOperations: import from YAML (added, then replaced), list,
// show, update, delete; the file and the definitions are checked in full
// before anything is written.
func TestHTTPToolOperations(t *testing.T) {
	s, v := newOps(t, adminops.Options{Tools: toolList})
	ctx := t.Context()
	got, err := s.ImportHTTPTools(ctx, "acme", httpToolsYAML)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Created) != 2 || len(got.Updated) != 0 {
		t.Fatalf("import = %+v", got)
	}
	rec, err := v.GetHTTPTool(ctx, "acme", "city_weather")
	if err != nil || rec.Query["q"] != "{city}" || rec.Auth.QueryParam != "appid" || rec.Method != "GET" {
		t.Fatalf("stored %+v, %v", rec, err)
	}
	if got, err = s.ImportHTTPTools(ctx, "acme", httpToolsYAML); err != nil || len(got.Updated) != 2 {
		t.Fatalf("second import = %+v, %v", got, err)
	}
	list, err := s.ListHTTPTools(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].Name != "city_weather" || list[1].Auth.Type != "oauth" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	def := list[0].HTTPToolDefinition
	def.Description = "changed"
	if h, err := s.UpdateHTTPTool(ctx, "acme", "city_weather", def); err != nil || h.Description != "changed" {
		t.Fatalf("update = %+v, %v", h, err)
	}
	def.Name = "renamed"
	if _, err := s.UpdateHTTPTool(ctx, "acme", "city_weather", def); !isField(err, "name") {
		t.Fatalf("rename: %v", err)
	}
	if err := s.DeleteHTTPTool(ctx, "acme", "city_weather"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHTTPTool(ctx, "acme", "city_weather"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := s.DeleteHTTPTool(ctx, "nope", "x"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("delete in missing tenant: %v", err)
	}
}

func isField(err error, field string) bool {
	fe, ok := errors.AsType[*apiv1.FieldError](err)
	return ok && fe.Field == field && errors.Is(err, vault.ErrInvalid)
}

// TestHTTPToolRefused: every bad definition is refused naming its field,
// and a bad import writes nothing.
func TestHTTPToolRefused(t *testing.T) {
	s, v := newOps(t, adminops.Options{Tools: toolList})
	ctx := t.Context()
	base := func() apiv1.HTTPToolDefinition {
		return apiv1.HTTPToolDefinition{Name: "t1", URL: "https://api.example.com/x/{id}",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`)}
	}
	mod := func(f func(*apiv1.HTTPToolDefinition)) apiv1.HTTPToolDefinition { d := base(); f(&d); return d }
	tests := []struct {
		name  string
		def   apiv1.HTTPToolDefinition
		field string
		msg   string
	}{
		{"no name", mod(func(d *apiv1.HTTPToolDefinition) { d.Name = "" }), "name", "required"},
		{"built-in name", mod(func(d *apiv1.HTTPToolDefinition) { d.Name = "plexus_whoami" }), "name", "built-in"},
		{"bad name", mod(func(d *apiv1.HTTPToolDefinition) { d.Name = "a b" }), "name", "http tool name"},
		{"plain http", mod(func(d *apiv1.HTTPToolDefinition) { d.URL = "http://api.example.com/{id}" }), "url", "https"},
		{"unknown placeholder", mod(func(d *apiv1.HTTPToolDefinition) { d.URL = "https://api.example.com/{nope}" }), "url", "{nope}"},
		{"bad schema", mod(func(d *apiv1.HTTPToolDefinition) { d.InputSchema = json.RawMessage(`{"type":"object","required":7}`) }), "input_schema", ""},
		{"header crlf", mod(func(d *apiv1.HTTPToolDefinition) { d.Headers = map[string]string{"X-A": "a\nb"} }), "headers", ""},
		{"unknown provider", mod(func(d *apiv1.HTTPToolDefinition) {
			d.Auth = &apiv1.HTTPToolAuth{Type: "oauth", ProviderName: "nope"}
		}), "auth", "no OAuth provider"},
		{"token to another origin", mod(func(d *apiv1.HTTPToolDefinition) {
			d.Auth = &apiv1.HTTPToolAuth{Type: "oauth", ProviderName: "github"}
		}), "url", "API origins"},
		{"key nowhere", mod(func(d *apiv1.HTTPToolDefinition) {
			d.Auth = &apiv1.HTTPToolAuth{Type: "api_key", ProviderName: "x"}
		}), "auth", "exactly one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddHTTPTool(ctx, "acme", tc.def)
			if !isField(err, tc.field) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v; want field %s mentioning %q", err, tc.field, tc.msg)
			}
		})
	}
	bad := httpToolsYAML + "  - name: broken\n    url: http://example.com/\n"
	if _, err := s.ImportHTTPTools(ctx, "acme", bad); !isField(err, "content") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("bad import: %v", err)
	}
	if list, _ := v.ListHTTPTools(ctx, "acme"); len(list) != 0 {
		t.Fatalf("a refused import wrote %d tools", len(list))
	}
}

// TestParseHTTPTools: the accepted shapes, YAML or JSON, and the errors.
func TestParseHTTPTools(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		err      string
	}{
		{"one yaml", "name: a\nurl: https://x.example/\n", 1, ""},
		{"one json", `{"name":"a","url":"https://x.example/"}`, 1, ""},
		{"list json", `[{"name":"a","url":"https://x.example/"},{"name":"b","url":"https://x.example/"}]`, 2, ""},
		{"wrapped yaml", httpToolsYAML, 2, ""},
		{"empty", "  \n", 0, "empty"},
		{"scalar", "hello", 0, "want one tool"},
		{"unknown field", "name: a\nurl: https://x.example/\nheaderz: {}\n", 0, "headerz"},
		{"no name", "url: https://x.example/\n", 0, "name is required"},
		{"twice", "- {name: a, url: 'https://x.example/'}\n- {name: a, url: 'https://x.example/'}\n", 0, "twice"},
		{"bad yaml", "name: [a\n", 0, "not YAML"},
		{"empty list", "tools: []\n", 0, "no tool"},
		{"too large", strings.Repeat("#", adminops.MaxHTTPToolFile+1), 0, "larger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defs, err := adminops.ParseHTTPTools([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(defs) != tc.n {
				t.Fatalf("defs = %+v, %v", defs, err)
			}
		})
	}
}

// FuzzParseHTTPTools: any file is parsed or refused with an error, never
// a panic, and what parses has named, distinct tools.
func FuzzParseHTTPTools(f *testing.F) {
	for _, s := range []string{httpToolsYAML, `{"name":"a","url":"https://x.example/"}`, "- name: a\n", "a: &x [*x]\n", "tools: {}\n", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := adminops.ParseHTTPTools(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range defs {
			if d.Name == "" || seen[d.Name] {
				t.Fatalf("parsed %+v", defs)
			}
			seen[d.Name] = true
		}
	})
}
