package gate

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
var rfcSecret = []byte("12345678901234567890")

func TestCodeRFC6238Vectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
	} {
		got, err := Code(rfcSecret, time.Unix(tc.unix, 0))
		if err != nil || got != tc.want {
			t.Errorf("Code(%d) = %q, %v; want %q", tc.unix, got, err, tc.want)
		}
	}
}

var parseCases = []struct {
	in   string
	want string
	ok   bool
}{
	{"123456", "123456", true},
	{" 123 456 ", "123456", true},
	{"123-456", "123456", true},
	{"12345", "", false},
	{"1234567", "", false},
	{"12345a", "", false},
	{"", "", false},
	{"١٢٣٤٥٦", "", false}, // Arabic-Indic digits are not ASCII
	{"123456\n", "", false},
	{strings.Repeat(" ", 40) + "123456", "", false},
}

func TestParseCode(t *testing.T) {
	for _, tc := range parseCases {
		got, err := ParseCode(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadCode) {
			t.Errorf("ParseCode(%q) error %v is not ErrBadCode", tc.in, err)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseCode(in)
		if err != nil {
			if got != "" || err != ErrBadCode {
				t.Fatalf("ParseCode(%q) = %q, %v", in, got, err)
			}
			return
		}
		if len(got) != Digits || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("ParseCode(%q) = %q", in, got)
		}
	})
}

func TestVerifySkewAndReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cur := Step(now)
	at := func(d time.Duration) string {
		c, err := Code(rfcSecret, now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		ok       bool
	}{
		{"now", at(0), 0, cur, true},
		{"one step early", at(-Period), 0, cur - 1, true},
		{"one step late", at(Period), 0, cur + 1, true},
		{"two steps early", at(-2 * Period), 0, 0, false},
		{"two steps late", at(2 * Period), 0, 0, false},
		{"replay of the accepted step", at(0), cur, 0, false},
		{"older than the accepted step", at(-Period), cur, 0, false},
		{"newer than the accepted step", at(Period), cur, cur + 1, true},
		{"wrong", "000000", 0, 0, false},
		{"short", "12345", 0, 0, false},
	} {
		step, ok := Verify(rfcSecret, tc.code, now, tc.last)
		if ok != tc.ok || step != tc.wantStep {
			// A random wrong code may collide with a real one; "000000" is
			// checked below not to.
			t.Errorf("%s: Verify = %d, %v; want %d, %v", tc.name, step, ok, tc.wantStep, tc.ok)
		}
	}
}

func TestURI(t *testing.T) {
	uri, err := URI("Plexus", "acme/github", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("URI = %q, %v", uri, err)
	}
	q := u.Query()
	if q.Get("secret") != Secret(rfcSecret) || q.Get("issuer") != "Plexus" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("URI query = %v", q)
	}
	if !strings.Contains(u.Path, "Plexus:acme/github") {
		t.Fatalf("URI label = %q", u.Path)
	}
}
