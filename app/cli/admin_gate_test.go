package cli

import (
	"encoding/base32"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/mcpserver/gate"
)

// TestAdminGateCommands: enroll prints an otpauth URI whose key the vault
// accepts codes of; set, list, remove, enroll --again and tools search
// work through the admin API.
func TestAdminGateCommands(t *testing.T) {
	t.Parallel()
	u, v := adminServerWith(t, adminops.Options{})
	mustAdmin(t, u, "tenant", "create", "--entity-id", "acme", "--name", "Acme")

	out := mustAdmin(t, u, "gate", "enroll", "--entity-id", "acme", "--tool-set", "github", "--unlock-for", "30m")
	m := regexp.MustCompile(`otpauth URI: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "30 minutes") {
		t.Fatalf("enroll output:\n%s", out)
	}
	uri, err := url.Parse(m[1])
	if err != nil || uri.Scheme != "otpauth" || !strings.Contains(uri.Path, "Plexus:acme/github") {
		t.Fatalf("otpauth URI %q: %v", m[1], err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(uri.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := gate.Code(secret, time.Now())
	a, err := v.CheckGateCode(t.Context(), "acme", "github", func(s []byte, last int64) (int64, bool) {
		return gate.Verify(s, code, time.Now(), last)
	})
	if err != nil || !a.OK {
		t.Fatalf("the printed key's code was refused: %+v, %v", a, err)
	}

	// A second enroll says how to replace the secret.
	if _, _, err := runAdmin(t, u, adminTestKey, "gate", "enroll", "--entity-id", "acme", "--tool-set", "github"); err == nil || !strings.Contains(err.Error(), "--again") {
		t.Fatalf("second enroll: %v", err)
	}
	again := mustAdmin(t, u, "gate", "enroll", "--entity-id", "acme", "--tool-set", "github", "--again")
	if !strings.Contains(again, "otpauth://") || strings.Contains(again, m[1]) {
		t.Fatalf("enroll --again:\n%s", again)
	}

	if out := mustAdmin(t, u, "gate", "set", "--entity-id", "acme", "--tool-set", "github", "--cool-off", "1h"); !strings.Contains(out, "cooling-off 60 minutes") {
		t.Fatalf("set: %s", out)
	}
	if _, _, err := runAdmin(t, u, adminTestKey, "gate", "set", "--entity-id", "acme", "--tool-set", "github", "--cool-off", "90s"); err == nil {
		t.Fatal("set --cool-off 90s accepted")
	}
	if _, _, err := runAdmin(t, u, adminTestKey, "gate", "set", "--entity-id", "acme", "--tool-set", "github", "--unlock-for", "48h"); err == nil || !strings.Contains(err.Error(), "1440 minutes") {
		t.Fatalf("set --unlock-for 48h: %v", err)
	}
	list := mustAdmin(t, u, "gate", "list", "--entity-id", "acme")
	if !strings.Contains(list, "github") || !strings.Contains(list, "60m") || !strings.Contains(list, "Tool search (plexus_search_tools, plexus_call_tool): off") {
		t.Fatalf("list:\n%s", list)
	}
	if strings.Contains(list, uri.Query().Get("secret")) {
		t.Fatal("list shows the secret")
	}
	if out := mustAdmin(t, u, "tools", "search", "--entity-id", "acme", "--on"); !strings.Contains(out, "is on") {
		t.Fatalf("tools search --on: %s", out)
	}
	if st, _ := v.GetToolSettings(t.Context(), "acme"); !st.SearchTools {
		t.Fatal("search not on in the vault")
	}
	mustAdmin(t, u, "gate", "remove", "--entity-id", "acme", "--tool-set", "github")
	if gs, _ := v.ListGates(t.Context(), "acme"); len(gs) != 0 {
		t.Fatalf("gates after remove: %+v", gs)
	}
	if _, _, err := runAdmin(t, u, adminTestKey, "gate", "remove", "--entity-id", "acme", "--tool-set", "github"); err == nil {
		t.Fatal("removing a missing gate succeeded")
	}
}
