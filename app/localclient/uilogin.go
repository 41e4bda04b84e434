// This file holds Client's call for the admin UI's single-use login link.

package localclient

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// LoginURL mints a single-use login link for the admin UI (it expires
// within a minute) and returns it on BaseURL.
func (c *Client) LoginURL(ctx context.Context) (string, error) {
	var out apiv1.LoginTicket
	if err := c.do(ctx, http.MethodPost, "/api/v1/ui/login-ticket", nil, &out); err != nil {
		return "", err
	}
	return strings.TrimSuffix(c.BaseURL, "/") + out.LoginPath, nil
}
