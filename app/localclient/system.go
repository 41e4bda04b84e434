// This file holds Client's daemon-level calls: Status and Shutdown.

package localclient

import (
	"context"
	"net/http"

	"github.com/plexus-mcp/plexus/app/adminapi"
)

// Status returns what the daemon says about itself, its vault's key source
// and its tenants.
func (c *Client) Status(ctx context.Context) (adminapi.Status, error) {
	var out adminapi.Status
	if err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &out); err != nil {
		return adminapi.Status{}, err
	}
	return out, nil
}

// Shutdown asks the daemon to stop gracefully. It returns once the daemon
// accepted; the daemon then finishes in-flight requests and exits (use
// Ping or the runtime file to wait for that).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/shutdown", nil, nil)
}
