package vault

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// SecretDigest is the SHA-256 of a secret (a token, a host-app secret, an
// admin key): the form in which Plexus keeps and compares secrets. Two
// digests always have the same length, so comparing them in constant time
// tells nothing about the length of the secret either.
type SecretDigest [sha256.Size]byte

// DigestSecret returns the SHA-256 of secret.
func DigestSecret(secret string) SecretDigest { return sha256.Sum256([]byte(secret)) }

// Equal reports, in constant time, whether d and o are the same digest.
// Every secret comparison in Plexus goes through it: compare digests, never
// raw values (subtle.ConstantTimeCompare on raw values returns early when
// the lengths differ, which leaks the length).
func (d SecretDigest) Equal(o SecretDigest) bool {
	return subtle.ConstantTimeCompare(d[:], o[:]) == 1
}

// SecretMatches reports, in constant time, whether presented is want. An
// empty want never matches (an unset secret is not the empty secret).
func SecretMatches(presented, want string) bool {
	if want == "" {
		return false
	}
	return DigestSecret(presented).Equal(DigestSecret(want))
}

// parseDigest reads the hex form the vault stores (sha256Hex); ok is false
// for anything else.
func parseDigest(s string) (d SecretDigest, ok bool) {
	if hex.DecodedLen(len(s)) != len(d) {
		return d, false
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, false
	}
	return d, true
}
