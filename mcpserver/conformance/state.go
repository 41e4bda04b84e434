package conformance

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errBadState is returned for a requestState that is malformed, was sealed
// for another fixture, or fails its integrity check.
var errBadState = errors.New("requestState failed its integrity check")

// b64 encodes requestState's parts. Strict, so that each part has exactly
// one encoding: a token that differs only in the unused bits of its last
// character does not verify.
var b64 = base64.RawURLEncoding.Strict()

// maxStateLen bounds the requestState a client may echo back.
const maxStateLen = 1024

// roundState is what a multi round-trip fixture carries from one round to
// the next in its requestState.
type roundState struct {
	Round int    `json:"round"`
	Name  string `json:"name,omitempty"`
}

// stateSealer seals requestState with HMAC-SHA256 under a key made when the
// fixtures are registered, so a client can echo the state back but not forge
// or alter it (SEP-2322: servers MUST verify state they rely on). The state
// is bound to the fixture that issued it.
type stateSealer struct{ key []byte }

func newStateSealer() *stateSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never returns an error
	return &stateSealer{key: key}
}

// seal returns the opaque requestState for st issued by fixture.
func (s *stateSealer) seal(fixture string, st roundState) string {
	body, _ := json.Marshal(st) // a struct of an int and a string always marshals
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(s.mac(fixture, payload))
}

// open verifies token as a requestState issued by fixture and returns it.
func (s *stateSealer) open(fixture, token string) (roundState, error) {
	if token == "" {
		return roundState{}, fmt.Errorf("%w: requestState is missing", errBadState)
	}
	if len(token) > maxStateLen {
		return roundState{}, fmt.Errorf("%w: requestState is longer than %d bytes", errBadState, maxStateLen)
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return roundState{}, fmt.Errorf("%w: requestState is not payload.signature", errBadState)
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(fixture, payload)) {
		return roundState{}, fmt.Errorf("%w: signature does not match", errBadState)
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return roundState{}, fmt.Errorf("%w: payload is not base64url: %w", errBadState, err)
	}
	var st roundState
	if err := json.Unmarshal(body, &st); err != nil {
		return roundState{}, fmt.Errorf("%w: payload is not a round state: %w", errBadState, err)
	}
	return st, nil
}

func (s *stateSealer) mac(fixture, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(fixture))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}
