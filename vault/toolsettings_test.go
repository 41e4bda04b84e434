package vault

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestToolSettings(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")

	if st, err := v.GetToolSettings(ctx, "acme"); err != nil || !reflect.DeepEqual(st, ToolSettings{}) {
		t.Fatalf("fresh tenant = %+v, %v, want zero value", st, err)
	}
	if _, err := v.GetToolSettings(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant get = %v, want ErrNotFound", err)
	}
	if err := v.PutToolSettings(ctx, "nope", ToolSettings{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant put = %v, want ErrNotFound", err)
	}

	tests := []struct {
		name string
		in   ToolSettings
		want ToolSettings
		msg  string // ErrInvalid substring; "" = ok
	}{
		{"dedupe and sort",
			ToolSettings{DisabledTools: []string{"weather", "github_whoami", "weather"}, DisabledToolSets: []string{"code", "code"}},
			ToolSettings{DisabledTools: []string{"github_whoami", "weather"}, DisabledToolSets: []string{"code"}}, ""},
		{"empty lists are the zero value", ToolSettings{DisabledTools: []string{}}, ToolSettings{}, ""},
		{"empty name", ToolSettings{DisabledTools: []string{""}}, ToolSettings{}, "disabled tool: must not be empty"},
		{"control char", ToolSettings{DisabledToolSets: []string{"a\x00b"}}, ToolSettings{}, "disabled tool set: must not contain control"},
		{"long name", ToolSettings{DisabledTools: []string{strings.Repeat("t", 257)}}, ToolSettings{}, "at most 256"},
		{"too many", ToolSettings{DisabledTools: make([]string, 1025)}, ToolSettings{}, "at most 1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := v.GetToolSettings(ctx, "acme")
			err := v.PutToolSettings(ctx, "acme", tc.in)
			if tc.msg != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("put = %v, want ErrInvalid mentioning %q", err, tc.msg)
				}
				if after, _ := v.GetToolSettings(ctx, "acme"); !reflect.DeepEqual(after, before) {
					t.Fatalf("rejected put changed settings: %+v", after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := v.GetToolSettings(ctx, "acme"); err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("get = %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := v.GetToolSettings(ctx, "beta"); !reflect.DeepEqual(st, ToolSettings{}) {
		t.Fatalf("beta sees acme's settings: %+v", st)
	}
}
