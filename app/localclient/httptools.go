package localclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// ListHTTPTools returns tenant's declarative HTTP tools.
func (c *Client) ListHTTPTools(ctx context.Context, tenant string) ([]apiv1.HTTPTool, error) {
	var out apiv1.HTTPToolList
	err := c.do(ctx, http.MethodGet, tenantPath(tenant)+"/http-tools", nil, &out)
	return out.HTTPTools, err
}

// GetHTTPTool returns one of tenant's HTTP tools.
func (c *Client) GetHTTPTool(ctx context.Context, tenant, name string) (apiv1.HTTPTool, error) {
	var out apiv1.HTTPToolBody
	err := c.do(ctx, http.MethodGet, httpToolPath(tenant, name), nil, &out)
	return out.HTTPTool, err
}

// ImportHTTPTools sends a YAML or JSON file's content; each tool is added
// or replaced.
func (c *Client) ImportHTTPTools(ctx context.Context, tenant, content string) (apiv1.HTTPToolImported, error) {
	var out apiv1.HTTPToolImported
	err := c.do(ctx, http.MethodPost, tenantPath(tenant)+"/http-tools/import", apiv1.HTTPToolImport{Content: content}, &out)
	return out, err
}

// DeleteHTTPTool removes one of tenant's HTTP tools.
func (c *Client) DeleteHTTPTool(ctx context.Context, tenant, name string) error {
	return c.do(ctx, http.MethodDelete, httpToolPath(tenant, name), nil, nil)
}

func httpToolPath(tenant, name string) string {
	return tenantPath(tenant) + "/http-tools/" + url.PathEscape(name)
}
