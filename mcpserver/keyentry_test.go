package mcpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// fillKeyEntry opens a key-entry link like a person's browser, types key
// and presses Save key; it returns the final page.
func fillKeyEntry(t *testing.T, link, key string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d\n%s", link, resp.StatusCode, page)
	}
	u, _ := url.Parse(link)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, link,
		strings.NewReader(url.Values{"csrf": {string(m[1])}, "action": {"save"}, "api_key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAPIKeyResultLinksToKeyEntry: the "API key needed" result keeps MCP
// Plexus's fields and adds key_entry_url for everyone who can hold a key
// (the local owner, a user, a guest with a session); the link stores the
// key for exactly that caller, and their next call works with it.
func TestAPIKeyResultLinksToKeyEntry(t *testing.T) {
	ce := newCredEnv(t, nil)
	_, aliceTok := ce.user("acme", "alice")
	parties := []caller{
		{name: "local", tenant: "acme", token: localToken},
		{name: "alice", tenant: "acme", token: aliceTok, sid: ce.initialize("acme", aliceTok)},
		{name: "guest", tenant: "acme", sid: ce.initialize("acme", "")},
	}
	prefix := ce.hs.URL + "/acme/plexus-services/api-keys/entry/"
	links := map[string]string{}
	for _, c := range parties {
		rep := ce.callAs(c, examples.WeatherName, `{"city":"Paris"}`)
		r := credResult(t, rep)
		if r.Error != ResultAPIKeyRequired || !strings.HasPrefix(r.KeyEntryURL, prefix) || !strings.Contains(r.Message, "key entry URL") ||
			r.KeyNameDisplay != "OpenWeatherMap API key" || r.SubmitURL != "/acme/plexus-services/api-keys" || r.Instructions == "" {
			t.Fatalf("%s: %+v", c.name, r)
		}
		// The wire names MCP Plexus's clients read are all there.
		var wire map[string]any
		text, _ := toolText(t, rep)
		if err := json.Unmarshal([]byte(text), &wire); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"error", "message", "provider_name", "key_name_display", "instructions", "submit_url", "key_entry_url"} {
			if _, ok := wire[k]; !ok {
				t.Errorf("%s: result lacks %q: %s", c.name, k, text)
			}
		}
		links[c.name] = r.KeyEntryURL
	}
	if r := credResult(t, ce.callAs(caller{tenant: "acme"}, examples.WeatherName, `{"city":"Paris"}`)); r.KeyEntryURL != "" {
		t.Errorf("a guest without a session got a link it could never use: %+v", r)
	}
	keyOf := func(c caller) string { return "key-of-" + c.name + "-entered-0123" }
	for _, c := range parties {
		if st, body := fillKeyEntry(t, links[c.name], keyOf(c)); st != http.StatusOK || !strings.Contains(body, "Key saved") ||
			strings.Contains(body, keyOf(c)) {
			t.Fatalf("%s: save: %d\n%s", c.name, st, body)
		}
	}
	for _, c := range parties {
		text, isErr := toolText(t, ce.callAs(c, examples.WeatherName, `{"city":"Paris"}`))
		if isErr || !strings.Contains(text, "clear sky") {
			t.Fatalf("%s after entering the key: %q", c.name, text)
		}
		if got := ce.wx.last(); got != keyOf(c) {
			t.Fatalf("%s's call reached the API with another key", c.name)
		}
	}
	// Used links do not work again.
	for name, l := range links {
		resp, err := http.Get(l)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s's used link: %d", name, resp.StatusCode)
		}
	}
	// The page refuses a tenant that does not exist, and other sites.
	if resp, err := http.Get(ce.hs.URL + "/nope/plexus-services/api-keys/entry/" + strings.Repeat("a", 43)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown tenant: %v %v", resp, err)
	}
}

// TestNoPublicURLNoLink: without WithPublicURL the result says how to
// store the key, as before.
func TestNoPublicURLNoLink(t *testing.T) {
	e := newEnvFor(t, nil, WithRegistry(exampleRegistry(t)))
	r := credResult(t, e.callAs(caller{tenant: "acme", token: localToken}, examples.WeatherName, `{"city":"Paris"}`))
	if r.KeyEntryURL != "" || !strings.Contains(r.Message, "plexus admin connections set-api-key") {
		t.Fatalf("%+v", r)
	}
}

// exampleRegistry holds the example tools, pointed at nothing reachable.
func exampleRegistry(t *testing.T) *tools.Registry {
	t.Helper()
	reg := tools.NewRegistry()
	if err := examples.Register(reg, examples.Config{WeatherAPIURL: "http://127.0.0.1:9", GitHubAPIURL: "http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	return reg
}
