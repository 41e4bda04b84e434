// This file holds the operations that move the vault's master key out of
// the key file Plexus generated: into the OS keyring, or behind a
// passphrase.

package adminops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// KeyMover is the part of the vault that moves its master key;
// *vault.Vault satisfies it. A Store without it cannot move keys
// (ErrUnsupported).
type KeyMover interface {
	KeyInfo() vault.KeyInfo
	KeyringAvailable() bool
	MoveKeyToKeyring(ctx context.Context) (vault.KeyMove, error)
	ProtectWithPassphrase(ctx context.Context, passphrase string) (vault.KeyMove, error)
}

// keyringProbeTTL is how long an answer of KeyringAvailable is reused (a
// locked keyring may take seconds to answer).
const keyringProbeTTL = 30 * time.Second

// maxPassphraseRunes bounds a new passphrase.
const maxPassphraseRunes = 1024

// keyringProbe caches whether the OS keyring answers.
type keyringProbe struct {
	mu  sync.Mutex
	at  time.Time
	yes bool
}

func (p *keyringProbe) available(now time.Time, probe func() bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() || now.Sub(p.at) > keyringProbeTTL || now.Before(p.at) {
		p.yes, p.at = probe(), now
	}
	return p.yes
}

func (s *Service) keyMover() (KeyMover, error) {
	km, ok := s.store.(KeyMover)
	if !ok {
		return nil, unsupported("this server cannot move its master key")
	}
	return km, nil
}

// KeyPlace says where the master key is kept and whether (and where) it
// can move: only a key in the generated key file moves, into the OS
// keyring when one answers here (asked at most every 30 seconds), or
// behind a passphrase.
func (s *Service) KeyPlace(ctx context.Context) (apiv1.KeyPlace, error) {
	if err := ctx.Err(); err != nil {
		return apiv1.KeyPlace{}, err
	}
	km, err := s.keyMover()
	if err != nil {
		return apiv1.KeyPlace{}, err
	}
	ki := km.KeyInfo()
	kp := apiv1.KeyPlace{KeyInfo: keyView(ki), Generated: ki.Generated,
		CanMove: ki.Source == vault.KeySourceFile && ki.Generated}
	if kp.CanMove {
		kp.KeyringAvailable = s.keyring.available(s.now(), km.KeyringAvailable)
	}
	return kp, nil
}

// MoveKeyToKeyring moves the generated key file's key into the OS
// keyring (the key is the same; the key file is removed once the keyring
// works). A keyring that cannot take it leaves everything as it was: the
// error matches vault.ErrKeyringUnavailable.
func (s *Service) MoveKeyToKeyring(ctx context.Context) (apiv1.KeyMoved, error) {
	km, err := s.movable(ctx)
	if err != nil {
		return apiv1.KeyMoved{}, err
	}
	m, err := km.MoveKeyToKeyring(ctx)
	if err != nil {
		if errors.Is(err, vault.ErrKeyringUnavailable) {
			s.keyring.mu.Lock()
			s.keyring.at = time.Time{} // ask again next time
			s.keyring.mu.Unlock()
			return apiv1.KeyMoved{}, err
		}
		return apiv1.KeyMoved{}, wrapf(err, "move the master key to the keyring")
	}
	s.log.InfoContext(ctx, "Master key moved to the OS keyring through the admin operations")
	return movedView(m), nil
}

// ProtectWithPassphrase moves the generated key file's key behind a
// passphrase, typed twice (Confirm): *apiv1.FieldError for "passphrase"
// (empty, shorter than vault.MinPassphraseLen, too long) or "confirm"
// (differs). Errors never contain the passphrase.
func (s *Service) ProtectWithPassphrase(ctx context.Context, req apiv1.ProtectRequest) (apiv1.KeyMoved, error) {
	n := utf8.RuneCountInString(req.Passphrase)
	switch {
	case req.Passphrase == "":
		return apiv1.KeyMoved{}, fieldErr("passphrase", "passphrase: required")
	case !utf8.ValidString(req.Passphrase):
		return apiv1.KeyMoved{}, fieldErr("passphrase", "passphrase: not valid UTF-8")
	case n > maxPassphraseRunes:
		return apiv1.KeyMoved{}, fieldErr("passphrase", "passphrase: at most %d characters", maxPassphraseRunes)
	case n < vault.MinPassphraseLen:
		return apiv1.KeyMoved{}, fieldErr("passphrase", "passphrase: at least %d characters, got %d", vault.MinPassphraseLen, n)
	case req.Confirm != req.Passphrase:
		return apiv1.KeyMoved{}, fieldErr("confirm", "confirm: the two passphrases differ")
	}
	km, err := s.movable(ctx)
	if err != nil {
		return apiv1.KeyMoved{}, err
	}
	m, err := km.ProtectWithPassphrase(ctx, req.Passphrase)
	if err != nil {
		return apiv1.KeyMoved{}, asField("passphrase", wrapf(err, "protect the master key with a passphrase"))
	}
	s.log.InfoContext(ctx, "Master key protected with a passphrase through the admin operations")
	return movedView(m), nil
}

// movable refuses a move of anything but the generated key file's key.
func (s *Service) movable(ctx context.Context) (KeyMover, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	km, err := s.keyMover()
	if err != nil {
		return nil, err
	}
	ki := km.KeyInfo()
	if ki.Source != vault.KeySourceFile || !ki.Generated {
		return nil, &reasonError{msg: fmt.Sprintf("the master key is kept in the %s, not in the key file Plexus generated; nothing to move", ki.Source),
			kind: vault.ErrInvalid}
	}
	return km, nil
}

func movedView(m vault.KeyMove) apiv1.KeyMoved {
	return apiv1.KeyMoved{Source: string(m.To), RemovedFile: m.RemovedFile, LeftFile: m.LeftFile}
}
