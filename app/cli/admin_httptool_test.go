package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
)

const cliToolFile = `
- name: city_weather
  description: Current weather
  input_schema:
    type: object
    properties: {city: {type: string}}
    required: [city]
  url: https://api.example.com/weather/{city}
  auth: {type: api_key, provider_name: wx, header: X-Api-Key}
- name: ping
  url: https://api.example.com/ping
`

// TestAdminHTTPTool: import a YAML file (then again: replaced), list,
// get as JSON that import takes back, delete; a bad file is refused
// before anything is sent.
func TestAdminHTTPTool(t *testing.T) {
	url, v := adminServerWith(t, adminops.Options{})
	if _, _, err := runAdmin(t, url, adminTestKey, "tenant", "create", "--entity-id", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tools.yaml")
	if err := os.WriteFile(file, []byte(cliToolFile), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runAdmin(t, url, adminTestKey, "httptool", "import", "--entity-id", "acme", file)
	if err != nil || !strings.Contains(out, "Added to acme: city_weather, ping") {
		t.Fatalf("import: %q %v", out, err)
	}
	out, _, err = runAdmin(t, url, adminTestKey, "httptool", "import", "acme", file)
	if err != nil || !strings.Contains(out, "Replaced in acme: city_weather, ping") {
		t.Fatalf("second import: %q %v", out, err)
	}
	out, _, err = runAdmin(t, url, adminTestKey, "httptool", "list", "--entity-id", "acme")
	if err != nil || !strings.Contains(out, "city_weather") || !strings.Contains(out, "api_key:wx (header X-Api-Key)") {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _, err = runAdmin(t, url, adminTestKey, "httptool", "get", "--entity-id", "acme", "--name", "city_weather", "--json")
	var body apiv1.HTTPToolBody
	if err != nil || json.Unmarshal([]byte(out), &body) != nil || body.HTTPTool.URL != "https://api.example.com/weather/{city}" {
		t.Fatalf("get: %q %v", out, err)
	}
	def, _ := json.Marshal(body.HTTPTool.HTTPToolDefinition)
	if out, _, err = runAdminIO(t, url, string(def), map[string]string{"ADMIN_API_KEY": adminTestKey}, "httptool", "import", "--entity-id", "acme", "-"); err != nil {
		t.Fatalf("import of get's output: %q %v", out, err)
	}
	if _, _, err = runAdmin(t, url, adminTestKey, "httptool", "delete", "--entity-id", "acme", "--name", "ping"); err != nil {
		t.Fatal(err)
	}
	if list, _ := v.ListHTTPTools(t.Context(), "acme"); len(list) != 1 {
		t.Fatalf("after delete: %d tools", len(list))
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nurl: https://a.example/\nmethd: GET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err = runAdmin(t, url, adminTestKey, "httptool", "import", "--entity-id", "acme", bad); err == nil || !strings.Contains(err.Error(), "methd") {
		t.Fatalf("bad file: %v", err)
	}
	if _, _, err = runAdmin(t, url, adminTestKey, "httptool", "import", "--entity-id", "acme"); err == nil || !strings.Contains(err.Error(), "file") {
		t.Fatalf("no file: %v", err)
	}
}
