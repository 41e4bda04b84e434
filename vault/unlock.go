package vault

// This file holds the locked vault: a vault file held open whose master
// key waits for a passphrase that nobody could type when the daemon
// started (a window, not a terminal, will ask for it).

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// ErrUnlocked is returned by a Locked vault's methods once it was unlocked
// (its file now belongs to the Vault that Unlock returned) or closed.
var ErrUnlocked = errors.New("the locked vault was already unlocked or closed")

// maxUnlockBackoff caps the growth of the wait after wrong passphrases:
// the n-th wrong one in a row waits n times the base delay, at most this
// many times.
const maxUnlockBackoff = 10

// LockOptions says when OpenOrLock may wait for a passphrase instead of
// opening the vault another way.
type LockOptions struct {
	// NewPassphrase makes a new vault for which no key was given and no
	// OS keyring is available wait for a passphrase (Locked.Create) rather
	// than keep a generated key file: the desktop window asks for one.
	NewPassphrase bool
}

// Locked is a vault file held open (its file lock taken, so no other
// process can open it) whose master key waits for a passphrase: an
// existing passphrase vault when PLEXUS_PASSPHRASE does not open it and
// nobody can be asked at a terminal, or (LockOptions.NewPassphrase) a new
// vault with no keyring. Unlock (or, for a new vault, Create or
// UseKeyFile) turns it into a *Vault; until then the file is untouched.
// It is safe for concurrent use: attempts run one at a time.
//
// While locked, the admin UI can still sign people in: a Locked vault
// keeps session keys and single-use login tickets in memory (the same
// methods as a Vault), and forgets them when it is unlocked.
type Locked struct {
	mu       sync.Mutex
	p        *opening
	isNew    bool
	failures int  // wrong passphrases in a row
	done     bool // unlocked or closed

	loginMu sync.Mutex
	uiKeys  UISessionKeys
	tickets map[string]time.Time // sha256 hex -> expiry
}

// OpenOrLock opens the vault as Open does, except that where Open would
// fail for want of a passphrase (an existing passphrase vault,
// PLEXUS_PASSPHRASE unset or wrong, Config.Passphrase nil) or, with
// lo.NewPassphrase, keep a new vault's key in a generated key file, it
// returns a *Locked instead that holds the file and waits. Exactly one of
// the two results is non-nil when err is nil.
func OpenOrLock(ctx context.Context, cfg Config, lo LockOptions) (*Vault, *Locked, error) {
	return openOrLockWith(ctx, cfg, lo, defaultOptions())
}

