package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func TestItemName(t *testing.T) {
	long := strings.Repeat("x", 80)
	tests := []struct {
		upstream, item, want string
	}{
		{"everything", "echo", "everything__echo"},
		{"everything", "get-tiny-image", "everything__get-tiny-image"},
		{"e", "a.b_c-D", "e__a.b_c-D"},
		// Shortened: allowed characters cut to fit, then "_" + 8 hex of the original.
		{"everything", long, "everything__" + strings.Repeat("x", 64-12-9) + "_" + hash8(long)},
		// Other characters: replaced, and marked with the hash so
		// "a b" and "a_b" stay apart.
		{"fs", "read file", "fs__read_file_" + hash8("read file")},
		{"fs", "a_b", "fs__a_b"},
		{"fs", "", "fs___" + hash8("")},
		{"fs", "ünï", "fs___n__" + hash8("ünï")},
	}
	for _, tc := range tests {
		got := ItemName(tc.upstream, tc.item)
		if got != tc.want {
			t.Errorf("ItemName(%q, %q) = %q, want %q", tc.upstream, tc.item, got, tc.want)
		}
		if !toolNameRE.MatchString(got) {
			t.Errorf("ItemName(%q, %q) = %q: not a valid tool name within 64", tc.upstream, tc.item, got)
		}
		if ItemName(tc.upstream, tc.item) != got {
			t.Errorf("ItemName(%q, %q) is not deterministic", tc.upstream, tc.item)
		}
	}
	// A 32-character upstream name (the longest) still leaves room.
	up := strings.Repeat("u", 32)
	if got := ItemName(up, long); len(got) != 64 || !strings.HasPrefix(got, up+"__") {
		t.Errorf("ItemName(32 chars, long) = %q (%d)", got, len(got))
	}
	if got := ItemName("a", "x"); ItemName("a", "x ") == got {
		t.Error("different items got one name")
	}
}

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func TestResourceURI(t *testing.T) {
	u := ResourceURI("everything", "test://static/resource/1")
	if u != "everything__test://static/resource/1" {
		t.Fatal(u)
	}
	if orig, ok := SplitResourceURI("everything", u); !ok || orig != "test://static/resource/1" {
		t.Fatalf("split = %q %v", orig, ok)
	}
	if _, ok := SplitResourceURI("every", u); ok {
		t.Fatal("split with a prefix of the name")
	}
}

// FuzzItemName: any item name maps to a valid tool name within 64
// characters that starts with the upstream's prefix.
func FuzzItemName(f *testing.F) {
	for _, s := range []string{"echo", "", strings.Repeat("y", 100), "a b", "ünï", "a\x00b", "x_0123abcd"} {
		f.Add("everything", s)
		f.Add(strings.Repeat("u", 32), s)
	}
	f.Fuzz(func(t *testing.T, up, item string) {
		if up == "" || len(up) > 32 || sanitize(up) != up || strings.Contains(up, "__") || strings.HasSuffix(up, "_") {
			return
		}
		got := ItemName(up, item)
		if !toolNameRE.MatchString(got) || !strings.HasPrefix(got, up+Separator) {
			t.Fatalf("ItemName(%q, %q) = %q", up, item, got)
		}
	})
}
