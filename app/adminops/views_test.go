package adminops

import (
	"reflect"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// filled returns a T with every field set to a non-zero value.
func filled[T any](t *testing.T) T {
	t.Helper()
	var x T
	fill(t, reflect.ValueOf(&x).Elem())
	return x
}

func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i))
		}
	default:
		t.Fatalf("fill: no value for %s", v.Type())
	}
}

// zeroFields names the fields of v (a struct) left at their zero value.
func zeroFields(v any) []string {
	var out []string
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			out = append(out, rv.Type().Field(i).Name)
		}
	}
	return out
}

// TestViewsCopyEveryField: each conversion from a stored record (or the
// OAuth engine's type) to its wire view fills every field of the view, so
// a field added to an apiv1 type and forgotten here fails.
func TestViewsCopyEveryField(t *testing.T) {
	s := New(nil, Options{RedirectURL: func(tenant, provider string) string { return "https://x/" + tenant + "/" + provider }})
	for _, tc := range []struct {
		name string
		view any
	}{
		{"tenant", tenantView(filled[vault.Tenant](t))},
		{"user", userView(filled[vault.User](t))},
		{"token", tokenView(filled[vault.TokenInfo](t))},
		{"key", keyView(filled[vault.KeyInfo](t))},
		{"preset", presetView(filled[oauth.Preset](t))},
		{"connection", connectionView(filled[oauth.Connection](t))},
		{"provider", s.providerView(filled[vault.OAuthProvider](t), true)},
	} {
		if zero := zeroFields(tc.view); len(zero) > 0 {
			t.Errorf("%s view leaves %v unset", tc.name, zero)
		}
	}
}
