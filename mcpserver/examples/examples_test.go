package examples

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// creds hands out a fixed client and key.
type creds struct {
	client *http.Client
	key    string
}

func (c creds) HTTPClient(context.Context, string, []string) (*http.Client, error) {
	if c.client == nil {
		return nil, tools.ErrConsentRequired
	}
	return c.client, nil
}

func (c creds) APIKey(context.Context, string) (string, error) {
	if c.key == "" {
		return "", tools.ErrAPIKeyMissing
	}
	return c.key, nil
}

func call(t *testing.T, r *tools.Registry, name string, ctx context.Context, args map[string]any) (*mcp.CallToolResult, error) {
	t.Helper()
	tl, ok := r.Lookup(name)
	if !ok {
		t.Fatalf("%s not registered", name)
	}
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	return tl.Handler(ctx, req)
}

func TestRegister(t *testing.T) {
	r := tools.NewRegistry()
	if err := Register(r, Config{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{GitHubWhoamiName, GitHubListReposName, WeatherName} {
		tl, ok := r.Lookup(n)
		if !ok || tl.Requires == nil {
			t.Fatalf("%s: %+v", n, tl)
		}
	}
	if err := Register(r, Config{}); err == nil {
		t.Fatal("registered twice")
	}
	for _, bad := range []string{"ftp://x", "http://user:pw@host", "::", "http://192.0.2.10", "https://api.example.com/?appid=1"} {
		if err := Register(tools.NewRegistry(), Config{GitHubAPIURL: bad}); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("base url %q: %v", bad, err)
		}
	}
}

func TestGitHubTools(t *testing.T) {
	var gotPath string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.RequestURI()
		switch r.URL.Path {
		case "/api/user":
			_, _ = w.Write([]byte(`{"login":"octocat","name":"The Octocat"}`))
		case "/api/user/repos":
			_, _ = w.Write([]byte(`[{"full_name":"octocat/hello","private":false}]`))
		default:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(gh.Close)
	r := tools.NewRegistry()
	if err := Register(r, Config{GitHubAPIURL: gh.URL + "/api/"}); err != nil {
		t.Fatal(err)
	}
	ctx := tools.WithCredentials(t.Context(), creds{client: gh.Client()})
	res, err := call(t, r, GitHubWhoamiName, ctx, nil)
	if err != nil || res.IsError || res.Content[0].(mcp.TextContent).Text != "You are octocat on GitHub (The Octocat)." {
		t.Fatalf("whoami = %+v, %v", res, err)
	}
	res, err = call(t, r, GitHubListReposName, ctx, map[string]any{"per_page": 5})
	if err != nil || res.IsError || gotPath != "/api/user/repos?per_page=5&sort=updated" {
		t.Fatalf("list repos = %+v, %v (path %s)", res, err, gotPath)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), `"full_name":"octocat/hello"`) {
		t.Fatalf("structured %s", b)
	}
	if res, _ := call(t, r, GitHubListReposName, ctx, map[string]any{"per_page": 500}); !res.IsError {
		t.Fatal("per_page 500 accepted")
	}
	// Not connected: the credential error goes back to Plexus as is.
	_, err = call(t, r, GitHubWhoamiName, tools.WithCredentials(t.Context(), creds{}), nil)
	if !errors.Is(err, tools.ErrConsentRequired) {
		t.Fatalf("not connected: %v", err)
	}
}

func TestWeather(t *testing.T) {
	var q map[string][]string
	owm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q = r.URL.Query()
		if q["q"][0] == "Nowhere" {
			http.Error(w, `{"cod":"404","message":"city not found"}`, http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"name":"Paris","main":{"temp":18.25,"feels_like":17,"humidity":60},"weather":[{"description":"light rain"}],"wind":{"speed":4.1}}`))
	}))
	t.Cleanup(owm.Close)
	r := tools.NewRegistry()
	if err := Register(r, Config{WeatherAPIURL: owm.URL}); err != nil {
		t.Fatal(err)
	}
	ctx := tools.WithCredentials(t.Context(), creds{key: "k-from-context"})
	res, err := call(t, r, WeatherName, ctx, map[string]any{"city": "Paris"})
	if err != nil || res.IsError {
		t.Fatalf("weather = %+v, %v", res, err)
	}
	if q["appid"][0] != "k-from-context" || q["units"][0] != "metric" || q["q"][0] != "Paris" {
		t.Fatalf("query %v", q)
	}
	if text := res.Content[0].(mcp.TextContent).Text; text != "Paris: light rain, 18.2 °C (feels like 17.0 °C), humidity 60%, wind 4.1 m/s." {
		t.Fatalf("text %q", text)
	}
	// The injected argument wins over the context (MCP Plexus convention).
	if _, err := call(t, r, WeatherName, ctx, map[string]any{"city": "Paris", "openweathermap_api_key": "k-arg"}); err != nil || q["appid"][0] != "k-arg" {
		t.Fatalf("argument key: %v %v", err, q["appid"])
	}
	res, _ = call(t, r, WeatherName, ctx, map[string]any{"city": "Nowhere"})
	if !res.IsError || strings.Contains(res.Content[0].(mcp.TextContent).Text, "k-from-context") {
		t.Fatalf("unknown city: %+v", res)
	}
	if _, err := call(t, r, WeatherName, tools.WithCredentials(t.Context(), creds{}), map[string]any{"city": "Paris"}); !errors.Is(err, tools.ErrAPIKeyMissing) {
		t.Fatalf("no key: %v", err)
	}
}

// TestWeatherKeyStaysAtItsOrigin (acceptance 1, API keys): the weather API
// answering with a redirect to another origin does not make Plexus send
// the key there; the tool reports an error naming no key.
func TestWeatherKeyStaysAtItsOrigin(t *testing.T) {
	var (
		mu     sync.Mutex
		stolen []string
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stolen = append(stolen, r.URL.RawQuery)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"name":"Elsewhere"}`))
	}))
	t.Cleanup(other.Close)
	owm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/data/2.5/weather?"+r.URL.RawQuery, http.StatusFound)
	}))
	t.Cleanup(owm.Close)
	r := tools.NewRegistry()
	if err := Register(r, Config{WeatherAPIURL: owm.URL}); err != nil {
		t.Fatal(err)
	}
	const key = "wx-KEY-canary-4411"
	res, err := call(t, r, WeatherName, tools.WithCredentials(t.Context(), creds{key: key}), map[string]any{"city": "Paris"})
	if err != nil || !res.IsError {
		t.Fatalf("weather through a cross-origin redirect = %+v, %v; want a tool error", res, err)
	}
	text := res.Content[0].(mcp.TextContent).Text
	if !strings.Contains(text, "redirect") || strings.Contains(text, key) {
		t.Fatalf("tool error %q", text)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, q := range stolen {
		if strings.Contains(q, key) {
			t.Fatal("the API key reached the other origin")
		}
	}
}
