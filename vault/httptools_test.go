package vault

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

func weatherTool(tenant string) HTTPTool {
	return HTTPTool{
		TenantID: tenant, Name: "city_weather", Description: "Weather of a city",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
		URL:         "https://api.example.com/weather/{city}",
		Query:       map[string]string{"units": "metric"},
		Auth:        &HTTPToolAuth{Kind: CredentialAPIKey, Provider: "owm", QueryParam: "appid"},
	}
}

// TestHTTPToolValidation: every rule of an HTTP tool record refuses with
// ErrInvalid and a message naming the field.
func TestHTTPToolValidation(t *testing.T) {
	mod := func(f func(*HTTPTool)) HTTPTool { h := weatherTool("acme"); f(&h); return h }
	tests := []struct {
		name string
		t    HTTPTool
		want string
	}{
		{"ok", weatherTool("acme"), ""},
		{"loopback http", mod(func(h *HTTPTool) { h.URL = "http://127.0.0.1:8080/x/{city}" }), ""},
		{"no schema is an empty object", mod(func(h *HTTPTool) { h.InputSchema = nil }), ""},
		{"oauth", mod(func(h *HTTPTool) { h.Auth = &HTTPToolAuth{Kind: CredentialOAuth, Provider: "github"} }), ""},
		{"key in header", mod(func(h *HTTPTool) { h.Auth = &HTTPToolAuth{Kind: CredentialAPIKey, Provider: "x", Header: "X-Api-Key"} }), ""},
		{"bad name", mod(func(h *HTTPTool) { h.Name = "bad name" }), "http tool name"},
		{"double underscore", mod(func(h *HTTPTool) { h.Name = "a__b" }), `"__"`},
		{"long name", mod(func(h *HTTPTool) { h.Name = strings.Repeat("a", 65) }), "http tool name"},
		{"schema not object", mod(func(h *HTTPTool) { h.InputSchema = json.RawMessage(`[1]`) }), "input_schema"},
		{"method", mod(func(h *HTTPTool) { h.Method = "TRACE" }), "method"},
		{"plain http", mod(func(h *HTTPTool) { h.URL = "http://api.example.com/x" }), "url"},
		{"placeholder in host", mod(func(h *HTTPTool) { h.URL = "https://{city}.example.com/x" }), "literal"},
		{"placeholder in port", mod(func(h *HTTPTool) { h.URL = "https://example.com:{p}/x" }), "literal"},
		{"user info", mod(func(h *HTTPTool) { h.URL = "https://u:p@example.com/x" }), "user info"},
		{"ftp", mod(func(h *HTTPTool) { h.URL = "ftp://example.com/x" }), "url"},
		{"reserved header", mod(func(h *HTTPTool) { h.Headers = map[string]string{"Host": "x"} }), "set by Plexus"},
		{"crlf header value", mod(func(h *HTTPTool) { h.Headers = map[string]string{"X-A": "a\r\nB: c"} }), "one line"},
		{"bad header name", mod(func(h *HTTPTool) { h.Headers = map[string]string{"X A": "a"} }), "header"},
		{"body on GET", mod(func(h *HTTPTool) { h.Body = json.RawMessage(`{"a":1}`) }), "GET request has no body"},
		{"body not JSON", mod(func(h *HTTPTool) { h.Method = "POST"; h.Body = json.RawMessage(`{a`) }), "body"},
		{"oauth with header", mod(func(h *HTTPTool) {
			h.Auth = &HTTPToolAuth{Kind: CredentialOAuth, Provider: "github", Header: "X"}
		}), "Bearer"},
		{"key nowhere", mod(func(h *HTTPTool) { h.Auth = &HTTPToolAuth{Kind: CredentialAPIKey, Provider: "x"} }), "exactly one"},
		{"key twice", mod(func(h *HTTPTool) { h.Query = map[string]string{"appid": "x"} }), "also set in query"},
		{"auth kind", mod(func(h *HTTPTool) { h.Auth = &HTTPToolAuth{Kind: "password", Provider: "x", Header: "A"} }), "auth"},
		{"pointer", mod(func(h *HTTPTool) { h.ResponsePointer = "data" }), "response_pointer"},
		{"max bytes", mod(func(h *HTTPTool) { h.MaxResponseBytes = MaxHTTPToolResponseBytes + 1 }), "max_response_bytes"},
		{"timeout", mod(func(h *HTTPTool) { h.TimeoutSeconds = -1 }), "timeout_seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkHTTPTool(tc.t)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

// TestHTTPToolCRUD: create, list, update (keeps CreatedAt), delete, each
// announced; deleting the tenant takes its tools along.
func TestHTTPToolCRUD(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	var mu sync.Mutex
	var seen []Change
	v.Subscribe(func(c Change) {
		if c.Kind == HTTPToolChanged {
			mu.Lock()
			seen = append(seen, c)
			mu.Unlock()
		}
	})
	created, err := v.CreateHTTPTool(ctx, weatherTool("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if created.Method != "GET" || created.CreatedAt.IsZero() {
		t.Fatalf("created = %+v", created)
	}
	if _, err := v.CreateHTTPTool(ctx, weatherTool("acme")); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := v.CreateHTTPTool(ctx, weatherTool("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tenant: %v", err)
	}
	h := weatherTool("acme")
	h.Description = "changed"
	if _, err := v.UpdateHTTPTool(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetHTTPTool(ctx, "acme", "city_weather")
	if err != nil || got.Description != "changed" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	list, err := v.ListHTTPTools(ctx, "acme")
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := v.DeleteHTTPTool(ctx, "acme", "city_weather"); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteHTTPTool(ctx, "acme", "city_weather"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := v.CreateHTTPTool(ctx, weatherTool("acme")); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, v, "acme")
	if list, err := v.ListHTTPTools(ctx, "acme"); err != nil || len(list) != 0 {
		t.Fatalf("after tenant delete: %+v, %v", list, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 || !seen[2].HTTPToolDeleted || seen[0].HTTPTool != "city_weather" {
		t.Fatalf("announced %+v", seen)
	}
}
