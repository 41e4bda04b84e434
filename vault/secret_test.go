package vault

import (
	"strings"
	"testing"
)

func TestSecretMatches(t *testing.T) {
	for _, tc := range []struct {
		presented, want string
		ok              bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cret", "s3cre", false},
		{"s3cre", "s3cret", false},
		{"", "s3cret", false},
		{"", "", false}, // an unset secret matches nothing
		{"x", "", false},
		{strings.Repeat("a", 10000), strings.Repeat("a", 10000), true},
		{strings.Repeat("a", 10000), strings.Repeat("a", 9999) + "b", false},
	} {
		if got := SecretMatches(tc.presented, tc.want); got != tc.ok {
			t.Errorf("SecretMatches(%d bytes, %d bytes) = %v, want %v", len(tc.presented), len(tc.want), got, tc.ok)
		}
	}
	d := DigestSecret("a")
	if !d.Equal(DigestSecret("a")) || d.Equal(DigestSecret("b")) {
		t.Fatal("Equal")
	}
	if got, ok := parseDigest(sha256Hex("a")); !ok || got != d {
		t.Fatalf("parseDigest(sha256Hex) = %x, %v", got, ok)
	}
	for _, bad := range []string{"", "zz", sha256Hex("a")[:62], sha256Hex("a") + "00", strings.Repeat("g", 64)} {
		if _, ok := parseDigest(bad); ok {
			t.Errorf("parseDigest(%q) ok", bad)
		}
	}
}
