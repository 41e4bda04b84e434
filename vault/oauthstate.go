package vault

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	minStateLen    = 16
	maxStateLen    = 128
	maxVerifierLen = 128 // RFC 7636: 43-128 characters
	maxToolLen     = 128
	maxClientLen   = 128
)

// Pending OAuth flows live in bucket oauth_states under the SHA-256 of
// their secret, never the secret itself: a consent link's id under
// 'c'+hash, an authorization's state under 's'+hash. Both kinds share one
// record type, so sweeping and tenant deletion treat them alike.
const (
	flowConsent byte = 'c'
	flowState   byte = 's'
)

func flowKey(kind byte, secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return append([]byte{kind}, h[:]...)
}

func oauthStateAAD(state string) string { return "oauth-state|" + state }

// A guest's session id is the guest's identity (a credential), so a flow
// record keeps it sealed, never in the clear, under these AADs.
func stateSessionAAD(state string) string { return "oauth-state-session|" + state }
func consentSessionAAD(id string) string  { return "oauth-consent-session|" + id }

// sealSession moves r's session id into SealedSession.
func (v *Vault) sealSession(aad string, r *oauthStateRecord) error {
	if r.SessionID == "" {
		return nil
	}
	sealed, err := v.Seal(aad, []byte(r.SessionID))
	if err != nil {
		return err
	}
	r.SealedSession, r.SessionID = sealed, ""
	return nil
}

// openSession puts r's sealed session id back into SessionID.
func (v *Vault) openSession(aad string, r *oauthStateRecord) error {
	if len(r.SealedSession) == 0 {
		return nil
	}
	sid, err := v.Unseal(aad, r.SealedSession)
	if err != nil {
		return fmt.Errorf("oauth flow of tenant %q: session: %w", r.TenantID, err)
	}
	r.SessionID, r.SealedSession = string(sid), nil
	return nil
}

// oauthStateRecord is the stored form of a pending flow: the public fields
// of a state (or consent), the sealed PKCE verifier (states), the hash of
// the browser binding (states), and what a consent page shows (consents).
type oauthStateRecord struct {
	OAuthState
	SealedVerifier []byte `json:"verifier_sealed,omitempty"`
	SealedSession  []byte `json:"session_sealed,omitempty"` // a guest's session id (SessionID stays empty)
	BrowserHash    []byte `json:"browser_sha256,omitempty"`
	Tool           string `json:"tool,omitempty"` // the record's, not OAuthState.Tool (a deeper "tool" is ignored by encoding/json)
	Client         string `json:"client,omitempty"`
}

func (s OAuthState) expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// validStateString checks a state parameter or consent id: 16-128
// printable ASCII characters without spaces. The value is never echoed.
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

// checkFlowOwner checks the fields states and consents share.
func checkFlowOwner(tenantID, userID, sessionID, provider string, expires time.Time) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := ValidateProviderName(provider); err != nil {
		return err
	}
	if userID != "" {
		if err := validID("user id", userID, maxHostUserIDLen); err != nil {
			return err
		}
	}
	if sessionID != "" {
		if err := validID("session id", sessionID, maxSessionIDLen); err != nil {
			return err
		}
	}
	if userID == "" && sessionID == "" {
		return invalidf("oauth state: needs a user id or (for a guest) a session id")
	}
	if expires.IsZero() {
		return invalidf("oauth state: expires at must be set")
	}
	return nil
}

func checkOAuthState(s OAuthState) (OAuthState, error) {
	if err := validStateString(s.State); err != nil {
		return s, err
	}
	if err := checkFlowOwner(s.TenantID, s.UserID, s.SessionID, s.Provider, s.ExpiresAt); err != nil {
		return s, err
	}
	if len(s.Verifier) > maxVerifierLen {
		return s, invalidf("oauth state: pkce verifier at most %d characters", maxVerifierLen)
	}
	if len(s.Browser) < minStateLen {
		return s, invalidf("oauth state: a browser binding of at least %d characters is required", minStateLen)
	}
	if err := validText("oauth state: provider binding", s.ProviderBinding, 128); err != nil {
		return s, err
	}
	if err := validText("oauth state: tool", s.Tool, maxToolLen); err != nil {
		return s, err
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

// putFlow stores a new pending flow record under key (ErrExists if taken);
// the tenant (and the user, if set) must exist (ErrNotFound).
func (v *Vault) putFlow(key []byte, r oauthStateRecord) error {
	return v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, r.TenantID); err != nil {
			return err
		}
		if r.UserID != "" {
			if _, err := getUser(tx, r.TenantID, r.UserID); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketOAuthStates)
		if b.Get(key) != nil {
			return fmt.Errorf("oauth state: %w", ErrExists)
		}
		return putJSON(b, key, r)
	})
}

// PutOAuthState stores a pending authorization; the state string must be
// unguessable (the caller makes it) and unused (ErrExists). Rules
// (ErrInvalid): state 16-128 printable ASCII characters, valid tenant and
// provider names, a user id or a session id, a Browser binding of at
// least 16 characters, ExpiresAt set; a zero CreatedAt is set to the
// vault's clock. The tenant (and the user, if set) must exist
// (ErrNotFound). The state and the browser binding are stored as SHA-256
// hashes only; the PKCE verifier is sealed with AAD "oauth-state|<state>",
// so it opens only for whoever presents the state.
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
	bh := sha256.Sum256([]byte(s.Browser))
	r := oauthStateRecord{OAuthState: s, SealedVerifier: sealed, BrowserHash: bh[:], Tool: s.Tool}
	if err := v.sealSession(stateSessionAAD(s.State), &r); err != nil {
		return err
	}
	return v.putFlow(flowKey(flowState, s.State), r)
}

