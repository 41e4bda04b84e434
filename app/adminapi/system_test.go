package adminapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

func TestStatusAndShutdown(t *testing.T) {
	var stops atomic.Int32
	started := time.Now().Add(-90 * time.Second).UTC()
	f := newFixture(t, func(o *adminops.Options) {
		o.System = adminops.System{
			Info: func() adminops.DaemonInfo {
				return adminops.DaemonInfo{PID: 4242, Version: "9.9.9", Addr: "127.0.0.1:1", StartedAt: started,
					DataDir: "/data", Key: vault.KeyInfo{Source: vault.KeySourceFile, File: "/data/plexus.key"}}
			},
			Shutdown: func() { stops.Add(1) },
		}
	})
	for _, id := range []string{"beta", "acme"} {
		if status, _, body := f.call(t, http.MethodPost, "/api/v1/tenants", localToken, `{"entity_id":"`+id+`","name":"x"}`, nil); status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, status, body)
		}
	}

	// Both need the admin token and refuse foreign origins.
	for _, rt := range []struct{ method, path string }{{http.MethodGet, "/api/v1/status"}, {http.MethodPost, "/api/v1/shutdown"}} {
		if status, _, _ := f.call(t, rt.method, rt.path, "", "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d, want 401", rt.method, rt.path, status)
		}
		if status, _, _ := f.call(t, rt.method, rt.path, "wrong", "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d, want 401", rt.method, rt.path, status)
		}
		if status, _, _ := f.call(t, rt.method, rt.path, localToken, "", map[string]string{"Origin": "http://evil.example"}); status != http.StatusForbidden {
			t.Errorf("%s %s cross-origin: %d, want 403", rt.method, rt.path, status)
		}
	}
	if stops.Load() != 0 {
		t.Fatal("a refused request stopped the daemon")
	}
	if status, _, _ := f.call(t, http.MethodGet, "/api/v1/shutdown", localToken, "", nil); status != http.StatusMethodNotAllowed || stops.Load() != 0 {
		t.Errorf("GET /api/v1/shutdown: %d (stops %d), want 405 and no stop", status, stops.Load())
	}

	status, _, body := f.call(t, http.MethodGet, "/api/v1/status", localToken, "", nil)
	if status != http.StatusOK {
		t.Fatalf("status: %d %s", status, body)
	}
	var st apiv1.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != 4242 || st.Version != "9.9.9" || st.Key.Source != string(vault.KeySourceFile) || st.Key.File != "/data/plexus.key" ||
		st.UptimeSeconds < 89 || st.KeyWarning == "" || st.Tenants.Count != 2 || !slices.Equal(st.Tenants.IDs, []string{"acme", "beta"}) {
		t.Errorf("status = %+v", st)
	}
	if strings.Contains(body, localToken) {
		t.Error("status shows the token")
	}

	status, _, body = f.call(t, http.MethodPost, "/api/v1/shutdown", adminKey, "", nil)
	if status != http.StatusAccepted || !strings.Contains(body, `"stopping"`) || !strings.Contains(body, "4242") || stops.Load() != 1 {
		t.Errorf("shutdown: %d %s, stops %d", status, body, stops.Load())
	}
}

func TestStatusWithoutSystem(t *testing.T) {
	f := newFixture(t)
	for _, rt := range []struct{ method, path string }{{http.MethodGet, "/api/v1/status"}, {http.MethodPost, "/api/v1/shutdown"}} {
		status, _, body := f.call(t, rt.method, rt.path, localToken, "", nil)
		if status != http.StatusNotImplemented || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %s, want 501 with a JSON error", rt.method, rt.path, status, body)
		}
	}
}
