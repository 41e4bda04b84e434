package adminops

import (
	"context"
	"net/url"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// LoginTickets mints the admin UI's single-use login tickets;
// *vault.Vault satisfies it. A Store without it cannot sign anyone in to
// the UI (ErrUnsupported).
type LoginTickets interface {
	NewUILoginTicket(ctx context.Context, ttl time.Duration) (ticket string, expiresAt time.Time, err error)
}

// LoginTicketPath is the path of the admin UI's login link for ticket.
func LoginTicketPath(ticket string) string {
	return apiv1.UILoginPath + "?" + url.Values{"ticket": {ticket}}.Encode()
}

// MintLoginTicket makes a single-use login link for the admin UI that
// expires within a minute (vault.MaxUILoginTicketTTL). Only its hash is
// stored; the ticket is never logged.
func (s *Service) MintLoginTicket(ctx context.Context) (apiv1.LoginTicket, error) {
	lt, ok := s.store.(LoginTickets)
	if !ok {
		return apiv1.LoginTicket{}, unsupported("this server has no admin UI")
	}
	ticket, exp, err := lt.NewUILoginTicket(ctx, vault.MaxUILoginTicketTTL)
	if err != nil {
		return apiv1.LoginTicket{}, wrapf(err, "mint a login ticket")
	}
	s.log.InfoContext(ctx, "Admin UI login link issued", "expiresAt", exp)
	return apiv1.LoginTicket{LoginPath: LoginTicketPath(ticket), ExpiresAt: exp}, nil
}
