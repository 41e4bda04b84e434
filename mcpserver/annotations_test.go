package mcpserver

import (
	"encoding/json"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// TestToolAnnotationsDoNotContradict: no tool a tenant lists (the built-in
// and the example tools, as the daemon registers them) says both
// readOnlyHint and destructiveHint.
func TestToolAnnotationsDoNotContradict(t *testing.T) {
	r := tools.NewRegistry()
	if err := examples.Register(r, examples.Config{}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, WithRegistry(r))
	rep := e.do(req{tenant: "acme", version: modern, headers: map[string]string{"Mcp-Method": "tools/list"},
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + modernMeta + `}}`})
	var res struct {
		Tools []struct {
			Name        string `json:"name"`
			Annotations struct {
				ReadOnly    *bool `json:"readOnlyHint"`
				Destructive *bool `json:"destructiveHint"`
			} `json:"annotations"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(rep.rpc.Result, &res); err != nil || len(res.Tools) < 2 {
		t.Fatalf("tools/list: %s (%v)", rep.body, err)
	}
	for _, tl := range res.Tools {
		a := tl.Annotations
		if a.ReadOnly != nil && *a.ReadOnly && (a.Destructive == nil || *a.Destructive) {
			t.Errorf("%s: readOnlyHint true but destructiveHint %v", tl.Name, a.Destructive)
		}
	}
}
