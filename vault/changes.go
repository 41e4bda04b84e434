package vault

import (
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// ChangeKind says what a Change is about.
type ChangeKind int

// Change kinds. The fields of Change each kind sets are listed beside it.
const (
	// TokenRevoked: TenantID, UserID, TokenID.
	TokenRevoked ChangeKind = iota + 1
	// UserDeleted: TenantID, UserID. The user's tokens, sessions (with
	// their values), credentials and pending OAuth states went with it.
	UserDeleted
	// TenantDeleted: TenantID. Everything the tenant owned went with it.
	TenantDeleted
	// ToolSettingsChanged: TenantID.
	ToolSettingsChanged
	// ProviderChanged: TenantID, Provider. An OAuth provider was created,
	// updated or deleted (ProviderDeleted is set then); a deletion took
	// the users' OAuth credentials and guests' token sets for it along.
	ProviderChanged
	// CredentialChanged: TenantID, UserID, CredentialKind, Provider. A
	// registered user's credential was stored, replaced or deleted.
	CredentialChanged
	// SessionEnded: TenantID, UserID ("" for a guest), SessionHash. An
	// administrator ended an MCP session (EndSession).
	SessionEnded
	// UpstreamChanged: TenantID, Upstream. An upstream MCP server was
	// created, updated or deleted (UpstreamDeleted is set then).
	UpstreamChanged
	// HTTPToolChanged: TenantID, HTTPTool. A declarative HTTP tool was
	// created, updated or deleted (HTTPToolDeleted is set then).
	HTTPToolChanged
	// GateChanged: TenantID, ToolSet. A TOTP gate was created, given a new
	// secret, changed or deleted (GateDeleted is set then).
	GateChanged
)

var changeKindNames = map[ChangeKind]string{
	TokenRevoked:        "token revoked",
	UserDeleted:         "user deleted",
	TenantDeleted:       "tenant deleted",
	ToolSettingsChanged: "tool settings changed",
	ProviderChanged:     "provider changed",
	CredentialChanged:   "credential changed",
	SessionEnded:        "session ended",
	UpstreamChanged:     "upstream changed",
	HTTPToolChanged:     "http tool changed",
	GateChanged:         "gate changed",
}

func (k ChangeKind) String() string {
	if s, ok := changeKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("change kind %d", int(k))
}

// Change is one committed write that readers may have cached: the vault
// announces it to its subscribers (see Subscribe). It names records and
// never carries a secret.
type Change struct {
	Kind     ChangeKind
	TenantID string
	UserID   string
	// TokenID is the revoked token's short, non-secret id (TokenInfo.ID).
	TokenID        string
	Provider       string
	CredentialKind CredentialKind
	// ProviderDeleted is set on a ProviderChanged for a deletion.
	ProviderDeleted bool
	// SessionHash names the ended session (SessionHash of its id).
	SessionHash string
	// Upstream names the upstream of an UpstreamChanged; UpstreamDeleted
	// is set for a deletion.
	Upstream        string
	UpstreamDeleted bool
	// HTTPTool names the tool of an HTTPToolChanged; HTTPToolDeleted is
	// set for a deletion.
	HTTPTool        string
	HTTPToolDeleted bool
	// ToolSet names the gated tool set of a GateChanged; GateDeleted is
	// set for a deletion.
	ToolSet     string
	GateDeleted bool
}

// subscribers is the vault's list of change listeners.
type subscribers struct {
	mu   sync.RWMutex
	next int
	fns  []subscriber
}

type subscriber struct {
	id int
	fn func(Change)
}

// Subscribe registers fn to be told of every Change committed from now on,
// and returns a function that removes it (safe to call more than once).
//
// The vault is the only writer of its records, so a cache that subscribes
// needs no expiry to stay correct: fn runs synchronously, in the writing
// goroutine, after the transaction committed and before the writing method
// returns. When RevokeToken (or DeleteUser, DeleteTenant, PutToolSettings,
// …) returns, every subscriber has already dropped what it cached, so the
// very next request sees the change.
//
// fn must therefore be quick and must not block: drop cache entries, bump
// a counter, hand slow work to a goroutine of its own. It may be called
// from several goroutines at once (concurrent writers), must not call
// Subscribe or the returned function, and may read the vault (the write
// transaction is closed). A panic in fn is recovered and logged; the write
// stays committed and the other subscribers are still called. No goroutine
// is started per subscriber, so a subscriber that is never removed costs
// nothing but its call; Close removes them all.
func (v *Vault) Subscribe(fn func(Change)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	s := &v.subs
	s.mu.Lock()
	s.next++
	id := s.next
	// Copy on write: publish iterates a snapshot without holding the lock.
	s.fns = append(slices.Clip(s.fns), subscriber{id: id, fn: fn})
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fns = slices.DeleteFunc(slices.Clone(s.fns), func(x subscriber) bool { return x.id == id })
	}
}

// publish tells every subscriber of cs, in order. Called after commit only.
func (v *Vault) publish(cs ...Change) {
	if len(cs) == 0 {
		return
	}
	v.subs.mu.RLock()
	fns := v.subs.fns
	v.subs.mu.RUnlock()
	for _, c := range cs {
		for _, s := range fns {
			v.call(s.fn, c)
		}
	}
}

func (v *Vault) call(fn func(Change), c Change) {
	defer func() {
		if r := recover(); r != nil {
			v.log.Error("Change subscriber panicked", "change", c.Kind.String(), "tenant", c.TenantID, "panic", fmt.Sprint(r))
		}
	}()
	fn(c)
}

// update runs fn in a write transaction and, once it committed, announces
// the changes fn reported through announce. Nothing is announced when fn
// or the commit fails.
func (v *Vault) update(fn func(tx *bolt.Tx, announce func(Change)) error) error {
	var cs []Change
	err := v.db.Update(func(tx *bolt.Tx) error {
		return fn(tx, func(c Change) { cs = append(cs, c) })
	})
	if err != nil {
		return err
	}
	v.publish(cs...)
	return nil
}