// TakeOAuthState consumes a state presented with the browser binding it
// was made for. The hashes of the binding are compared in constant time;
// a missing or wrong binding gets ErrBrowserMismatch and leaves the state
// in place (so a request from another browser cannot spend it). Otherwise
// the state is deleted whatever the outcome, so a replay gets ErrNotFound;
// an expired one gets ErrExpired. The read and the delete are one
// transaction, so two concurrent takes never both succeed. A malformed
// state string cannot exist and gets ErrNotFound. Errors never contain the
// state string.
func (v *Vault) TakeOAuthState(ctx context.Context, state, browser string) (OAuthState, error) {
	if err := ctx.Err(); err != nil {
		return OAuthState{}, err
	}
	if validStateString(state) != nil {
		return OAuthState{}, fmt.Errorf("oauth state: malformed: %w", ErrNotFound)
	}
	bh := sha256.Sum256([]byte(browser))
	var r oauthStateRecord
	err := v.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOAuthStates)
		key := flowKey(flowState, state)
		found, err := getJSON(b, key, &r)
		if !found && err == nil {
			return fmt.Errorf("oauth state: unknown or already used: %w", ErrNotFound)
		}
		if err == nil && !r.expired(v.now()) && subtle.ConstantTimeCompare(bh[:], r.BrowserHash) != 1 {
			return fmt.Errorf("oauth state of tenant %q: %w", r.TenantID, ErrBrowserMismatch)
		}
		if derr := b.Delete(key); derr != nil {
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
	if err := v.openSession(stateSessionAAD(state), &r); err != nil {
		return OAuthState{}, err
	}
	s := r.OAuthState
	s.State = state
	s.Tool = r.Tool
	s.Verifier = string(verifier)
	return s, nil
}

// PutOAuthConsent stores a pending consent link; its id must be
// unguessable (the caller makes it) and unused (ErrExists). Rules
// (ErrInvalid) are PutOAuthState's for the id, owner, provider and expiry;
// Tool and Client are short free text. The tenant (and the user, if set)
// must exist (ErrNotFound). The id is stored as its SHA-256 only.
func (v *Vault) PutOAuthConsent(ctx context.Context, c OAuthConsent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validStateString(c.ID); err != nil {
		return err
	}
	if err := checkFlowOwner(c.TenantID, c.UserID, c.SessionID, c.Provider, c.ExpiresAt); err != nil {
		return err
	}
	if err := validText("consent tool", c.Tool, maxToolLen); err != nil {
		return err
	}
	if err := validText("consent client", c.Client, maxClientLen); err != nil {
		return err
	}
	scopes, err := cleanScopes(c.Scopes)
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		scopes = nil
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = v.nowUTC()
	}
	r := oauthStateRecord{
		OAuthState: OAuthState{
			TenantID: c.TenantID, UserID: c.UserID, SessionID: c.SessionID, Provider: c.Provider,
			Scopes: scopes, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt,
		},
		Tool: c.Tool, Client: c.Client,
	}
	if err := v.sealSession(consentSessionAAD(c.ID), &r); err != nil {
		return err
	}
	return v.putFlow(flowKey(flowConsent, c.ID), r)
}

func (r oauthStateRecord) consent(id string) OAuthConsent {
	return OAuthConsent{
		ID: id, TenantID: r.TenantID, UserID: r.UserID, SessionID: r.SessionID, Provider: r.Provider,
		Scopes: r.Scopes, Tool: r.Tool, Client: r.Client, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
	}
}

// GetOAuthConsent returns a pending consent link without consuming it
// (ErrNotFound if unknown or used, ErrExpired if past its expiry).
func (v *Vault) GetOAuthConsent(ctx context.Context, id string) (OAuthConsent, error) {
	return v.readConsent(ctx, id, false)
}

// TakeOAuthConsent consumes a consent link: it is deleted whatever the
// outcome (a replay gets ErrNotFound, an expired one ErrExpired), in one
// transaction, so two concurrent takes never both succeed.
func (v *Vault) TakeOAuthConsent(ctx context.Context, id string) (OAuthConsent, error) {
	return v.readConsent(ctx, id, true)
}

// readConsent reads a consent link, deleting it in the same transaction
// when take is set.
func (v *Vault) readConsent(ctx context.Context, id string, take bool) (OAuthConsent, error) {
	if err := ctx.Err(); err != nil {
		return OAuthConsent{}, err
	}
	if validStateString(id) != nil {
		return OAuthConsent{}, fmt.Errorf("consent link: malformed: %w", ErrNotFound)
	}
	var r oauthStateRecord
	read := func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOAuthStates)
		key := flowKey(flowConsent, id)
		found, err := getJSON(b, key, &r)
		if !found && err == nil {
			return fmt.Errorf("consent link: unknown or already used: %w", ErrNotFound)
		}
		if take {
			if derr := b.Delete(key); derr != nil {
				return derr
			}
		}
		return err
	}
	var err error
	if take {
		err = v.db.Update(read)
	} else {
		err = v.db.View(read)
	}
	if err != nil {
		return OAuthConsent{}, err
	}
	if r.expired(v.now()) {
		return OAuthConsent{}, fmt.Errorf("consent link of tenant %q, provider %q: %w", r.TenantID, r.Provider, ErrExpired)
	}
	if err := v.openSession(consentSessionAAD(id), &r); err != nil {
		return OAuthConsent{}, err
	}
	return r.consent(id), nil
}

// SweepOAuthStates removes every OAuth state and consent link expired at
// now and returns how many it removed. SweepSessions calls it too, so the
// daemon's session sweeper keeps the states bucket small.
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

// deleteOAuthStatesWhere removes the states and consent links for which
// match is true. A record that does not decode is removed as well (a
// state is worthless without its record).
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
