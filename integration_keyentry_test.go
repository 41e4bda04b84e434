package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestLocalOwnerEntersAPIKeyThroughLink runs the real binary: the person
// using Claude Desktop (plexus stdio) calls a tool that needs an API key,
// gets a key-entry link in the result, opens it in a browser, types the
// key and presses Save; the next call through the same bridge reaches the
// API with that key. The link works once; the key appears in no page, no
// log line and no tool-call record, and neither do the call's arguments.
func TestLocalOwnerEntersAPIKeyThroughLink(t *testing.T) {
	in := newInstance(t)
	keys := make(chan string, 4)
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case keys <- r.URL.Query().Get("appid"):
		default:
		}
		fmt.Fprintf(w, `{"name":%q,"main":{"temp":21.5,"feels_like":20,"humidity":40},"weather":[{"description":"clear sky"}],"wind":{"speed":3}}`, r.URL.Query().Get("q"))
	}))
	t.Cleanup(weather.Close)
	_, rt := in.serve("--weather-api-url", weather.URL)
	if _, stderr, err := in.run("admin", "--data", in.dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := in.stdioClient(ctx, t, "acme")
	const city = "SECRET-CITY-ARGUMENT-canary-4e1b"
	callWeather := func() *mcp.CallToolResult {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = "weather"
		req.Params.Arguments = map[string]any{"city": city}
		res, err := c.CallTool(ctx, req)
		if err != nil || len(res.Content) == 0 {
			t.Fatalf("call weather: %v %v", err, res)
		}
		return res
	}
	res := callWeather()
	raw, _ := json.Marshal(res.StructuredContent)
	var cr map[string]string
	if err := json.Unmarshal(raw, &cr); err != nil || !res.IsError {
		t.Fatalf("weather without a key: isError %v, %s", res.IsError, raw)
	}
	entryURL := cr["key_entry_url"]
	if cr["error"] != "plexus_api_key_required" || !strings.HasPrefix(entryURL, rt.BaseURL()+"/acme/plexus-services/api-keys/entry/") ||
		cr["submit_url"] != "/acme/plexus-services/api-keys" || cr["key_name_display"] != "OpenWeatherMap API key" || cr["instructions"] == "" {
		t.Fatalf("weather without a key: %s", raw)
	}

	// A browser opens the link, the person types the key and saves.
	const key = "wx-key-entered-in-the-browser-DO-NOT-PRINT"
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	var pages []string
	get := func(u string) (int, string) {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		pages = append(pages, string(b))
		return resp.StatusCode, string(b)
	}
	st, page := get(entryURL)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if st != http.StatusOK || m == nil || !strings.Contains(page, "Enter your OpenWeatherMap API key") ||
		!strings.Contains(page, "you, the person using this computer") || !strings.Contains(page, "Acme") {
		t.Fatalf("key-entry page: %d\n%s", st, page)
	}
	post := func(form url.Values) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, entryURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", rt.BaseURL())
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		pages = append(pages, string(b))
		return resp.StatusCode, string(b)
	}
	if st, page := post(url.Values{"csrf": {m[1]}, "action": {"save"}, "api_key": {key + "\n"}}); st != http.StatusOK || !strings.Contains(page, "Key saved") {
		t.Fatalf("save: %d\n%s", st, page)
	}
	if st, _ := get(entryURL); st != http.StatusNotFound {
		t.Fatalf("the link worked twice: %d", st)
	}
	if st, _ := post(url.Values{"csrf": {m[1]}, "action": {"save"}, "api_key": {"another"}}); st != http.StatusNotFound {
		t.Fatalf("a second save: %d", st)
	}

	// The next call works with that key.
	res = callWeather()
	text := res.Content[len(res.Content)-1].(mcp.TextContent).Text
	if res.IsError || !strings.Contains(text, city) {
		t.Fatalf("weather with the key = %q (isError %v)", text, res.IsError)
	}
	if got := <-keys; got != key {
		t.Errorf("the weather API did not get the entered key")
	}

	// The key is in no page; the daemon's log holds neither the key nor
	// the link; the call record holds neither the key nor the link (the
	// arguments are recorded, masked: the city is no secret).
	for _, p := range pages {
		if strings.Contains(p, key) {
			t.Errorf("a page shows the key")
		}
	}
	in.stopDaemon()
	linkID := entryURL[strings.LastIndex(entryURL, "/")+1:]
	logs := in.logs.String()
	for _, s := range []string{key, linkID} {
		if strings.Contains(logs, s) {
			t.Errorf("the daemon log holds %.12q…", s)
		}
	}
	files, err := filepath.Glob(filepath.Join(in.dataDir, "audit", "audit-*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tool-call record: %v %v", files, err)
	}
	var record string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		record += string(b)
	}
	if !strings.Contains(record, `"tool":"weather"`) || !strings.Contains(record, `"outcome":"needs_key"`) || !strings.Contains(record, `"outcome":"ok"`) {
		t.Errorf("the record lacks the calls:\n%s", record)
	}
	if !strings.Contains(record, city) {
		t.Errorf("the record lacks the call's arguments:\n%s", record)
	}
	for _, s := range []string{key, linkID, rt.Token} {
		if strings.Contains(record, s) {
			t.Errorf("the tool-call record holds %.12q…", s)
		}
	}
}
