package adminops_test

import (
	"errors"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
)

// FuzzAuditQuery: whatever the filters, AuditQuery answers a query or a
// field error, and an accepted time range is not empty.
func FuzzAuditQuery(f *testing.F) {
	f.Add("acme", "", "", "weather", "ok", "tool_call", "24h", "", "", 10)
	f.Add("", "u-1", "", "", "denied", "login", "2026-12-04T10:00:00Z", "2026-12-05T10:00:00Z", "2026-12-04-0001.5", 0)
	f.Add("Bad!", "", "user:x", "a b", "x", "y", "7d", "-1h", "20260512-0001.5", -1)
	f.Add("", "", "guest", "", "", "", "3650d", "99999999h", "", 201)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tenant, user, who, tool, outcome, kind, since, until, cursor string, limit int) {
		q, err := adminops.AuditQuery(apiv1.AuditQuery{Tenant: tenant, User: user, Who: who, Tool: tool, Outcome: outcome,
			Kind: kind, Since: since, Until: until, Cursor: cursor, Limit: limit}, now)
		if err != nil {
			var fe *apiv1.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v is not a field error", err)
			}
			return
		}
		if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
			t.Fatalf("empty range %v..%v accepted", q.Since, q.Until)
		}
		if q.Limit < 0 || q.Limit > 200 {
			t.Fatalf("limit %d accepted", q.Limit)
		}
	})
}
