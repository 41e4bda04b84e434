package daemon

// The daemon's audit log (package audit, in DATA/audit): what feeds it
// besides tool calls (credential changes from the vault, admin UI
// sign-ins and actions, host-app registrations; the admin API records
// its own), and the stored secrets its writer masks arguments against.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/vault"
)

// DefaultAuditRetention is how long audit records are kept by default.
const DefaultAuditRetention = audit.DefaultMaxAge

// openAudit opens the audit log in the data dir. Arguments are masked
// against every secret the vault stores and the daemon's own tokens; with
// no vault (a locked daemon, whose records carry no arguments) there is
// nothing to mask against.
func openAudit(cfg Config, v *vault.Vault, log *slog.Logger, ownSecrets ...string) (*audit.Log, error) {
	o := audit.Options{Dir: filepath.Join(cfg.DataDir, ActivityDirName), MaxAge: cfg.AuditRetention, Logger: log}
	if v != nil {
		o.Secrets = (&secretCache{v: v, extra: ownSecrets, log: log}).get
	}
	return audit.Open(o)
}

// secretCache keeps the vault's SecretSet, rebuilt when the vault was
// written since (asked by the audit writer once per batch with
// arguments, never on a request's goroutine). A rebuilt set is unioned
// with the last one: a secret rotated or deleted after a call and before
// its record is written (or any time since the daemon started) is still
// masked.
type secretCache struct {
	v     *vault.Vault
	extra []string
	log   *slog.Logger

	mu  sync.Mutex
	set *vault.SecretSet
}

func (c *secretCache) get(ctx context.Context) audit.Secrets {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != nil && !c.v.SecretsChanged(c.set) {
		return c.set
	}
	set, err := c.v.Secrets(ctx)
	if err != nil {
		if c.set != nil {
			c.log.Warn("Could not read the stored secrets; arguments are masked against the last known ones", "error", err)
			return c.set
		}
		c.log.Warn("Could not read the stored secrets; tool arguments are not recorded", "error", err)
		return nil // no arguments written
	}
	c.set = set.Add(c.extra...).Union(c.set)
	return c.set
}

// recordVaultChanges records credential changes the vault announces
// (whoever made them: the admin API, the UI, a key-entry link, an OAuth
// callback, a host app); never a value.
func recordVaultChanges(v *vault.Vault, rec *audit.Log) (unsubscribe func()) {
	return v.Subscribe(func(c vault.Change) {
		r := audit.Call{Kind: audit.KindCredential, Time: time.Now(), Tenant: c.TenantID, User: c.UserID,
			Actor: "vault", Outcome: audit.OutcomeOK}
		switch c.Kind {
		case vault.CredentialChanged:
			r.Action, r.Target = "credential_changed", string(c.CredentialKind)+"/"+c.Provider
		case vault.ProviderChanged:
			r.Action, r.Target = "provider_changed", c.Provider
			if c.ProviderDeleted {
				r.Action = "provider_deleted"
			}
		case vault.TokenRevoked:
			r.Action, r.Target = "token_revoked", c.TokenID
		case vault.UserDeleted:
			r.Action = "user_deleted"
		case vault.TenantDeleted:
			r.Action = "tenant_deleted"
		default:
			return
		}
		rec.Record(r)
	})
}

// auditLogin is the UI's Login that records each sign-in link used
// (accepted or refused).
type auditLogin struct {
	ui.Login
	rec *audit.Log
}

func (l auditLogin) TakeUILoginTicket(ctx context.Context, ticket string) error {
	start := time.Now()
	err := l.Login.TakeUILoginTicket(ctx, ticket)
	r := audit.Call{Kind: audit.KindLogin, Time: start, Duration: time.Since(start), Action: "ui_login_link", Actor: "link",
		Outcome: audit.OutcomeOK}
	if err != nil {
		r.Outcome, r.Reason = audit.OutcomeDenied, "bad_link"
	}
	l.rec.Record(r)
	return err
}

// withAudit records, around next, what the admin API does not see: the
// admin UI's form posts (admin actions, actor "ui") and host apps'
// register-user calls (logins: a user token issued or refused). Other
// requests (tools/call above all) pass straight through.
func withAudit(rec *audit.Log, next http.Handler) http.Handler {
	if rec == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch && r.Method != http.MethodDelete {
			next.ServeHTTP(w, r)
			return
		}
		p := r.URL.Path
		var c audit.Call
		switch {
		case strings.HasPrefix(p, "/ui/"):
			c = audit.Call{Kind: audit.KindAdmin, Actor: "ui", Action: r.Method + " " + clipTo(p, 100)}
		case strings.HasSuffix(p, "/plexus-auth/register-user") && strings.Count(p, "/") == 3:
			c = audit.Call{Kind: audit.KindLogin, Actor: "host_app", Action: "register_user",
				Tenant: strings.TrimPrefix(strings.TrimSuffix(p, "/plexus-auth/register-user"), "/")}
		default:
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &edge.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		c.Time, c.Duration = start, time.Since(start)
		c.Outcome = audit.OutcomeOf(sw.Status())
		rec.Record(c)
	})
}

func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// maxEarlyRecords bounds what a locked daemon keeps for the audit log;
// beyond it only the count grows.
const maxEarlyRecords = 256

// earlyRecords are audit records made before the audit log exists (it
// opens with the vault): the unlock page's attempts. The first
// maxEarlyRecords are kept; the rest are counted, and told in one record.
type earlyRecords struct {
	mu      sync.Mutex
	calls   []audit.Call
	dropped int
}

func (e *earlyRecords) add(c audit.Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) < maxEarlyRecords {
		e.calls = append(e.calls, c)
		return
	}
	e.dropped++
}

// pending reports whether records wait for the audit log.
func (e *earlyRecords) pending() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls) > 0 || e.dropped > 0
}

// flush writes the kept records to rec, and forgets them.
func (e *earlyRecords) flush(rec *audit.Log) {
	e.mu.Lock()
	calls, dropped := e.calls, e.dropped
	e.calls, e.dropped = nil, 0
	e.mu.Unlock()
	for _, c := range calls {
		rec.Record(c)
	}
	if dropped > 0 {
		rec.Record(audit.Call{Kind: audit.KindLogin, Time: time.Now(), Action: "unlock_passphrase", Actor: "unlock_page",
			Outcome: audit.OutcomeDenied, Reason: "too_many", Target: fmt.Sprintf("%d more attempts while locked", dropped)})
	}
}
