package localclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// Audit returns a page of the audit log matching q (GET /api/v1/audit).
func (c *Client) Audit(ctx context.Context, q apiv1.AuditQuery) (apiv1.AuditResponse, error) {
	v := url.Values{}
	for k, s := range map[string]string{"tenant": q.Tenant, "user": q.User, "who": q.Who, "tool": q.Tool,
		"outcome": q.Outcome, "kind": q.Kind, "since": q.Since, "until": q.Until, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	p := "/api/v1/audit"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out apiv1.AuditResponse
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}
