package localclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// ListGates returns tenant's TOTP gates and whether its tool search is on.
func (c *Client) ListGates(ctx context.Context, tenant string) (apiv1.GateList, error) {
	var out apiv1.GateList
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/gates", nil, &out)
	return out, err
}

// CreateGate puts a gate on one of tenant's tool sets; the answer holds
// its secret, shown this once.
func (c *Client) CreateGate(ctx context.Context, tenant string, req apiv1.GateRequest) (apiv1.GateEnrollment, error) {
	var out apiv1.GateEnrollment
	err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/gates", req, &out)
	return out, err
}

// EnrollGate gives a gate a new secret (the old one stops working).
func (c *Client) EnrollGate(ctx context.Context, tenant, toolSet string) (apiv1.GateEnrollment, error) {
	var out apiv1.GateEnrollment
	err := c.do(ctx, http.MethodPost, gatePath(tenant, toolSet)+"/enroll", nil, &out)
	return out, err
}

// UpdateGate changes a gate's unlock time and cooling-off.
func (c *Client) UpdateGate(ctx context.Context, tenant, toolSet string, req apiv1.GateRequest) (apiv1.Gate, error) {
	var out apiv1.GateBody
	err := c.do(ctx, http.MethodPut, gatePath(tenant, toolSet), req, &out)
	return out.Gate, err
}

// DeleteGate removes a gate.
func (c *Client) DeleteGate(ctx context.Context, tenant, toolSet string) error {
	return c.do(ctx, http.MethodDelete, gatePath(tenant, toolSet), nil, nil)
}

// SetToolSearch turns tenant's tool search on or off.
func (c *Client) SetToolSearch(ctx context.Context, tenant string, enabled bool) (apiv1.GateList, error) {
	var out apiv1.GateList
	err := c.do(ctx, http.MethodPut, tenantPath(tenant)+"/tool-search", apiv1.ToolSearchRequest{Enabled: enabled}, &out)
	return out, err
}

func gatePath(tenant, toolSet string) string {
	return tenantPath(tenant) + "/gates/" + url.PathEscape(toolSet)
}
