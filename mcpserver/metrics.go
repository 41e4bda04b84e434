package mcpserver

// ActiveSessions returns, by tenant, how many MCP sessions (2025-11-25
// era) are active: validated and used within the last 5 minutes, so held
// in memory (see SessionBounds). Stateless 2026-07-28 requests have no
// session. For the plexus_mcp_sessions_active gauge and the health report.
func (s *Server) ActiveSessions() map[string]int {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	out := make(map[string]int)
	for _, e := range s.sessions.m {
		if !e.gone {
			out[e.tenant]++
		}
	}
	return out
}
