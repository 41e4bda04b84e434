package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Bounds on recorded arguments.
const (
	// MaxRawArgsBytes is the most argument JSON a record carries to the
	// writer; longer arguments are not kept (ArgsCut, ArgsBytes only).
	MaxRawArgsBytes = 16 << 10
	// MaxArgsBytes is the most masked argument JSON written; longer is cut
	// to a JSON string of its start and CutMarker.
	MaxArgsBytes = 2 << 10
	// maxArgsDepth bounds the nesting walked; deeper values are masked.
	maxArgsDepth = 32
)

// Masked replaces a secret (or a value under a secret-named key).
const Masked = "[masked]"

// CutMarker ends arguments cut to MaxArgsBytes.
const CutMarker = "…[truncated]"

// Secrets tells whether a text is or contains a stored secret;
// *vault.SecretSet satisfies it.
type Secrets interface {
	Contains(s string) bool
}

// secretKeyWords are the words (matched case-insensitively anywhere in a
// key) that make a key's value masked whatever it holds.
var secretKeyWords = [...]string{"token", "secret", "passw", "key", "authorization", "cookie", "credential", "bearer"}

// SecretKeyName reports whether an argument named k has its value masked:
// its name contains token, secret, passw(ord), key, authorization, cookie,
// credential or bearer, in any case.
func SecretKeyName(k string) bool {
	lk := strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(lk, w) {
			return true
		}
	}
	return false
}

// MaskArgs returns the arguments raw (JSON) as they may be written: the
// value of every key named like a secret (at any depth) and every string
// (or key, or number) that is or contains one of secrets replaced by
// Masked, as compact JSON; cut to a JSON string of its first MaxArgsBytes
// and CutMarker (cut true) when longer. Anything that does not decode, or
// is longer than MaxRawArgsBytes, gives nil and cut true: nothing of it is
// written. secrets may be nil (key names only).
func MaskArgs(raw []byte, secrets Secrets) (masked []byte, cut bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	if len(raw) > MaxRawArgsBytes {
		return nil, true
	}
	if out, ok := maskFast(raw, secrets); ok {
		return out, false
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, true
	}
	v = maskValue(v, secrets, 0)
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, true
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) <= MaxArgsBytes {
		return out, false
	}
	head := out[:MaxArgsBytes]
	for len(head) > 0 && !utf8.Valid(head) {
		head = head[:len(head)-1]
	}
	s, err := json.Marshal(string(head) + CutMarker)
	if err != nil {
		return nil, true
	}
	return s, true
}

func isSecret(s string, secrets Secrets) bool {
	return secrets != nil && s != "" && secrets.Contains(s)
}

func maskValue(v any, secrets Secrets, depth int) any {
	if depth > maxArgsDepth {
		return Masked
	}
	switch x := v.(type) {
	case string:
		if isSecret(x, secrets) {
			return Masked
		}
		return x
	case json.Number:
		if isSecret(x.String(), secrets) {
			return Masked
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = maskValue(e, secrets, depth+1)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		n := 0
		for k, e := range x {
			if isSecret(k, secrets) {
				n++
				k = Masked + strings.Repeat("*", n-1) // keys stay distinct
			}
			if SecretKeyName(k) {
				if e != nil {
					e = Masked
				}
			} else {
				e = maskValue(e, secrets, depth+1)
			}
			out[k] = e
		}
		return out
	}
	return v
}

// maskFast is MaskArgs for the common case, without decoding: JSON with no
// escapes (so every key, string and number is in raw as it is), no word
// of a secret key anywhere and no secret anywhere in the text has nothing
// to mask, and is written compacted as it came. ok is false when it is
// not that case (or not valid JSON, or too long): the full walk decides.
func maskFast(raw []byte, secrets Secrets) ([]byte, bool) {
	if len(raw) > MaxArgsBytes || bytes.IndexByte(raw, '\\') >= 0 || !json.Valid(raw) {
		return nil, false
	}
	text := string(raw)
	if SecretKeyName(text) || isSecret(text, secrets) {
		return nil, false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, false
	}
	return b.Bytes(), true
}
