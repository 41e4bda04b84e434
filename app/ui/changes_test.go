package ui

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestEveryFormHasWords: each form route of the window (read from the
// source, so a form added later is checked too) reads as a sentence on the
// Activity page, with its path's values in place.
func TestEveryFormHasWords(t *testing.T) {
	src, err := os.ReadFile("ui.go")
	if err != nil {
		t.Fatal(err)
	}
	gates, err := os.ReadFile("gates.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`m\.Handle\("POST (/ui[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 20 {
		t.Fatalf("found %d form routes in ui.go; has the way routes are registered changed?", len(routes))
	}
	if !strings.Contains(string(gates), `m.Handle("POST "+gatesPath`) {
		t.Fatal("the gates form is registered some other way now")
	}
	paths := []string{gatesPath}
	for _, m := range routes {
		paths = append(paths, m[1])
	}
	for _, p := range paths {
		filled := regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllStringFunc(p, func(w string) string { return "v-" + w[1:len(w)-1] })
		got := adminWords("POST "+filled, "")
		if strings.HasPrefix(got, "In this window:") || strings.Contains(got, "{") {
			t.Errorf("POST %s reads %q", p, got)
		}
	}
	for _, tc := range []struct{ action, want string }{
		{"POST /ui/providers/github/delete", "Remove OAuth provider github"},
		{"POST /ui/connections/local-owner/keys/open%20weather/delete", "Delete the open weather API key"},
		{"POST /ui/tenants", "Create a tenant"},
		{"POST /ui/tenants/acme/unknown", "In this window: tenants › acme › unknown"},
		{"POST /ui/providers//delete", "In this window: providers ›  › delete"},
		{"DELETE /api/v1/tenants/{id}", "Admin API: DELETE tenants/{id}"},
		{"POST /api/v1/ui/login-ticket", "Make a sign-in link for this window"},
	} {
		if got := adminWords(tc.action, ""); got != tc.want {
			t.Errorf("%s reads %q, want %q", tc.action, got, tc.want)
		}
	}
}

// TestEveryAPIRouteHasWords: each mutating admin API route (read from
// adminapi's source) reads as a sentence, its path values filled in from
// the record's target.
func TestEveryAPIRouteHasWords(t *testing.T) {
	src, err := os.ReadFile("../adminapi/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`\{"((?:POST|PUT|PATCH|DELETE) /api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 25 {
		t.Fatalf("found %d mutating routes; has the way routes are registered changed?", len(routes))
	}
	target := "id=acme uid=u-1 token_id=tok-1 name=thing provider=github set=files"
	for _, m := range routes {
		got := adminWords(m[1], target)
		if strings.HasPrefix(got, "Admin API:") || strings.Contains(got, "{") {
			t.Errorf("%s reads %q", m[1], got)
		}
	}
	if got := adminWords("DELETE /api/v1/tenants/{id}/gates/{set}", "id=acme set=files"); got != "Stop asking for a code for files" {
		t.Errorf("gate removal reads %q", got)
	}
}

// FuzzAdminWords: any recorded action (a path a request chose) reads as
// one line, without a panic.
func FuzzAdminWords(f *testing.F) {
	for _, s := range []string{"POST /ui/providers/github/delete", "POST /ui/x/%zz", "DELETE /api/v1/tenants/{id}", "", "POST /ui/"} {
		f.Add(s, "id=acme")
	}
	f.Fuzz(func(t *testing.T, action, target string) {
		got := adminWords(action, target)
		if strings.Contains(got, "{") && !strings.ContainsAny(action+target, "{%") {
			t.Errorf("%q reads %q: a wildcard left in", action, got)
		}
		if strings.ContainsFunc(got, unicode.IsControl) && !strings.ContainsFunc(action+target, unicode.IsControl) {
			t.Errorf("%q reads %q: a control character", action, got)
		}
	})
}
