package ui_test

import (
	"net/http"
	"strings"
	"testing"
)

const uiToolYAML = `name: city_weather
description: Weather in a city
input_schema:
  type: object
  properties: {city: {type: string}}
  required: [city]
url: https://api.example.com/weather/{city}
auth: {type: api_key, provider_name: wx, header: X-Api-Key}
`

// TestHTTPToolsPage: empty state, add by pasting YAML, an error kept with
// the typed text, the list, edit, delete with typed confirmation.
func TestHTTPToolsPage(t *testing.T) {
	f, b := signedIn(t)
	ctx := t.Context()
	r := b.get("/ui/http-tools")
	wantStatus(t, "empty", r, http.StatusOK)
	wantIn(t, "empty", r.body, "No HTTP tools yet.", `href="/ui/http-tools/_new"`, `href="/ui/http-tools"`)

	b.get("/ui/http-tools/_new")
	bad := strings.Replace(uiToolYAML, "https://", "http://", 1)
	r = b.form("/ui/http-tools", "definition", bad)
	wantStatus(t, "bad add", r, http.StatusUnprocessableEntity)
	wantIn(t, "bad add", r.body, "http://api.example.com/weather/{city}", "https")
	if !fieldError(r.body, "f-definition", "url: must use https") {
		t.Errorf("error not under the definition field:\n%s", r.body)
	}
	r = b.form("/ui/http-tools", "definition", uiToolYAML)
	wantRedirect(t, "add", r, "/ui/http-tools")
	if got, err := f.v.GetHTTPTool(ctx, "acme", "city_weather"); err != nil || got.Auth.Header != "X-Api-Key" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	r = b.get("/ui/http-tools")
	wantIn(t, "list", r.body, "Added city_weather.", `href="/ui/http-tools/city_weather"`, "GET https://api.example.com/weather/{city}",
		"Each person&#39;s wx API key (header X-Api-Key)")
	r = b.form("/ui/http-tools", "definition", uiToolYAML)
	wantIn(t, "add twice", r.body, "already an HTTP tool called city_weather")

	r = b.get("/ui/http-tools/city_weather")
	wantStatus(t, "edit page", r, http.StatusOK)
	wantIn(t, "edit page", r.body, "provider_name: wx", "Delete HTTP tool city_weather")
	if i, j := strings.Index(r.body, "name: city_weather"), strings.Index(r.body, "url: https://"); i < 0 || j < i {
		t.Errorf("the definition does not start with its name")
	}
	r = b.form("/ui/http-tools/city_weather", "definition", strings.Replace(uiToolYAML, "Weather in a city", "Changed", 1))
	wantRedirect(t, "edit", r, "/ui/http-tools/city_weather")
	if got, _ := f.v.GetHTTPTool(ctx, "acme", "city_weather"); got.Description != "Changed" {
		t.Fatalf("description %q", got.Description)
	}
	r = b.form("/ui/http-tools/city_weather", "definition", strings.Replace(uiToolYAML, "city_weather", "renamed", 1))
	wantStatus(t, "rename", r, http.StatusUnprocessableEntity)
	wantIn(t, "rename", r.body, "cannot be renamed")

	b.get("/ui/http-tools/city_weather")
	r = b.form("/ui/http-tools/city_weather/delete", "confirm", "nope")
	wantStatus(t, "delete unconfirmed", r, http.StatusUnprocessableEntity)
	r = b.form("/ui/http-tools/city_weather/delete", "confirm", "city_weather")
	wantRedirect(t, "delete", r, "/ui/http-tools")
	if list, _ := f.v.ListHTTPTools(ctx, "acme"); len(list) != 0 {
		t.Fatalf("after delete: %d", len(list))
	}
	wantStatus(t, "gone", b.get("/ui/http-tools/city_weather"), http.StatusNotFound)

	// A tool may be called "new" (or "add"): its page is its own, not
	// the add form's.
	b.get("/ui/http-tools/_new")
	r = b.form("/ui/http-tools", "definition", strings.ReplaceAll(uiToolYAML, "city_weather", "new"))
	wantRedirect(t, "add new", r, "/ui/http-tools")
	r = b.get("/ui/http-tools/new")
	wantStatus(t, "tool called new", r, http.StatusOK)
	wantIn(t, "tool called new", r.body, "Delete HTTP tool new")
}
