package vault

// TOTP gates (issue 11): a tenant may lock a tool set behind a one-time
// code from the user's authenticator app. The vault keeps each gate's
// settings, its TOTP secret (sealed, AAD "gate|tenant|tool set"), the last
// time step a code was accepted at (so a code is never accepted twice)
// and the wrong-code counter with its cooling-off, so that a restart
// resets neither. Which MCP session unlocked a gate is not the vault's
// business (package mcpserver keeps it in memory).
//
// The vault never checks a code itself: CheckGateCode hands the opened
// secret to the caller's verify function and records the outcome in the
// same transaction.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Gate limits and defaults.
const (
	// GateSecretLen is the length of a gate's TOTP secret (160 bits, as
	// RFC 4226 recommends).
	GateSecretLen = 20
	// MaxGateFailures wrong codes in a row start the cooling-off.
	MaxGateFailures = 5
	// DefaultGateUnlockFor is how long an unlock lasts by default.
	DefaultGateUnlockFor = 15 * time.Minute
	// DefaultGateCoolOff is how long a gate refuses every code after
	// MaxGateFailures wrong ones, by default.
	DefaultGateCoolOff = 15 * time.Minute
	// MinGateDuration and MaxGateDuration bound both durations.
	MinGateDuration = time.Minute
	MaxGateDuration = 24 * time.Hour
	maxToolSetLen   = 256
)

// ErrGateCoolingOff is returned by CheckGateCode while a gate refuses
// every code after too many wrong ones; the GateAttempt says until when.
var ErrGateCoolingOff = errors.New("gate is cooling off after too many wrong codes")

