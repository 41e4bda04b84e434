package localclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// ListUpstreams returns tenant's upstream MCP servers with their status.
func (c *Client) ListUpstreams(ctx context.Context, tenant string) ([]apiv1.Upstream, error) {
	var out apiv1.UpstreamList
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/upstreams", nil, &out)
	return out.Upstreams, err
}

// GetUpstream returns one of tenant's upstreams with its status.
func (c *Client) GetUpstream(ctx context.Context, tenant, name string) (apiv1.Upstream, error) {
	var out apiv1.UpstreamBody
	err := c.do(ctx, http.MethodGet, upstreamPath(tenant, name), nil, &out)
	return out.Upstream, err
}

// AddUpstream mounts an upstream in tenant; the answer says whether it
// started and what it lists.
func (c *Client) AddUpstream(ctx context.Context, tenant string, req apiv1.UpstreamRequest) (apiv1.Upstream, error) {
	var out apiv1.UpstreamBody
	err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/upstreams", req, &out)
	return out.Upstream, err
}

// UpdateUpstream replaces an upstream's settings.
func (c *Client) UpdateUpstream(ctx context.Context, tenant, name string, req apiv1.UpstreamRequest) (apiv1.Upstream, error) {
	var out apiv1.UpstreamBody
	err := c.do(ctx, http.MethodPut, upstreamPath(tenant, name), req, &out)
	return out.Upstream, err
}

// DeleteUpstream removes an upstream (its processes stop).
func (c *Client) DeleteUpstream(ctx context.Context, tenant, name string) error {
	return c.do(ctx, http.MethodDelete, upstreamPath(tenant, name), nil, nil)
}

// UpstreamLog returns an upstream's bounded log.
func (c *Client) UpstreamLog(ctx context.Context, tenant, name string) (apiv1.UpstreamLog, error) {
	var out apiv1.UpstreamLog
	err := c.do(ctx, http.MethodGet, upstreamPath(tenant, name)+"/log", nil, &out)
	return out, err
}

// RestartUpstream stops an upstream's processes; they start again when used.
func (c *Client) RestartUpstream(ctx context.Context, tenant, name string) (apiv1.Upstream, error) {
	var out apiv1.UpstreamBody
	err := c.do(ctx, http.MethodPost, upstreamPath(tenant, name)+"/restart", nil, &out)
	return out.Upstream, err
}

func upstreamPath(tenant, name string) string {
	return tenantPath(tenant) + "/upstreams/" + url.PathEscape(name)
}
