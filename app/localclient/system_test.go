package localclient_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/vault"
)

func TestClientStatusAndShutdown(t *testing.T) {
	stopped := make(chan struct{}, 1)
	c, v := newAPIWith(t, adminops.Options{System: adminops.System{
		Info: func() adminops.DaemonInfo {
			return adminops.DaemonInfo{PID: 7, Version: "1.2.3", Key: vault.KeyInfo{Source: vault.KeySourceKeyring}}
		},
		Shutdown: func() { stopped <- struct{}{} },
	}})
	if _, err := v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 7 || st.Version != "1.2.3" || st.Key.Source != string(vault.KeySourceKeyring) || st.KeyWarning != "" ||
		st.Tenants.Count != 1 || st.Tenants.IDs[0] != "acme" {
		t.Errorf("Status = %+v", st)
	}
	if err := c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Shutdown did not reach the daemon")
	}

	bad := &localclient.Client{BaseURL: c.BaseURL, Token: "wrong"}
	var ae *localclient.APIError
	if err := bad.Shutdown(t.Context()); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("Shutdown with a wrong token: %v, want 401", err)
	}
	select {
	case <-stopped:
		t.Fatal("a refused Shutdown stopped the daemon")
	default:
	}
}
