// This file holds the MCP session operations: list a tenant's active
// sessions (by fingerprint, never by id) and end one.

package adminops

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/vault"
)

// maxClientName bounds the client name shown for a session (it comes from
// the MCP client).
const maxClientName = 80

// ListSessions returns a tenant's active MCP sessions, the most recently
// used first (at most vault.MaxListedSessions; Total counts them all).
func (s *Service) ListSessions(ctx context.Context, tenantID string) (apiv1.SessionList, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return apiv1.SessionList{}, err
	}
	list, total, err := s.store.ListSessions(ctx, t.ID)
	if err != nil {
		return apiv1.SessionList{}, wrapf(err, "list sessions of %s", t.ID)
	}
	users, err := s.store.ListUsers(ctx, t.ID)
	if err != nil {
		return apiv1.SessionList{}, wrapf(err, "list users of %s", t.ID)
	}
	byID := make(map[string]vault.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	out := apiv1.SessionList{Sessions: make([]apiv1.Session, 0, len(list)), Total: total}
	for _, si := range list {
		v := apiv1.Session{
			Ref: si.Hash, Fingerprint: si.Fingerprint(), UserID: si.UserID, Client: clientName(si.Client),
			Protocol: si.Protocol, CreatedAt: si.CreatedAt, LastSeen: si.LastSeen, ExpiresAt: si.ExpiresAt,
		}
		if u, ok := byID[si.UserID]; ok {
			v.HostUserID = u.HostUserID
			v.LocalOwner = u.HostUserID == vault.LocalOwnerHostUserID
		}
		out.Sessions = append(out.Sessions, v)
	}
	return out, nil
}

// EndSession ends one of a tenant's MCP sessions, named by its Ref; the
// vault announces it, so the MCP server drops it at once and its client
// starts a new one on its next request.
func (s *Service) EndSession(ctx context.Context, tenantID, ref string) error {
	if !vault.ValidSessionHash(ref) {
		return fieldErr("session_ref", "session_ref: not a session reference (64 hex digits from the session list)")
	}
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := s.store.EndSession(ctx, t.ID, ref); err != nil {
		return wrapf(err, "end session of %s", t.ID)
	}
	s.log.InfoContext(ctx, "Ended MCP session", "tenant", t.ID, "session", ref[:8])
	return nil
}

// clientName is the app a session's stored client state names, as it
// names itself (title, else name, with its version), printable and
// clipped; "" when it did not say.
func clientName(raw json.RawMessage) string {
	var st struct {
		ClientInfo struct {
			Name    string `json:"name"`
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"clientInfo"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &st) != nil {
		return ""
	}
	ci := st.ClientInfo
	name := printable(ci.Title)
	if name == "" {
		name = printable(ci.Name)
	}
	if name == "" {
		return ""
	}
	if v := printable(ci.Version); v != "" && len(v) <= 32 {
		name += " " + v
	}
	return clipRunes(name, maxClientName)
}

// printable drops control and format characters and trims spaces.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return strings.TrimSpace(s)
}

// clipRunes shortens s to at most n characters.
func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
