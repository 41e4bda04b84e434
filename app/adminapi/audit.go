package adminapi

// The admin API's own audit records: a refused admin token (a login
// denied) and every mutating request (an admin action: who, what route,
// what it named, how it ended).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
)

// Recorder receives audit records; *audit.Log satisfies it. Record must
// not block.
type Recorder interface {
	Record(audit.Call) bool
}

// Actors of the admin API's records.
const (
	ActorLocalToken = "local_token" // Options.Tokens[0]: the runtime file's token
	ActorAdminToken = "admin_token" // any other: ADMIN_API_KEY
)

// tokenActor names the token at index i of Options.Tokens.
func tokenActor(i int) string {
	if i == 0 {
		return ActorLocalToken
	}
	return ActorAdminToken
}

// pathTargets are the path values that name what an admin action is
// about, in the order a target lists them. None of them is a secret.
var pathTargets = []string{"id", "uid", "token_id", "name", "provider", "set"}

// recordDenied records a request refused for its token.
func (a *api) recordDenied(r *http.Request) {
	if a.audit == nil {
		return
	}
	a.audit.Record(audit.Call{Kind: audit.KindLogin, Time: time.Now(), Action: "admin_api", Actor: ActorAdminToken,
		Outcome: audit.OutcomeDenied, Reason: "bad_token", Target: r.Method + " " + clipPath(r.URL.Path)})
}

// serveRecorded routes r and, for a mutating request, records what the
// route did and how it ended.
func (a *api) serveRecorded(w http.ResponseWriter, r *http.Request, actor string) {
	if a.audit == nil || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		a.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &edge.StatusWriter{ResponseWriter: w}
	a.mux.ServeHTTP(sw, r) // sets r.Pattern and the path values
	c := audit.Call{Kind: audit.KindAdmin, Time: start, Duration: time.Since(start), Actor: actor,
		Action: r.Pattern, Tenant: r.PathValue("id")}
	var targets []string
	for _, k := range pathTargets {
		if v := r.PathValue(k); v != "" {
			targets = append(targets, k+"="+v)
		}
	}
	if loc := w.Header().Get("Location"); loc != "" {
		targets = append(targets, "created="+loc) // a create names its record here, not in its path
	}
	c.Target = strings.Join(targets, " ")
	c.Outcome = audit.OutcomeOf(sw.Status())
	a.audit.Record(c)
}

func clipPath(p string) string {
	if len(p) > 128 {
		return p[:128]
	}
	return p
}

// auditQuery reads GET /api/v1/audit's filters from the URL as given;
// adminops checks them. A limit that is not a number is -1 (refused).
func auditQuery(v url.Values) apiv1.AuditQuery {
	q := apiv1.AuditQuery{Tenant: v.Get("tenant"), User: v.Get("user"), Who: v.Get("who"), Tool: v.Get("tool"),
		Outcome: v.Get("outcome"), Kind: v.Get("kind"), Since: v.Get("since"), Until: v.Get("until"), Cursor: v.Get("cursor")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			n = -1
		}
		q.Limit = n
	}
	return q
}
