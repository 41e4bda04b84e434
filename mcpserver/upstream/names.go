package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Separator joins an upstream's name and an item's name: "everything__echo".
const Separator = "__"

// MaxItemName is the longest name an upstream's tool or prompt gets in the
// tenant (many MCP clients refuse tool names over 64 characters).
const MaxItemName = 64

// hashLen is how many hex digits of the SHA-256 of the original name a
// shortened name ends with.
const hashLen = 8

// ItemName is the name an upstream's tool or prompt called item gets in
// the tenant: upstream + "__" + item. The result uses only the MCP tool
// name characters (A-Z a-z 0-9 _ - .) and has at most 64 characters. When
// item needs changing to get there (too long, or other characters), the
// shortening is deterministic: the item's allowed characters, cut to fit,
// then "_" and the first 8 hex digits of the SHA-256 of the original item
// name, so two different items never get the same name by accident (and
// if they did, the caller refuses the second as a collision).
//
// upstream must already be a valid upstream name (vault.ValidateUpstreamName:
// at most 32 characters).
func ItemName(upstream, item string) string {
	clean := sanitize(item)
	full := upstream + Separator + clean
	if clean == item && item != "" && len(full) <= MaxItemName {
		return full
	}
	sum := sha256.Sum256([]byte(item))
	suffix := "_" + hex.EncodeToString(sum[:])[:hashLen]
	room := MaxItemName - len(upstream) - len(Separator) - len(suffix)
	if room < 0 {
		room = 0
	}
	if len(clean) > room {
		clean = clean[:room]
	}
	return upstream + Separator + clean + suffix
}

// sanitize replaces every character outside A-Z a-z 0-9 _ - . with "_".
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			b.WriteRune(r)
			continue
		}
		b.WriteByte('_')
	}
	return b.String()
}

// ResourceURI is the URI an upstream's resource (or the URI template of
// a resource template) gets in the tenant: upstream + "__" + uri. URIs are
// not shortened: the mapping must be reversible (see SplitResourceURI).
func ResourceURI(upstream, uri string) string { return upstream + Separator + uri }

// SplitResourceURI undoes ResourceURI for upstream: the upstream's own URI
// and whether uri was one of its.
func SplitResourceURI(upstream, uri string) (string, bool) {
	return strings.CutPrefix(uri, upstream+Separator)
}
