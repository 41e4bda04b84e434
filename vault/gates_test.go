package vault_test

import (
	"bytes"
	"encoding/base32"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

func TestGateLifecycle(t *testing.T) {
	v := vaulttest.New(t)
	ctx := t.Context()
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	var changes []vault.Change
	v.Subscribe(func(c vault.Change) {
		if c.Kind == vault.GateChanged {
			changes = append(changes, c)
		}
	})
	g, secret, err := v.CreateGate(ctx, vault.Gate{TenantID: "acme", ToolSet: "github"})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != vault.GateSecretLen || g.UnlockFor != vault.DefaultGateUnlockFor || g.CoolOff != vault.DefaultGateCoolOff {
		t.Fatalf("CreateGate = %+v, secret %d bytes", g, len(secret))
	}
	if _, _, err := v.CreateGate(ctx, vault.Gate{TenantID: "acme", ToolSet: "github"}); !errors.Is(err, vault.ErrExists) {
		t.Fatalf("second CreateGate = %v, want ErrExists", err)
	}
	for _, bad := range []vault.Gate{
		{TenantID: "acme", ToolSet: ""},
		{TenantID: "acme", ToolSet: "x\n"},
		{TenantID: "acme", ToolSet: " x"},
		{TenantID: "acme", ToolSet: "x", UnlockFor: time.Second},
		{TenantID: "acme", ToolSet: "x", CoolOff: 48 * time.Hour},
	} {
		if _, _, err := v.CreateGate(ctx, bad); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("CreateGate(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := v.CreateGate(ctx, vault.Gate{TenantID: "nope", ToolSet: "x"}); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("CreateGate for an unknown tenant = %v", err)
	}
	// The verifier sees the secret the creator got.
	var seen []byte
	a, err := v.CheckGateCode(ctx, "acme", "github", func(s []byte, last int64) (int64, bool) {
		seen = bytes.Clone(s)
		return 7, last == 0
	})
	if err != nil || !a.OK || !bytes.Equal(seen, secret) {
		t.Fatalf("CheckGateCode = %+v, %v (secret matches: %v)", a, err, bytes.Equal(seen, secret))
	}
	// The step is recorded: the verifier is told it.
	if _, err := v.CheckGateCode(ctx, "acme", "github", func(_ []byte, last int64) (int64, bool) {
		if last != 7 {
			t.Errorf("lastStep = %d, want 7", last)
		}
		return 7, true // a verifier that ignores lastStep is still refused
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := v.GetGate(ctx, "acme", "github")
	if got.Failures != 1 {
		t.Fatalf("a replayed step did not count as wrong: %+v", got)
	}
	g2, secret2, err := v.EnrollGate(ctx, "acme", "github")
	if err != nil || bytes.Equal(secret2, secret) || !g2.EnrolledAt.After(g.EnrolledAt) && !g2.EnrolledAt.Equal(g.EnrolledAt) {
		t.Fatalf("EnrollGate = %+v, %v", g2, err)
	}
	if g3, err := v.UpdateGate(ctx, "acme", "github", 5*time.Minute, time.Hour); err != nil || g3.UnlockFor != 5*time.Minute || g3.CoolOff != time.Hour {
		t.Fatalf("UpdateGate = %+v, %v", g3, err)
	}
	gs, err := v.ListGates(ctx, "acme")
	if err != nil || len(gs) != 1 || gs[0].ToolSet != "github" {
		t.Fatalf("ListGates = %+v, %v", gs, err)
	}
	if err := v.DeleteGate(ctx, "acme", "github"); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteGate(ctx, "acme", "github"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("second DeleteGate = %v", err)
	}
	if len(changes) != 4 || !changes[3].GateDeleted || changes[0].ToolSet != "github" {
		t.Fatalf("changes = %+v", changes)
	}
}

// Five wrong codes start a cooling-off that a reopened vault still
// enforces; after it a right code works again.
func TestGateCoolingOffSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	kr := vaulttest.NewKeyring()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func() *vault.Vault {
		return vaulttest.Open(t, vault.Config{Path: dir + "/vault.db", Keyring: kr, Now: clock})
	}
	v := open()
	ctx := t.Context()
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := v.CreateGate(ctx, vault.Gate{TenantID: "acme", ToolSet: "ops", CoolOff: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wrong := func(_ []byte, _ int64) (int64, bool) { return 0, false }
	right := func(_ []byte, last int64) (int64, bool) { return last + 1, true }
	for i := 1; i <= vault.MaxGateFailures; i++ {
		a, err := v.CheckGateCode(ctx, "acme", "ops", wrong)
		if err != nil || a.OK {
			t.Fatalf("wrong code %d = %+v, %v", i, a, err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// The secret is sealed: the file holds neither its bytes nor its
	// base32 form.
	raw, err := os.ReadFile(dir + "/vault.db")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, secret) || bytes.Contains(raw, []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))) {
		t.Fatal("the gate's secret is in the vault file in the clear")
	}
	v = open()
	called := false
	a, err := v.CheckGateCode(ctx, "acme", "ops", func(s []byte, l int64) (int64, bool) { called = true; return right(s, l) })
	if !errors.Is(err, vault.ErrGateCoolingOff) || called || !a.Gate.CoolingUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("after reopening: %+v, %v (verifier called: %v)", a, err, called)
	}
	now = now.Add(10 * time.Minute)
	if a, err := v.CheckGateCode(ctx, "acme", "ops", right); err != nil || !a.OK || !a.Gate.CoolingUntil.IsZero() || a.Gate.Failures != 0 {
		t.Fatalf("after the cooling-off: %+v, %v", a, err)
	}
}

func TestToolSearchSwitch(t *testing.T) {
	v := vaulttest.New(t)
	ctx := t.Context()
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	v.Subscribe(func(c vault.Change) {
		if c.Kind == vault.ToolSettingsChanged {
			n++
		}
	})
	if err := v.SetToolSearch(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	// Replacing the tool settings leaves the switch alone.
	if err := v.PutToolSettings(ctx, "acme", vault.ToolSettings{DisabledTools: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	st, err := v.GetToolSettings(ctx, "acme")
	if err != nil || !st.SearchTools || len(st.DisabledTools) != 1 {
		t.Fatalf("GetToolSettings = %+v, %v", st, err)
	}
	if err := v.SetToolSearch(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	if st, _ := v.GetToolSettings(ctx, "acme"); st.SearchTools {
		t.Fatal("search still on")
	}
	if n != 3 {
		t.Fatalf("ToolSettingsChanged announced %d times, want 3", n)
	}
	if err := v.SetToolSearch(ctx, "nope", true); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("SetToolSearch(unknown) = %v", err)
	}
}
