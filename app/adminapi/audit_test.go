package adminapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// TestAuditRecordsAndQuery: a refused token is a denied login; every
// mutating request is an admin action naming its actor, route, target
// and outcome (reads are not recorded); GET /api/v1/audit filters them
// and refuses a bad filter naming it.
func TestAuditRecordsAndQuery(t *testing.T) {
	log, err := audit.Open(audit.Options{Dir: filepath.Join(t.TempDir(), "audit")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	v := vaulttest.New(t)
	h := adminapi.New(adminops.New(v, adminops.Options{Activity: log}),
		adminapi.Options{Tokens: []string{localToken, "", adminKey}, Audit: log})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, v: v}

	if st, _, _ := f.call(t, "GET", "/api/v1/tenants", "wrong", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", st)
	}
	if st, _, body := f.call(t, "POST", "/api/v1/tenants", adminKey, `{"entity_id":"acme","name":"Acme"}`, nil); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, _, _ := f.call(t, "DELETE", "/api/v1/tenants/nope", localToken, "", nil); st != http.StatusNotFound {
		t.Fatalf("delete nope: %d", st)
	}
	f.call(t, "GET", "/api/v1/tenants", localToken, "", nil)

	get := func(q string) (int, apiv1.AuditResponse, string) {
		st, _, body := f.call(t, "GET", "/api/v1/audit"+q, localToken, "", nil)
		var res apiv1.AuditResponse
		if st == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &res); err != nil {
				t.Fatal(err)
			}
		}
		return st, res, body
	}
	_, res, _ := get("?kind=admin")
	if len(res.Records) != 2 {
		t.Fatalf("admin records: %+v", res.Records)
	}
	del, create := res.Records[0], res.Records[1]
	if create.Action != "POST /api/v1/tenants" || create.Actor != adminapi.ActorAdminToken || create.Outcome != "ok" ||
		create.Target != "created=/api/v1/tenants/acme" {
		t.Errorf("create = %+v", create)
	}
	if del.Action != "DELETE /api/v1/tenants/{id}" || del.Actor != adminapi.ActorLocalToken || del.Outcome != "failed" ||
		del.Target != "id=nope" || del.Tenant != "nope" {
		t.Errorf("delete = %+v", del)
	}
	if _, res, _ := get("?kind=login&outcome=denied"); len(res.Records) != 1 || res.Records[0].Action != "admin_api" {
		t.Errorf("denied: %+v", res.Records)
	}
	if _, res, _ := get("?tenant=nope&since=1h"); len(res.Records) != 1 {
		t.Errorf("tenant nope: %+v", res.Records)
	}
	if _, res, _ := get("?until=2000-01-01T00:00:00Z"); len(res.Records) != 0 {
		t.Errorf("until 2000: %+v", res.Records)
	}
	for q, field := range map[string]string{"?kind=bad": "kind", "?since=yesterday": "since", "?limit=x": "limit",
		"?outcome=meh": "outcome", "?tenant=Bad!": "tenant", "?cursor=..%2F": "cursor", "?user=a&who=local": "user",
		"?since=1h&until=2h": "until"} {
		st, _, body := get(q)
		if st != http.StatusBadRequest || !strings.Contains(body, field) {
			t.Errorf("%s: %d %s", q, st, body)
		}
	}
}
