package adminapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/vault"
)

// TestUserIDsAndDeletion: the admin twin of register-user refuses the
// reserved ids (400 naming the rule), and DELETE /users/{uid} removes a
// user with their tokens and keys.
func TestUserIDsAndDeletion(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.createTenant(t, "acme")
	for _, id := range []string{vault.LocalOwnerHostUserID, "local-owner", "plexus-x", ".."} {
		status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/users", localToken, `{"user_id_from_host_app":"`+id+`"}`, nil)
		if status != http.StatusBadRequest || !strings.Contains(body, "user id from host app") {
			t.Errorf("create user %q: %d %s, want 400 naming the rule", id, status, body)
		}
	}
	status, _, body := f.call(t, "POST", "/api/v1/tenants/acme/users", localToken, `{"user_id_from_host_app":"a/b c@example.com"}`, nil)
	var created struct {
		UserID string `json:"persistent_user_id"`
		Token  string `json:"plexus_user_auth_token"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil || created.UserID != "a/b c@example.com" {
		t.Fatalf("create user: %d %s", status, body)
	}
	// An id with a slash and a space is addressable once escaped.
	path := "/api/v1/tenants/acme/users/a%2Fb%20c@example.com"
	if status, _, body := f.call(t, "PUT", path+"/api-keys/weather", localToken, `{"api_key_value":"k-0123456789"}`, nil); status != http.StatusOK {
		t.Fatalf("put key: %d %s", status, body)
	}
	var mu sync.Mutex
	var rec []vault.Change
	f.v.Subscribe(func(c vault.Change) {
		mu.Lock()
		defer mu.Unlock()
		rec = append(rec, c)
	})
	if status, _, body := f.call(t, "DELETE", path, localToken, "", nil); status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", status, body)
	}
	mu.Lock()
	if len(rec) != 1 || rec[0].Kind != vault.UserDeleted || rec[0].UserID != created.UserID {
		t.Fatalf("announced %+v", rec)
	}
	mu.Unlock()
	if _, err := f.v.ResolveToken(ctx, created.Token); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("token after delete: %v", err)
	}
	if creds, _ := f.v.ListCredentials(ctx, "acme", created.UserID); len(creds) != 0 {
		t.Fatalf("credentials after delete: %+v", creds)
	}
	if status, _, _ := f.call(t, "DELETE", path, localToken, "", nil); status != http.StatusNotFound {
		t.Fatalf("delete again: %d", status)
	}
	if status, _, _ := f.call(t, "DELETE", "/api/v1/tenants/nosuch/users/x", localToken, "", nil); status != http.StatusNotFound {
		t.Fatalf("delete in unknown tenant: %d", status)
	}
}