func openOrLockWith(ctx context.Context, cfg Config, lo LockOptions, o options) (*Vault, *Locked, error) {
	p, err := begin(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	st, c := p.st, p.cfg
	switch {
	case st.isNew() && lo.NewPassphrase:
		r, found, krErr, err := givenOrKeyringKey(c, o)
		if err != nil {
			p.abort()
			return nil, nil, fmt.Errorf("open vault %s: %w", c.Path, err)
		}
		if found {
			v, err := p.finish(r)
			return v, nil, err
		}
		c.Logger.Info("No OS keyring for the new vault: waiting for a passphrase to be chosen", "cause", krErr.Error())
		return nil, newLocked(p, true), nil
	case !st.isNew() && st.source == KeySourcePassphrase && c.Passphrase == nil:
		if st.kdf == nil || !st.kdf.valid() {
			p.abort()
			return nil, nil, fmt.Errorf("open vault %s: meta kdf: missing or invalid Argon2id parameters", c.Path)
		}
		if pw := c.Getenv(envPassphrase); pw != "" {
			r, err := passphraseKey(pw, st.kdf, st)
			if err == nil {
				v, err := p.finish(r)
				return v, nil, err
			}
			c.Logger.Warn(envPassphrase + " does not open this vault; waiting for the passphrase")
		}
		return nil, newLocked(p, false), nil
	}
	r, err := obtainKey(ctx, c, o, st)
	if err != nil {
		p.abort()
		return nil, nil, fmt.Errorf("open vault %s: %w", c.Path, err)
	}
	v, err := p.finish(r)
	return v, nil, err
}

func newLocked(p *opening, isNew bool) *Locked {
	return &Locked{p: p, isNew: isNew, tickets: map[string]time.Time{}}
}

// NewVault reports whether the vault is new and waits for its passphrase
// to be chosen (Create), rather than typed (Unlock).
func (l *Locked) NewVault() bool { return l.isNew }

// Path is the vault file's path.
func (l *Locked) Path() string { return l.p.cfg.Path }

// Unlock opens an existing passphrase vault with passphrase. A wrong one
// returns ErrWrongKey after a wait that grows with each wrong one in a row
// (1s, 2s, … 10s), so guessing is slow but a typo is never a dead end:
// there is no limit on attempts. ErrUnlocked after a successful Unlock;
// ErrInvalid for a new vault (use Create).
func (l *Locked) Unlock(ctx context.Context, passphrase string) (*Vault, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil, ErrUnlocked
	}
	if l.isNew {
		return nil, invalidf("this vault is new: choose its passphrase (Create)")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := passphraseKey(passphrase, l.p.st.kdf, l.p.st)
	if errors.Is(err, ErrWrongKey) {
		l.failures++
		wait := l.p.o.retryDelay * time.Duration(min(l.failures, maxUnlockBackoff))
		l.p.cfg.Logger.Warn("Wrong passphrase; waiting before the next attempt", "failuresInARow", l.failures, "wait", wait)
		if serr := sleepCtx(ctx, wait); serr != nil {
			return nil, serr
		}
		return nil, fmt.Errorf("%w: wrong passphrase", ErrWrongKey)
	}
	if err != nil {
		return nil, err
	}
	return l.open(r)
}

// Create gives a new vault the passphrase (at least MinPassphraseLen
// characters, else ErrInvalid; asking twice is the caller's part) and
// opens it.
func (l *Locked) Create(ctx context.Context, passphrase string) (*Vault, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkNew(ctx); err != nil {
		return nil, err
	}
	if err := checkNewPassphrase(passphrase); err != nil {
		return nil, err
	}
	r, err := newPassphraseResult(l.p.cfg, l.p.o, passphrase)
	if err != nil {
		return nil, err
	}
	return l.open(r)
}

// UseKeyFile opens a new vault with a generated key in <dir>/plexus.key,
// as Open does when nobody can be asked: the choice of a person who
// declines a passphrase.
func (l *Locked) UseKeyFile(ctx context.Context) (*Vault, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkNew(ctx); err != nil {
		return nil, err
	}
	r, err := generatedKeyFile(l.p.cfg, errors.New("a passphrase was declined"))
	if err != nil {
		return nil, err
	}
	return l.open(r)
}

func (l *Locked) checkNew(ctx context.Context) error {
	if l.done {
		return ErrUnlocked
	}
	if !l.isNew {
		return invalidf("this vault exists: open it with its passphrase (Unlock)")
	}
	return ctx.Err()
}

// open finishes opening with the key found; l.mu is held. Whatever
// happens, the file is the Vault's (or closed) afterwards.
func (l *Locked) open(r keyResult) (*Vault, error) {
	l.done = true
	l.forgetLogins()
	v, err := l.p.finish(r)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Close releases the file if it was not unlocked. Safe to call twice.
func (l *Locked) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	l.forgetLogins()
	return l.p.db.Close()
}

func (l *Locked) forgetLogins() {
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	l.tickets = map[string]time.Time{}
	l.uiKeys = UISessionKeys{}
}

// UISessionKeys returns the locked admin UI's session cookie keys, made on
// first use and kept in memory only.
func (l *Locked) UISessionKeys(ctx context.Context) (UISessionKeys, error) {
	if err := ctx.Err(); err != nil {
		return UISessionKeys{}, err
	}
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	if l.uiKeys.Hash == nil {
		k, err := newUISessionKeys()
		if err != nil {
			return UISessionKeys{}, err
		}
		l.uiKeys = k
	}
	return l.uiKeys, nil
}

// RotateUISessionKeys replaces the in-memory session keys (sign-out).
func (l *Locked) RotateUISessionKeys(ctx context.Context) (UISessionKeys, error) {
	if err := ctx.Err(); err != nil {
		return UISessionKeys{}, err
	}
	k, err := newUISessionKeys()
	if err != nil {
		return UISessionKeys{}, err
	}
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	l.uiKeys = k
	return k, nil
}

// NewUILoginTicket mints a single-use login ticket, as Vault's does, kept
// (as its hash) in memory.
func (l *Locked) NewUILoginTicket(ctx context.Context, ttl time.Duration) (ticket string, expiresAt time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	if ttl <= 0 || ttl > MaxUILoginTicketTTL {
		ttl = MaxUILoginTicketTTL
	}
	b := make([]byte, uiTicketBytes)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, fmt.Errorf("login ticket: %w", err)
	}
	ticket = UILoginTicketPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := l.p.cfg.Now().UTC()
	expiresAt = now.Add(ttl)
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	for h, exp := range l.tickets {
		if !now.Before(exp) {
			delete(l.tickets, h)
		}
	}
	if len(l.tickets) >= maxPendingUITickets {
		hs := make([]string, 0, len(l.tickets))
		for h := range l.tickets {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool { return l.tickets[hs[i]].Before(l.tickets[hs[j]]) })
		for _, h := range hs[:len(hs)-maxPendingUITickets+1] {
			delete(l.tickets, h)
		}
	}
	l.tickets[uiTicketHash(ticket)] = expiresAt
	return ticket, expiresAt, nil
}

// TakeUILoginTicket consumes a login ticket, as Vault's does: ErrNotFound
// when malformed, unknown or used; ErrExpired when past its expiry.
func (l *Locked) TakeUILoginTicket(ctx context.Context, ticket string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ValidUILoginTicket(ticket) != nil {
		return fmt.Errorf("login ticket: malformed: %w", ErrNotFound)
	}
	want := uiTicketHash(ticket)
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	var (
		found   bool
		expires time.Time
	)
	for h, exp := range l.tickets {
		if subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
			found, expires = true, exp
			delete(l.tickets, h)
		}
	}
	if !found {
		return fmt.Errorf("login ticket: unknown or already used: %w", ErrNotFound)
	}
	if !l.p.cfg.Now().UTC().Before(expires) {
		return fmt.Errorf("login ticket: %w", ErrExpired)
	}
	return nil
}
