package apiv1

import "time"

// EventsPath is the admin API's stream of events for the desktop window:
// GET, text/event-stream, one "waiting" event per Event (data: its JSON),
// and a comment line every EventsHeartbeat.
const EventsPath = "/api/v1/events"

// EventsHeartbeat is how often the events stream sends a comment line, so
// a client can tell a quiet stream from a dead one.
const EventsHeartbeat = 20 * time.Second

// Event kinds.
const (
	// EventConsent: a tool made a consent link for the tenant's local
	// owner (Claude Desktop through plexus stdio): an OAuth connection is
	// waiting to be approved.
	EventConsent = "consent"
	// EventAPIKey: a link to the page where an API key is typed was made
	// for the local owner.
	EventAPIKey = "api_key"
)

// Event says that something waits for the person at this computer. It
// never carries the link itself (the link is in the chat): only what the
// window needs to say what is waiting.
type Event struct {
	Kind     string    `json:"kind"`
	Tenant   string    `json:"entity_id"`
	Provider string    `json:"provider_name"`
	Tool     string    `json:"tool,omitempty"`
	Client   string    `json:"client,omitempty"` // the MCP client's name, as it calls itself
	At       time.Time `json:"at"`
}
