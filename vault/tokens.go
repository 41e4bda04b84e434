package vault

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	// TokenPrefix starts every user token Plexus issues.
	TokenPrefix    = "plx_"
	tokenIDLen     = 12
	maxTokenLen    = 512
	maxIDAttempts  = 8
	maxTokenIDSize = 64
)

// IssueToken creates a new random user token (ttl 0 = no expiry) and stores
// only its SHA-256. The returned token string is shown to the caller once.
// Earlier tokens of the user stay valid until revoked or expired. The
// local owner gets no user tokens (ErrInvalid): it is reachable only
// through the daemon's local token.
func (v *Vault) IssueToken(ctx context.Context, tenantID, userID string, ttl time.Duration) (token string, info TokenInfo, err error) {
	if err := ctx.Err(); err != nil {
		return "", TokenInfo{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return "", TokenInfo{}, err
	}
	if err := validID("user id", userID, maxHostUserIDLen); err != nil {
		return "", TokenInfo{}, err
	}
	if ttl < 0 {
		return "", TokenInfo{}, invalidf("token ttl: must not be negative")
	}
	err = v.db.Update(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		u, err := getUser(tx, tenantID, userID)
		if err != nil {
			return err
		}
		if u.HostUserID == LocalOwnerHostUserID {
			return errLocalOwnerToken(tenantID)
		}
		tokens, ids := tx.Bucket(bucketTokens), tx.Bucket(bucketTokenIDs)
		for range maxIDAttempts {
			var raw [32]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return fmt.Errorf("random token: %w", err)
			}
			tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
			h := sha256Hex(tok)
			idKey := scoped(tenantID, h[:tokenIDLen])
			if tokens.Get([]byte(h)) != nil || ids.Get(idKey) != nil {
				continue // astronomically unlikely; draw again
			}
			now := v.nowUTC()
			info = TokenInfo{ID: h[:tokenIDLen], TenantID: tenantID, UserID: userID, CreatedAt: now}
			if ttl > 0 {
				info.ExpiresAt = now.Add(ttl)
			}
			if err := putJSON(tokens, []byte(h), info); err != nil {
				return err
			}
			token = tok
			return ids.Put(idKey, []byte(h))
		}
		return fmt.Errorf("issue token: no free token id after %d attempts", maxIDAttempts)
	})
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, info, nil
}

// errLocalOwnerToken refuses a user token for the local owner.
func errLocalOwnerToken(tenantID string) error {
	return invalidf("user %q of tenant %q is the local owner: it is reachable only through the local token, never a user token",
		LocalOwnerHostUserID, tenantID)
}

// ResolveToken finds a token by its value: ErrNotFound, ErrTokenExpired or
// ErrTokenRevoked when it cannot be used. A token whose user no longer
// exists is ErrNotFound; a token of the local owner (issued by a Plexus
// that let a host application register the local owner's id) is
// ErrTokenRevoked.
func (v *Vault) ResolveToken(ctx context.Context, token string) (TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return TokenInfo{}, err
	}
	if token == "" || len(token) > maxTokenLen {
		return TokenInfo{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	var info TokenInfo
	err := v.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketTokens), []byte(sha256Hex(token)), &info)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("token: %w", ErrNotFound)
		}
		u, err := getUser(tx, info.TenantID, info.UserID)
		if err != nil {
			return fmt.Errorf("token %s: %w", info.ID, err)
		}
		if u.HostUserID == LocalOwnerHostUserID {
			info.Revoked = true
		}
		return nil
	})
	if err != nil {
		return TokenInfo{}, err
	}
	switch {
	case info.Revoked:
		return TokenInfo{}, fmt.Errorf("token %s: %w", info.ID, ErrTokenRevoked)
	case !info.ExpiresAt.IsZero() && !v.now().Before(info.ExpiresAt):
		return TokenInfo{}, fmt.Errorf("token %s: %w", info.ID, ErrTokenExpired)
	}
	return info, nil
}

// RevokeToken marks a token revoked by its id. Revoking a revoked token is
// not an error. Subscribers are told (TokenRevoked) before it returns, so
// the token fails on the very next request.
func (v *Vault) RevokeToken(ctx context.Context, tenantID, tokenID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := validID("token id", tokenID, maxTokenIDSize); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		h := tx.Bucket(bucketTokenIDs).Get(scoped(tenantID, tokenID))
		if h == nil {
			return fmt.Errorf("token %q of tenant %q: %w", tokenID, tenantID, ErrNotFound)
		}
		h = append([]byte(nil), h...)
		tokens := tx.Bucket(bucketTokens)
		var info TokenInfo
		found, err := getJSON(tokens, h, &info)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("token %q of tenant %q: %w", tokenID, tenantID, ErrNotFound)
		}
		// Announced even when already revoked: a cache that missed the
		// first announcement drops the token now.
		announce(Change{Kind: TokenRevoked, TenantID: tenantID, UserID: info.UserID, TokenID: info.ID})
		if info.Revoked {
			return nil
		}
		info.Revoked = true
		return putJSON(tokens, h, info)
	})
}

// ListTokens lists a tenant's tokens (userID "" = all users), oldest first.
func (v *Vault) ListTokens(ctx context.Context, tenantID, userID string) ([]TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []TokenInfo{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		tokens := tx.Bucket(bucketTokens)
		return forPrefix(tx.Bucket(bucketTokenIDs), scoped(tenantID, ""), func(_, h []byte) error {
			var info TokenInfo
			found, err := getJSON(tokens, h, &info)
			if err != nil || !found {
				return err
			}
			if userID == "" || info.UserID == userID {
				out = append(out, info)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
