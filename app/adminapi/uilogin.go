// This file serves POST /api/v1/ui/login-ticket: a single-use login link
// for the admin UI, minted for `plexus open` and the desktop window, which
// hold the admin token. The token itself never goes into a URL.

package adminapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// UILoginPath is the admin UI's login path; the ticket goes in its
// "ticket" query parameter.
const UILoginPath = "/ui/login"

// LoginTickets mints the admin UI's login tickets; *vault.Vault satisfies
// it. A Store that does not is answered 501.
type LoginTickets interface {
	NewUILoginTicket(ctx context.Context, ttl time.Duration) (ticket string, expiresAt time.Time, err error)
}

// LoginTicket is the body of POST /api/v1/ui/login-ticket (201). The
// ticket works once and only until ExpiresAt (within a minute).
type LoginTicket struct {
	// LoginPath is the path (with the ticket) to open on the daemon's
	// origin, e.g. /ui/login?ticket=plxt_…; the caller prefixes the base
	// URL it reached the daemon at.
	LoginPath string    `json:"login_path"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LoginTicketPath is the path of the login link for ticket.
func LoginTicketPath(ticket string) string {
	return UILoginPath + "?" + url.Values{"ticket": {ticket}}.Encode()
}

func (a *api) mintLoginTicket(w http.ResponseWriter, r *http.Request) error {
	lt, ok := a.store.(LoginTickets)
	if !ok {
		a.writeJSONError(w, http.StatusNotImplemented, "this server has no admin UI")
		return nil
	}
	ticket, exp, err := lt.NewUILoginTicket(r.Context(), vault.MaxUILoginTicketTTL)
	if err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "Admin UI login link issued", "expiresAt", exp)
	writeJSON(w, http.StatusCreated, LoginTicket{LoginPath: LoginTicketPath(ticket), ExpiresAt: exp})
	return nil
}
