package ui

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
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

// providerFormCases are provider forms, as a browser sends them.
var providerFormCases = []struct {
	name, body     string
	custom, secret bool
	errs           []string // the fields with an error
}{
	{"preset", "preset=github&client_id=gh&client_secret=s3cret", false, true, nil},
	{"preset without secret", "preset=github&client_id=gh", false, true, []string{"client_secret"}},
	{"edit without secret", "client_id=gh&scopes=read:user+repo", false, false, nil},
	{"bad name", "provider_name=Git+Hub&client_id=x&client_secret=y", false, true, []string{"provider_name"}},
	{"bad scopes", "client_id=x&client_secret=y&scopes=a%22b", false, true, []string{"scopes"}},
	{"secret on two lines", "client_id=x&client_secret=a%0Ab", false, true, []string{"client_secret"}},
	{"custom", "provider_name=gl&client_id=x&client_secret=y&authorization_url=https://a.example/a&token_url=https://a.example/t&api_origins=https://api.a.example%0Ahttps://b.example", true, true, nil},
	{"custom, no urls", "provider_name=gl&client_id=x&client_secret=y&api_origins=https://a.example", true, true, []string{"authorization_url", "token_url"}},
	{"custom, no origins", "provider_name=gl&client_id=x&client_secret=y&authorization_url=https://a.example/a&token_url=https://a.example/t", true, true, []string{"api_origins"}},
	{"custom, http", "provider_name=gl&client_id=x&client_secret=y&authorization_url=http://a.example/a&token_url=https://u:p@a.example/t&userinfo_url=https://a.example/u", true, true, []string{"authorization_url", "token_url"}},
	{"custom, userinfo", "provider_name=gl&client_id=x&client_secret=y&authorization_url=https://a.example/a&token_url=https://a.example/t&userinfo_url=https://a.example/u", true, true, nil},
	{"long client id", "client_id=" + strings.Repeat("x", 513) + "&client_secret=y", false, true, []string{"client_id"}},
}

func TestParseProviderForm(t *testing.T) {
	for _, c := range providerFormCases {
		form, err := url.ParseQuery(c.body)
		if err != nil {
			t.Fatal(err)
		}
		_, errs := parseProviderForm(form, c.custom, c.secret)
		var got []string
		for k := range errs {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.errs) {
			t.Errorf("%s: errors on %v, want %v (%v)", c.name, got, c.errs, errs)
		}
	}
}

// FuzzProviderForm: any form gives field errors or values within the
// limits, and no message carries the secret.
func FuzzProviderForm(f *testing.F) {
	for _, c := range providerFormCases {
		f.Add(c.body, c.custom, c.secret)
	}
	f.Fuzz(func(t *testing.T, body string, custom, requireSecret bool) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, errs := parseProviderForm(form, custom, requireSecret)
		// The messages do not depend on what the secret says: the same
		// form with its secret masked gets the very same ones.
		masked := cloneForm(form)
		masked.Set("client_secret", mask(form.Get("client_secret")))
		if _, errs2 := parseProviderForm(masked, custom, requireSecret); !maps.Equal(errs, errs2) {
			t.Fatalf("the messages depend on the secret: %v / %v", errs, errs2)
		}
		for field, msg := range errs {
			if msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("the %s message: %q", field, msg)
			}
		}
		if len(errs) > 0 {
			return
		}
		if in.ClientID == "" || len(in.ClientID) > maxClientIDLen || requireSecret && in.Secret == "" || strings.ContainsAny(in.Secret, "\r\n") {
			t.Fatalf("accepted client id %q / a bad secret", in.ClientID)
		}
		if in.Name != "" && vault.ValidateProviderName(in.Name) != nil {
			t.Fatalf("accepted name %q", in.Name)
		}
		if _, err := apiv1.ParseScopes(in.Scopes...); err != nil {
			t.Fatalf("accepted scopes %q: %v", in.Scopes, err)
		}
		if custom && (in.AuthURL == "" || in.TokenURL == "" || len(in.Origins) > maxOriginsInForm || len(in.Origins) == 0 && in.UserURL == "") {
			t.Fatalf("accepted a custom provider without its addresses: %+v", in)
		}
		for _, u := range []string{in.AuthURL, in.TokenURL, in.UserURL, in.RevokeURL} {
			if u != "" && egress.CheckURL(u) != nil {
				t.Fatalf("accepted an address Plexus may not send a secret to: %q", u)
			}
		}
	})
}

var keyFormCases = []string{
	"provider_name=openweather&api_key_value=k-123",
	"provider_name=&api_key_value=k",
	"provider_name=Open+Weather&api_key_value=k",
	"provider_name=openweather&api_key_value=",
	"provider_name=openweather&api_key_value=a%01b",
	"provider_name=openweather&api_key_value=%20%20key%0A",
	"provider_name=x&api_key_value=" + strings.Repeat("k", 9000),
}

// FuzzKeyForm: any key form gives errors or a service name and key the
// vault accepts, and no message carries the key.
func FuzzKeyForm(f *testing.F) {
	for _, c := range keyFormCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, st := parseKeyForm(form)
		masked := cloneForm(form)
		masked.Set("api_key_value", mask(form.Get("api_key_value")))
		if _, st2 := parseKeyForm(masked); st2 != st {
			t.Fatalf("the messages depend on the key: %+v / %+v", st, st2)
		}
		if !st.any() && (vault.ValidateProviderName(in.Provider) != nil || vault.ValidateAPIKeyValue(in.Key) != nil) {
			t.Fatalf("accepted %q with a key the vault refuses", in.Provider)
		}
	})
}

// mask replaces the letters, digits and signs of s by "z" (as many bytes),
// keeping its spaces, control characters and invalid bytes: a value with
// the same shape that says nothing.
func mask(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsSpace(r) || unicode.IsControl(r) {
			b.WriteString(s[i : i+size])
		} else {
			b.WriteString(strings.Repeat("z", size))
		}
		i += size
	}
	return b.String()
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// FuzzHostUserID: an id the page accepts is one the vault accepts.
func FuzzHostUserID(f *testing.F) {
	for _, s := range []string{"alice", "", " ", "plexus-x", "PLEXUS-x", "local-owner", "..", "a\x01", "auth0|123", strings.Repeat("a", 257)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if hostUserIDProblem(id) == "" && vault.ValidateHostUserID(id) != nil {
			t.Fatalf("accepted %q", id)
		}
	})
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"authorization_url: must use https (plain http only to localhost)": "Must use https (plain http only to localhost).",
		`field "scopes" a scope contains a control character`:              "A scope contains a control character.",
		"api_origins: origin 1: an origin is scheme://host only":           "An origin is scheme://host only.",
		"Already a sentence.": "Already a sentence.",
		"":                    "This value cannot be used.",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUntil(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		30 * time.Second: "in less than a minute", 5 * time.Minute: "in 5 minutes", 2*time.Hour + 59*time.Minute: "in 3 hours",
		time.Hour - 10*time.Second: "in 1 hour", 47 * time.Hour: "in 47 hours", 6*24*time.Hour + 13*time.Hour: "in 7 days",
	} {
		if got := until(now, now.Add(d)); got != want {
			t.Errorf("until(%v) = %q, want %q", d, got, want)
		}
	}
}
