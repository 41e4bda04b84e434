package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	minStateLen    = 16
	maxStateLen    = 128
	maxVerifierLen = 128 // RFC 7636: 43-128 characters
)

func oauthStateAAD(state string) string { return "oauth-state|" + state }

// oauthStateRecord is the stored form of a state: the public fields plus
// the sealed PKCE verifier.
type oauthStateRecord struct {
	OAuthState
	SealedVerifier []byte `json:"verifier_sealed"`
}

func (s OAuthState) expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// validStateString checks a state parameter: 16-128 printable ASCII
// characters without spaces. The value is never echoed.
func validStateString(state string) error {
	if len(state) < minStateLen || len(state) > maxStateLen {
		return invalidf("oauth state: %d-%d characters, got %d", minStateLen, maxStateLen, len(state))
	}
	for i := 0; i < len(state); i++ {
		if c := state[i]; c <= ' ' || c > '~' {
			return invalidf("oauth state: use printable ASCII without spaces")
		}
	}
	return nil
}

func checkOAuthState(s OAuthState) (OAuthState, error) {
	if err := validStateString(s.State); err != nil {
		return s, err
	}
	if err := ValidateTenantID(s.TenantID); err != nil {
		return s, err
	}
	if err := ValidateProviderName(s.Provider); err != nil {
		return s, err
	}
	if s.UserID != "" {
		if err := validID("user id", s.UserID, maxHostUserIDLen); err != nil {
			return s, err
		}
	}
	if s.SessionID != "" {
		if err := validID("session id", s.SessionID, maxSessionIDLen); err != nil {
			return s, err
		}
	}
	if s.UserID == "" && s.SessionID == "" {
		return s, invalidf("oauth state: needs a user id or (for a guest) a session id")
	}
	if len(s.Verifier) > maxVerifierLen {
		return s, invalidf("oauth state: pkce verifier at most %d characters", maxVerifierLen)
	}
	if s.ExpiresAt.IsZero() {
		return s, invalidf("oauth state: expires at must be set")
	}
	var err error
	if s.Scopes, err = cleanScopes(s.Scopes); err != nil {
		return s, err
	}
	if len(s.Scopes) == 0 {
		s.Scopes = nil
	}
	return s, nil
}

// PutOAuthState stores a pending authorization; the state string must be
// unguessable (the caller makes it) and unused (ErrExists). Rules
// (ErrInvalid): state 16-128 printable ASCII characters, valid tenant and
// provider names, a user id or a session id, ExpiresAt set; a zero
// CreatedAt is set to the vault's clock. The tenant (and the user, if set)
// must exist (ErrNotFound). The PKCE verifier is sealed with AAD
// "oauth-state|<state>".
func (v *Vault) PutOAuthState(ctx context.Context, s OAuthState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := checkOAuthState(s)
	if err != nil {
		return err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = v.nowUTC()
	}
	sealed, err := v.Seal(oauthStateAAD(s.State), []byte(s.Verifier))
	if err != nil {
		return err
	}
	r := oauthStateRecord{OAuthState: s, SealedVerifier: sealed}
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, s.TenantID); err != nil {
			return err
		}
		if s.UserID != "" {
			if _, err := getUser(tx, s.TenantID, s.UserID); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketOAuthStates)
		if b.Get([]byte(s.State)) != nil {
			return fmt.Errorf("oauth state: %w", ErrExists)
		}
		return putJSON(b, []byte(s.State), r)
	})
}

// TakeOAuthState consumes a state: it is deleted whatever the outcome, so a
// replay gets ErrNotFound; an expired one gets ErrExpired. The read and the
// delete are one transaction, so two concurrent takes never both succeed.
// A malformed state string cannot exist and gets ErrNotFound. Errors never
// contain the state string.
func (v *Vault) TakeOAuthState(ctx context.Context, state string) (OAuthState, error) {
	if err := ctx.Err(); err != nil {
		return OAuthState{}, err
	}
	if validStateString(state) != nil {
		return OAuthState{}, fmt.Errorf("oauth state: malformed: %w", ErrNotFound)
	}
	var r oauthStateRecord
	err := v.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOAuthStates)
		found, err := getJSON(b, []byte(state), &r)
		if !found && err == nil {
			return fmt.Errorf("oauth state: unknown or already used: %w", ErrNotFound)
		}
		if derr := b.Delete([]byte(state)); derr != nil {
			return derr
		}
		// A record that does not decode is consumed too; report it.
		return err
	})
	if err != nil {
		return OAuthState{}, err
	}
	if r.expired(v.now()) {
		return OAuthState{}, fmt.Errorf("oauth state of tenant %q, provider %q: %w", r.TenantID, r.Provider, ErrExpired)
	}
	verifier, err := v.Unseal(oauthStateAAD(state), r.SealedVerifier)
	if err != nil {
		return OAuthState{}, fmt.Errorf("oauth state of tenant %q: verifier: %w", r.TenantID, err)
	}
	s := r.OAuthState
	s.Verifier = string(verifier)
	return s, nil
}

// SweepOAuthStates removes every OAuth state expired at now and returns
// how many it removed. SweepSessions calls it too, so the daemon's session
// sweeper keeps the states bucket small.
func (v *Vault) SweepOAuthStates(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := v.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = sweepOAuthStates(tx, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func sweepOAuthStates(tx *bolt.Tx, now time.Time) (int, error) {
	return deleteOAuthStatesWhere(tx, func(s OAuthState) bool { return s.expired(now) })
}

// deleteOAuthStatesWhere removes the states for which match is true. A
// record that does not decode is removed as well (a state is worthless
// without its record).
func deleteOAuthStatesWhere(tx *bolt.Tx, match func(OAuthState) bool) (int, error) {
	b := tx.Bucket(bucketOAuthStates)
	var dead [][]byte
	err := b.ForEach(func(k, raw []byte) error {
		var r oauthStateRecord
		if err := json.Unmarshal(raw, &r); err != nil || match(r.OAuthState) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}
