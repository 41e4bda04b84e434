// Package gate holds the TOTP (RFC 6238) side of Plexus's tool gates:
// reading a code a person typed (ParseCode), checking it against a gate's
// secret with one time step of clock skew either way and no reuse of an
// accepted step (Verify), and the otpauth URI an authenticator app enrolls
// from (URI). Codes are six digits, 30-second steps, HMAC-SHA1: what every
// authenticator app reads from a QR code. The codes themselves come from
// github.com/pquerna/otp.
//
// Nothing here logs, and no error carries a code or a secret.
package gate

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step.
	Period = 30 * time.Second
	// Skew is how many steps before and after now a code may be from.
	Skew = 1
	// maxCodeInput bounds what ParseCode reads.
	maxCodeInput = 32
)

// ErrBadCode is returned by ParseCode for input that is not a code.
var ErrBadCode = errors.New("code: want the 6 digits your authenticator app shows")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ParseCode reads a code as a person types it: six ASCII digits, with
// spaces or a "-" between groups allowed ("123 456", "123-456") and
// surrounding space ignored. Anything else is ErrBadCode (which never
// repeats the input).
func ParseCode(s string) (string, error) {
	if len(s) > maxCodeInput {
		return "", ErrBadCode
	}
	var out [Digits]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == Digits {
				return "", ErrBadCode
			}
			out[n] = c
			n++
		case c == ' ' || c == '-' || c == '\t':
		default:
			return "", ErrBadCode
		}
	}
	if n != Digits {
		return "", ErrBadCode
	}
	return string(out[:]), nil
}

// Step is the time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the code of secret at time t (for tests and tools that show one).
func Code(secret []byte, t time.Time) (string, error) {
	return codeAt(secret, Step(t))
}

func codeAt(secret []byte, step int64) (string, error) {
	if step < 0 {
		return "", errors.New("code: time before 1970")
	}
	return hotp.GenerateCodeCustom(b32.EncodeToString(secret), uint64(step), hotpOpts)
}

// Verify checks code (as ParseCode returns it) against secret at time
// now: it matches when it is the code of now's step or of one step
// either side, and that step is later than lastStep (the step of the last
// code accepted, so a code is never accepted twice, nor an older one
// after a newer). It returns the step matched. Every candidate is
// computed and compared in constant time.
func Verify(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if len(code) != Digits || len(secret) == 0 {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		want, err := codeAt(secret, s)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// URI is the otpauth:// URI of secret for an authenticator app: issuer
// and account label the entry ("Plexus", "acme/github").
func URI(issuer, account string, secret []byte) (string, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Secret: secret,
		Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("otpauth URI: %w", err)
	}
	return k.URL(), nil
}

// Secret is secret in base32 without padding, as typed into an
// authenticator app by hand.
func Secret(secret []byte) string { return b32.EncodeToString(secret) }
