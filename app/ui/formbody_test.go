package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/vault"
)

// The parsers every form goes through: the body (parseForm), the CSRF
// token (validCSRF), and the passphrase fields of the unlock, choose-a-
// passphrase and key-move forms (passphraseProblem).

const testCSRF = "csrf-token-of-the-session-0123456789abcdefg"

var formBodyCases = []struct {
	name, ctype, body string
	err               error // nil: parsed
	csrfOK            bool
}{
	{"a form", "application/x-www-form-urlencoded", "csrf=" + testCSRF + "&name=Acme", nil, true},
	{"with a charset", "application/x-www-form-urlencoded; charset=UTF-8", "csrf=" + testCSRF, nil, true},
	{"upper case type", "APPLICATION/X-WWW-FORM-URLENCODED", "csrf=" + testCSRF, nil, true},
	{"no token", "application/x-www-form-urlencoded", "name=Acme", nil, false},
	{"empty token", "application/x-www-form-urlencoded", "csrf=", nil, false},
	{"wrong token", "application/x-www-form-urlencoded", "csrf=" + testCSRF[:len(testCSRF)-1] + "x", nil, false},
	{"token twice", "application/x-www-form-urlencoded", "csrf=" + testCSRF + "&csrf=" + testCSRF, nil, false},
	{"token prefix", "application/x-www-form-urlencoded", "csrf=" + testCSRF[:10], nil, false},
	{"JSON", "application/json", `{"csrf":"` + testCSRF + `"}`, errFormType, false},
	{"multipart", "multipart/form-data; boundary=x", "--x--", errFormType, false},
	{"no type", "", "csrf=" + testCSRF, errFormType, false},
	{"too large", "application/x-www-form-urlencoded", "csrf=" + testCSRF + "&x=" + strings.Repeat("a", maxFormBytes), errFormTooLarge, false},
	{"bad escape", "application/x-www-form-urlencoded", "csrf=" + testCSRF + "&x=%zz", errors.New("any"), false},
	{"semicolon", "application/x-www-form-urlencoded", "csrf=" + testCSRF + ";x=1", errors.New("any"), false},
}

// parseBody runs parseForm on a POST with ctype and body.
func parseBody(ctype, body string) (url.Values, error) {
	r := httptest.NewRequest(http.MethodPost, "/ui/tenants?csrf="+testCSRF, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return parseForm(httptest.NewRecorder(), r)
}

func TestParseFormAndCSRF(t *testing.T) {
	for _, c := range formBodyCases {
		form, err := parseBody(c.ctype, c.body)
		switch {
		case c.err == nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != nil && err == nil:
			t.Errorf("%s: parsed, want an error", c.name)
		case c.err != nil && (errors.Is(c.err, errFormType) || errors.Is(c.err, errFormTooLarge)) && !errors.Is(err, c.err):
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		case err == nil && validCSRF(form, testCSRF) != c.csrfOK:
			t.Errorf("%s: validCSRF = %v, want %v", c.name, !c.csrfOK, c.csrfOK)
		}
		if err != nil && strings.Contains(err.Error(), testCSRF) {
			t.Errorf("%s: the error %q carries the token", c.name, err)
		}
	}
	if validCSRF(url.Values{"csrf": {""}}, "") {
		t.Error("an empty session token matched an empty form token")
	}
}

// FuzzParseForm: any body and content type: no panic; an error is one of
// the three kinds with a status and never carries the body; a parsed form
// passes the CSRF check only with exactly the session's token, never
// with the one in the URL alone.
func FuzzParseForm(f *testing.F) {
	for _, c := range formBodyCases {
		if len(c.body) < 4096 {
			f.Add(c.ctype, c.body)
		}
	}
	f.Fuzz(func(t *testing.T, ctype, body string) {
		if strings.ContainsAny(ctype, "\r\n\x00") {
			return // not a header value a client can send
		}
		form, err := parseBody(ctype, body)
		if err != nil {
			if s := formErrorStatus(err); s != http.StatusBadRequest && s != http.StatusUnsupportedMediaType && s != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %v", s, err)
			}
			if len(body) > 8 && strings.Contains(err.Error(), body) {
				t.Fatalf("the error %q carries the body", err)
			}
			return
		}
		if len(body) > maxFormBytes {
			t.Fatalf("a %d-byte body parsed", len(body))
		}
		if validCSRF(form, testCSRF) && (len(form["csrf"]) != 1 || form["csrf"][0] != testCSRF) {
			t.Fatalf("validCSRF passed %q", form["csrf"])
		}
		if !strings.Contains(body, "csrf") && validCSRF(form, testCSRF) {
			t.Fatal("the token in the URL passed as the form's")
		}
	})
}

var passphraseCases = []struct {
	p    string
	want string // "" fine
}{
	{"", "Type the passphrase."},
	{"short", "Use at least 12 characters; this one has 5."},
	{"correct horse battery staple", ""},
	{"äöüäöüäöüäöü", ""},
	{"\xff\xfe passphrase bytes", "Use letters, digits, spaces and punctuation only."},
	{strings.Repeat("x", maxPassphraseRunes), ""},
	{strings.Repeat("x", maxPassphraseRunes+1), fmt.Sprintf("Use at most %d characters.", maxPassphraseRunes)},
}

func TestPassphraseProblem(t *testing.T) {
	for _, c := range passphraseCases {
		if got := passphraseProblem(c.p, vault.MinPassphraseLen); got != c.want {
			t.Errorf("passphraseProblem(%.20q) = %q, want %q", c.p, got, c.want)
		}
	}
}

// FuzzPassphraseProblem: no panic; empty, invalid UTF-8, too short and too
// long are refused and anything else passes; a message never holds the
// passphrase.
func FuzzPassphraseProblem(f *testing.F) {
	for _, c := range passphraseCases {
		f.Add(c.p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := passphraseProblem(p, vault.MinPassphraseLen)
		n := utf8.RuneCountInString(p)
		ok := p != "" && utf8.ValidString(p) && n >= vault.MinPassphraseLen && n <= maxPassphraseRunes
		if ok != (got == "") {
			t.Fatalf("passphraseProblem(%q) = %q", p, got)
		}
		if len(p) >= 4 && strings.Contains(got, p) {
			t.Fatalf("the message %q holds the passphrase", got)
		}
	})
}
