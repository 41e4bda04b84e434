// This file holds Client's daemon-level calls: Status and Shutdown.

package localclient

import (
	"context"
	"net/http"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// Status returns what the daemon says about itself, its vault's key source
// and its tenants.
func (c *Client) Status(ctx context.Context) (apiv1.Status, error) {
	var out apiv1.Status
	if err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &out); err != nil {
		return apiv1.Status{}, err
	}
	return out, nil
}

// Shutdown asks the daemon to stop gracefully. It returns once the daemon
// accepted; the daemon then finishes in-flight requests and exits (use
// Ping or the runtime file to wait for that).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/shutdown", nil, nil)
}
