package adminapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

func TestMintLoginTicket(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, method, token string
		hdr                 map[string]string
		want                int
	}{
		{"no token", http.MethodPost, "", nil, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "nope", nil, http.StatusUnauthorized},
		{"cross-origin", http.MethodPost, localToken, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"GET", http.MethodGet, localToken, nil, http.StatusMethodNotAllowed},
	} {
		if status, _, body := f.call(t, c.method, "/api/v1/ui/login-ticket", c.token, "", c.hdr); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
		}
	}

	before := time.Now()
	status, _, body := f.call(t, http.MethodPost, "/api/v1/ui/login-ticket", localToken, "", nil)
	if status != http.StatusCreated {
		t.Fatalf("mint: %d %s", status, body)
	}
	var lt apiv1.LoginTicket
	if err := json.Unmarshal([]byte(body), &lt); err != nil {
		t.Fatal(err)
	}
	if lt.ExpiresAt.Before(before) || lt.ExpiresAt.After(before.Add(vault.MaxUILoginTicketTTL+time.Second)) {
		t.Errorf("expires_at %v: want within a minute", lt.ExpiresAt)
	}
	u, err := url.Parse(lt.LoginPath)
	if err != nil || u.Path != apiv1.UILoginPath {
		t.Fatalf("login_path %q", lt.LoginPath)
	}
	ticket := u.Query().Get("ticket")
	if strings.Contains(lt.LoginPath, localToken) {
		t.Fatal("the local token is in the login link")
	}
	// The ticket is the vault's, and works once.
	if err := f.v.TakeUILoginTicket(t.Context(), ticket); err != nil {
		t.Fatalf("take the minted ticket: %v", err)
	}
	if err := f.v.TakeUILoginTicket(t.Context(), ticket); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("replay: %v", err)
	}
	if strings.Contains(f.logs.String(), ticket) {
		t.Fatal("the ticket is in the log")
	}
}