// Gate is a tenant's TOTP gate on one tool set, without its secret.
type Gate struct {
	TenantID string `json:"entity_id"`
	ToolSet  string `json:"tool_set"`
	// UnlockFor is how long a session's unlock lasts.
	UnlockFor time.Duration `json:"unlock_for"`
	// CoolOff is how long the gate refuses every code after
	// MaxGateFailures wrong ones.
	CoolOff time.Duration `json:"cool_off"`
	// Failures counts wrong codes since the last right one (or the last
	// cooling-off).
	Failures int `json:"failures"`
	// CoolingUntil is the end of the current cooling-off (zero: none).
	CoolingUntil time.Time `json:"cooling_until,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// EnrolledAt is when the current secret was made.
	EnrolledAt time.Time `json:"enrolled_at"`
}

// gateRecord is a gate as stored.
type gateRecord struct {
	Gate
	Sealed []byte `json:"sealed"`
	// LastStep is the TOTP time step of the last accepted code.
	LastStep int64 `json:"last_step,omitempty"`
}

// toolSearchRecord is a tenant's tool-search switch as stored.
type toolSearchRecord struct {
	Enabled bool `json:"enabled"`
}

func gateAAD(tenantID, toolSet string) string { return "gate|" + tenantID + "|" + toolSet }

// ValidateToolSetName checks a gate's tool set name: non-empty text
// without control characters or spaces at either end, at most 256 bytes.
func ValidateToolSetName(name string) error {
	if err := validID("tool set", name, maxToolSetLen); err != nil {
		return err
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return invalidf("tool set %q: must not start or end with a space", clip(name))
	}
	return nil
}

func checkGateKey(tenantID, toolSet string) error {
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	return ValidateToolSetName(toolSet)
}

// gateDurations applies the defaults and bounds to a gate's durations.
func gateDurations(g *Gate) error {
	if g.UnlockFor == 0 {
		g.UnlockFor = DefaultGateUnlockFor
	}
	if g.CoolOff == 0 {
		g.CoolOff = DefaultGateCoolOff
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"unlock_for", g.UnlockFor}, {"cool_off", g.CoolOff}} {
		if d.v < MinGateDuration || d.v > MaxGateDuration {
			return invalidf("%s: between %s and %s (or 0 for the default)", d.name, MinGateDuration, MaxGateDuration)
		}
	}
	return nil
}

func getGate(tx *bolt.Tx, tenantID, toolSet string) (gateRecord, error) {
	var r gateRecord
	found, err := getJSON(tx.Bucket(bucketGates), scoped(tenantID, toolSet), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("gate on tool set %q of tenant %q: %w", clip(toolSet), tenantID, ErrNotFound)
	}
	return r, nil
}

// newGateSecret makes a TOTP secret and seals it for the gate.
func (v *Vault) newGateSecret(tenantID, toolSet string) (secret, sealed []byte, err error) {
	secret = make([]byte, GateSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, fmt.Errorf("gate secret: %w", err)
	}
	sealed, err = v.Seal(gateAAD(tenantID, toolSet), secret)
	if err != nil {
		return nil, nil, err
	}
	return secret, sealed, nil
}

// CreateGate puts a TOTP gate on one of a tenant's tool sets and returns
// it with its new secret. The secret is returned only here (and by
// EnrollGate): show it to the user once, as a QR code or otpauth URI.
// Zero durations take the defaults (ErrInvalid outside 1m-24h; ErrExists;
// ErrNotFound for an unknown tenant). Subscribers are told (GateChanged).
func (v *Vault) CreateGate(ctx context.Context, g Gate) (Gate, []byte, error) {
	if err := ctx.Err(); err != nil {
		return Gate{}, nil, err
	}
	if err := checkGateKey(g.TenantID, g.ToolSet); err != nil {
		return Gate{}, nil, err
	}
	if err := gateDurations(&g); err != nil {
		return Gate{}, nil, err
	}
	secret, sealed, err := v.newGateSecret(g.TenantID, g.ToolSet)
	if err != nil {
		return Gate{}, nil, err
	}
	now := v.nowUTC()
	g = Gate{TenantID: g.TenantID, ToolSet: g.ToolSet, UnlockFor: g.UnlockFor, CoolOff: g.CoolOff,
		CreatedAt: now, UpdatedAt: now, EnrolledAt: now}
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, g.TenantID); err != nil {
			return err
		}
		b := tx.Bucket(bucketGates)
		key := scoped(g.TenantID, g.ToolSet)
		if b.Get(key) != nil {
			return fmt.Errorf("gate on tool set %q of tenant %q: %w", clip(g.ToolSet), g.TenantID, ErrExists)
		}
		announce(Change{Kind: GateChanged, TenantID: g.TenantID, ToolSet: g.ToolSet})
		return putJSON(b, key, gateRecord{Gate: g, Sealed: sealed})
	})
	if err != nil {
		return Gate{}, nil, err
	}
	return g, secret, nil
}

// EnrollGate gives a gate a new secret (the old one stops working) and
// returns it; show it once. The wrong-code counter and a running
// cooling-off are kept. Subscribers are told (GateChanged): every
// session's unlock of the gate ends.
func (v *Vault) EnrollGate(ctx context.Context, tenantID, toolSet string) (Gate, []byte, error) {
	if err := ctx.Err(); err != nil {
		return Gate{}, nil, err
	}
	if err := checkGateKey(tenantID, toolSet); err != nil {
		return Gate{}, nil, err
	}
	secret, sealed, err := v.newGateSecret(tenantID, toolSet)
	if err != nil {
		return Gate{}, nil, err
	}
	var g Gate
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		r, err := getGate(tx, tenantID, toolSet)
		if err != nil {
			return err
		}
		now := v.nowUTC()
		r.Sealed, r.LastStep, r.UpdatedAt, r.EnrolledAt = sealed, 0, now, now
		g = r.Gate
		announce(Change{Kind: GateChanged, TenantID: tenantID, ToolSet: toolSet})
		return putJSON(tx.Bucket(bucketGates), scoped(tenantID, toolSet), r)
	})
	if err != nil {
		return Gate{}, nil, err
	}
	return g, secret, nil
}

// UpdateGate changes a gate's durations (zero: the default; ErrInvalid
// outside 1m-24h; ErrNotFound). Subscribers are told (GateChanged).
func (v *Vault) UpdateGate(ctx context.Context, tenantID, toolSet string, unlockFor, coolOff time.Duration) (Gate, error) {
	if err := ctx.Err(); err != nil {
		return Gate{}, err
	}
	if err := checkGateKey(tenantID, toolSet); err != nil {
		return Gate{}, err
	}
	d := Gate{UnlockFor: unlockFor, CoolOff: coolOff}
	if err := gateDurations(&d); err != nil {
		return Gate{}, err
	}
	var g Gate
	err := v.update(func(tx *bolt.Tx, announce func(Change)) error {
		r, err := getGate(tx, tenantID, toolSet)
		if err != nil {
			return err
		}
		r.UnlockFor, r.CoolOff, r.UpdatedAt = d.UnlockFor, d.CoolOff, v.nowUTC()
		g = r.Gate
		announce(Change{Kind: GateChanged, TenantID: tenantID, ToolSet: toolSet})
		return putJSON(tx.Bucket(bucketGates), scoped(tenantID, toolSet), r)
	})
	return g, err
}

// GetGate returns one gate, without its secret (ErrNotFound).
func (v *Vault) GetGate(ctx context.Context, tenantID, toolSet string) (Gate, error) {
	if err := ctx.Err(); err != nil {
		return Gate{}, err
	}
	if err := checkGateKey(tenantID, toolSet); err != nil {
		return Gate{}, err
	}
	var g Gate
	err := v.db.View(func(tx *bolt.Tx) error {
		r, err := getGate(tx, tenantID, toolSet)
		g = r.Gate
		return err
	})
	return g, err
}

// ListGates returns a tenant's gates sorted by tool set, without secrets
// (ErrNotFound if the tenant does not exist).
func (v *Vault) ListGates(ctx context.Context, tenantID string) ([]Gate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []Gate{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketGates), scoped(tenantID, ""), func(k, raw []byte) error {
			var r gateRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode gate %q: %w", clip(string(k)), err)
			}
			out = append(out, r.Gate)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteGate removes a gate and its secret (ErrNotFound). Subscribers are
// told (GateChanged with GateDeleted): the tool set is no longer locked.
func (v *Vault) DeleteGate(ctx context.Context, tenantID, toolSet string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkGateKey(tenantID, toolSet); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getGate(tx, tenantID, toolSet); err != nil {
			return err
		}
		announce(Change{Kind: GateChanged, TenantID: tenantID, ToolSet: toolSet, GateDeleted: true})
		return tx.Bucket(bucketGates).Delete(scoped(tenantID, toolSet))
	})
}

// GateVerifier checks a code against a gate's secret. lastStep is the
// time step of the last code the gate accepted (0: none); it returns the
// step the code matched, which must be later than lastStep (a code is
// never accepted twice), and whether it matched. It must not keep secret.
type GateVerifier func(secret []byte, lastStep int64) (step int64, ok bool)

// GateAttempt is the outcome of CheckGateCode.
type GateAttempt struct {
	OK bool
	// Gate is the gate after the attempt (its counter and cooling-off).
	Gate Gate
}

// CheckGateCode opens the gate's secret and asks verify whether the code
// it was given matches, in one write transaction: a right code resets the
// wrong-code counter and records its time step (so it cannot be used
// again); a wrong one counts, and the MaxGateFailures-th starts a
// cooling-off of the gate's CoolOff, which survives restarts. While the
// gate cools off, verify is not called and the error is
// ErrGateCoolingOff (the GateAttempt says until when). ErrNotFound for no
// such gate.
func (v *Vault) CheckGateCode(ctx context.Context, tenantID, toolSet string, verify GateVerifier) (GateAttempt, error) {
	if err := ctx.Err(); err != nil {
		return GateAttempt{}, err
	}
	if err := checkGateKey(tenantID, toolSet); err != nil {
		return GateAttempt{}, err
	}
	if verify == nil {
		return GateAttempt{}, errors.New("check gate code: no verifier")
	}
	var a GateAttempt
	var cooling bool
	err := v.update(func(tx *bolt.Tx, _ func(Change)) error {
		r, err := getGate(tx, tenantID, toolSet)
		if err != nil {
			return err
		}
		now := v.nowUTC()
		if !r.CoolingUntil.IsZero() && now.Before(r.CoolingUntil) {
			a.Gate, cooling = r.Gate, true
			return nil
		}
		r.CoolingUntil = time.Time{}
		secret, err := v.Unseal(gateAAD(tenantID, toolSet), r.Sealed)
		if err != nil {
			return fmt.Errorf("gate on tool set %q of tenant %q: %w", clip(toolSet), tenantID, err)
		}
		step, ok := verify(secret, r.LastStep)
		clear(secret)
		if ok && step > r.LastStep {
			a.OK = true
			r.Failures, r.LastStep = 0, step
		} else {
			r.Failures++
			if r.Failures >= MaxGateFailures {
				r.Failures, r.CoolingUntil = 0, now.Add(r.CoolOff)
			}
		}
		a.Gate = r.Gate
		return putJSON(tx.Bucket(bucketGates), scoped(tenantID, toolSet), r)
	})
	if err != nil {
		return GateAttempt{}, err
	}
	if cooling {
		return a, fmt.Errorf("%w until %s", ErrGateCoolingOff, a.Gate.CoolingUntil.Format(time.RFC3339))
	}
	return a, nil
}

// SetToolSearch turns a tenant's tool search (plexus_search_tools and
// plexus_call_tool) on or off (ErrNotFound for an unknown tenant). It is
// part of the tenant's tool settings: subscribers are told
// (ToolSettingsChanged).
func (v *Vault) SetToolSearch(ctx context.Context, tenantID string, enabled bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		announce(Change{Kind: ToolSettingsChanged, TenantID: tenantID})
		b := tx.Bucket(bucketToolSearch)
		if !enabled {
			return b.Delete([]byte(tenantID))
		}
		return putJSON(b, []byte(tenantID), toolSearchRecord{Enabled: true})
	})
}
