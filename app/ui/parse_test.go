package ui

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/vault"
)

func TestParseTicket(t *testing.T) {
	good := "plxt_" + strings.Repeat("A", 43)
	for _, c := range []struct {
		q    string
		want error
	}{
		{"ticket=" + good, nil},
		{"ticket=" + good + "&x=1", nil},
		{"", errNoTicket},
		{"ticket=", errNoTicket},
		{"ticket=" + good + "&ticket=" + good, errBadTicket},
		{"ticket=" + good[:40], errBadTicket},
		{"ticket=%zz", errBadTicket},
		{"ticket=" + strings.Repeat("a", 2000), errBadTicket},
	} {
		got, err := parseTicket(c.q)
		if err != c.want || (err == nil && got != good) {
			t.Errorf("parseTicket(%.40q) = %q, %v; want %v", c.q, got, err, c.want)
		}
	}
}

func TestSlugAndCleanBack(t *testing.T) {
	for in, want := range map[string]string{"Personal": "personal", "My Work!": "my-work", "  Ünïcode 2 ": "n-code-2", "!!!": "", strings.Repeat("ab ", 40): strings.TrimSuffix(strings.Repeat("ab-", 21), "-")} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"/ui/tenants": "/ui/tenants", "/ui/tenants/acme?x=1": "/ui/tenants/acme", "/api/v1": "/ui/", "/ui//x": "/ui/", "/ui/%2e%2e/": "/ui/", "/ui/a%2fb": "/ui/a%2fb"} {
		if got := cleanBack(in); got != want {
			t.Errorf("cleanBack(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseTicket(f *testing.F) {
	for _, s := range []string{"", "ticket=", "ticket=plxt_" + strings.Repeat("A", 43), "ticket=a&ticket=b", "ticket=%zz", "a=b;c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := parseTicket(q)
		if err == nil && vault.ValidUILoginTicket(got) != nil {
			t.Fatalf("accepted a malformed ticket %q", got)
		}
		if err != nil && got != "" {
			t.Fatal("a ticket with an error")
		}
	})
}

// FuzzTenantForm: any form body gives either field errors or a valid id
// and name, and messages that never echo the input.
func FuzzTenantForm(f *testing.F) {
	for _, s := range []string{"name=Personal&entity_id=personal", "name=&entity_id=", "name=My+Stuff", "entity_id=api&name=x",
		"name=%01", "name=" + strings.Repeat("x", 300), "from=home&name=x&entity_id=-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, errs := parseTenantForm(form)
		if !errs.any() {
			if vault.ValidateTenantID(in.ID) != nil {
				t.Fatalf("accepted id %q", in.ID)
			}
			if in.Name == "" || !utf8.ValidString(in.Name) || len(in.Name) > maxTenantNameLen {
				t.Fatalf("accepted name %q", in.Name)
			}
		}
		for _, m := range []string{errs.ID, errs.Name} {
			if len(in.Name) > 8 && strings.Contains(m, in.Name) || len(in.ID) > 8 && strings.Contains(m, in.ID) {
				t.Fatalf("message echoes the input: %q", m)
			}
		}
	})
}

func FuzzCleanBack(f *testing.F) {
	for _, s := range []string{"/ui/", "/ui/tenants", "//evil", "https://evil/ui/", "/ui/../x", "/ui/\\x", "/ui/%2f%2fevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := cleanBack(p)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/ui/") || strings.Contains(got, "//") ||
			strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("cleanBack(%q) = %q", p, got)
		}
	})
}
