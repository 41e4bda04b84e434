// Package telemetry keeps Plexus's metrics and the states its health
// report lists, and writes the metrics in the Prometheus text exposition
// format (version 0.0.4) for GET /metrics.
//
// What it counts:
//   - tool calls by tenant, tool and outcome (ToolCall), with a latency
//     histogram by tenant and tool;
//   - upstream MCP servers' restarts and current state, as their
//     supervisor reports them through UpstreamObserver (the registration
//     point package upstream feeds);
//   - gauges read at each scrape (GaugeFunc): active MCP sessions, for one.
//
// Labels come only from what Plexus registered or stored (tenant ids from
// the vault, tool names from the registry or an upstream's tools/list,
// upstream names from the tenant's configuration), never from a request:
// a tools/call of an unknown tool is refused before it is counted. The
// number of series is bounded all the same (MaxSeries); past it, new
// tool names are counted under the tool "_other".
//
// The metrics name tenants and tools, so the daemon serves them to holders
// of the admin token only (see app/daemon). Nothing here is a secret: no
// argument, token or session id is ever a label or a value, and the
// details an upstream reports must not carry one either.
//
// A nil *Metrics is valid and records nothing, so code that reports can
// run without one.
package telemetry

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Outcome is how a tool call ended.
type Outcome int

// Outcomes of a tool call, as the "outcome" label spells them.
const (
	// OK: the tool returned a result that is not an error.
	OK Outcome = iota
	// ToolError: the tool returned an error result (isError).
	ToolError
	// InvalidArguments: the arguments did not match the tool's input
	// schema; the tool did not run.
	InvalidArguments
	// CredentialRequired: the caller lacked the credential the tool
	// needs; the answer says how to provide it.
	CredentialRequired
	// Failed: the call failed with a JSON-RPC error (the handler returned
	// an error, or panicked).
	Failed
	numOutcomes
)

// String is the outcome's label value.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case ToolError:
		return "tool_error"
	case InvalidArguments:
		return "invalid_arguments"
	case CredentialRequired:
		return "credential_required"
	case Failed:
		return "error"
	}
	return "unknown"
}

// MaxSeries bounds the (tenant, tool) pairs and upstreams kept.
const MaxSeries = 10000

// OtherTool is the tool label of calls past MaxSeries.
const OtherTool = "_other"

// latencyBuckets are the upper bounds (seconds) of the tool-call latency
// histogram: from a local tool (about a millisecond) to a slow upstream.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Metrics holds the counters. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	started time.Time
	version string
	now     func() time.Time

	mu     sync.Mutex
	calls  map[callKey]*callSeries
	ups    map[upstreamKey]*upstream
	gauges []gaugeFunc
	checks []healthCheck
}

type callKey struct{ tenant, tool string }

type callSeries struct {
	outcomes [numOutcomes]uint64
	buckets  []uint64 // per latencyBuckets, not cumulative
	count    uint64
	sum      float64
}

// Option configures Metrics.
type Option func(*Metrics)

// WithVersion sets the version plexus_build_info reports.
func WithVersion(v string) Option { return func(m *Metrics) { m.version = v } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(m *Metrics) { m.now = now } }

// New returns empty metrics.
func New(opts ...Option) *Metrics {
	m := &Metrics{
		now:   time.Now,
		calls: make(map[callKey]*callSeries),
		ups:   make(map[upstreamKey]*upstream),
	}
	for _, o := range opts {
		o(m)
	}
	m.started = m.now()
	return m
}

// ToolCall records one tool call of tool on tenant that ended with
// outcome after d.
func (m *Metrics) ToolCall(tenant, tool string, outcome Outcome, d time.Duration) {
	if m == nil || outcome < 0 || outcome >= numOutcomes {
		return
	}
	secs := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := callKey{tenant, tool}
	cs := m.calls[k]
	if cs == nil {
		if len(m.calls) >= MaxSeries {
			k.tool = OtherTool
			cs = m.calls[k]
		}
		if cs == nil {
			cs = &callSeries{buckets: make([]uint64, len(latencyBuckets))}
			m.calls[k] = cs
		}
	}
	cs.outcomes[outcome]++
	cs.count++
	cs.sum += secs
	if i, _ := slices.BinarySearch(latencyBuckets, secs); i < len(latencyBuckets) {
		cs.buckets[i]++
	}
}

// ForgetTenant drops every series of a deleted tenant.
func (m *Metrics) ForgetTenant(tenant string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.calls {
		if k.tenant == tenant {
			delete(m.calls, k)
		}
	}
	for k := range m.ups {
		if k.tenant == tenant {
			delete(m.ups, k)
		}
	}
}

// gaugeFunc is a gauge family read at each scrape.
type gaugeFunc struct {
	name, help string
	labels     []string
	fn         func(emit func(value float64, labelValues ...string))
}

// GaugeFunc adds a gauge family read at each scrape: fn calls emit once per
// series, with one label value per name in labels (extra or missing values
// make the series be skipped). name must be a valid metric name and is not
// checked beyond that; fn must be quick and must not call back into m.
func (m *Metrics) GaugeFunc(name, help string, labels []string, fn func(emit func(value float64, labelValues ...string))) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gaugeFunc{name: name, help: help, labels: slices.Clone(labels), fn: fn})
}

// UpstreamState is an upstream MCP server's state.
type UpstreamState string

// Upstream states. A supervisor reports the ones it goes through; any
// other value is shown as it is.
const (
	// UpstreamStarting: being started or connected.
	UpstreamStarting UpstreamState = "starting"
	// UpstreamReady: connected, serving its tools.
	UpstreamReady UpstreamState = "ready"
	// UpstreamBackoff: failed; waiting before the next restart.
	UpstreamBackoff UpstreamState = "backoff"
	// UpstreamFailed: failed and not being restarted (given up, or
	// waiting for the user: a login, a fixed configuration).
	UpstreamFailed UpstreamState = "failed"
	// UpstreamStopped: stopped on purpose (disabled, daemon stopping).
	UpstreamStopped UpstreamState = "stopped"
)

// upstreamStates are the states plexus_upstream_state lists for every
// upstream (one is 1, the others 0).
var upstreamStates = []UpstreamState{UpstreamStarting, UpstreamReady, UpstreamBackoff, UpstreamFailed, UpstreamStopped}

// UpstreamObserver is what a supervisor of upstream MCP servers reports
// to: *Metrics satisfies it (a nil one drops the reports). Calls must be
// cheap for the caller: they only update counters.
type UpstreamObserver interface {
	// UpstreamState says upstream name of tenant is now in state; detail
	// is a short plain sentence for the health report (why it failed),
	// never holding a secret (no URL with credentials, no token, no
	// environment value).
	UpstreamState(tenant, name string, state UpstreamState, detail string)
	// UpstreamRestarted counts one restart (a new process or
	// connection after a failure).
	UpstreamRestarted(tenant, name string)
	// UpstreamRemoved forgets an upstream the tenant no longer has.
	UpstreamRemoved(tenant, name string)
}

var _ UpstreamObserver = (*Metrics)(nil)

type upstreamKey struct{ tenant, name string }

type upstream struct {
	state    UpstreamState
	detail   string
	since    time.Time
	restarts uint64
}

// maxDetail bounds an upstream's detail text.
const maxDetail = 300

func (m *Metrics) upstream(k upstreamKey) *upstream {
	u := m.ups[k]
	if u == nil && len(m.ups) < MaxSeries {
		u = &upstream{state: UpstreamStarting, since: m.now()}
		m.ups[k] = u
	}
	return u
}

// UpstreamState implements UpstreamObserver.
func (m *Metrics) UpstreamState(tenant, name string, state UpstreamState, detail string) {
	if m == nil {
		return
	}
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "…"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.upstream(upstreamKey{tenant, name}); u != nil {
		if u.state != state {
			u.since = m.now()
		}
		u.state, u.detail = state, detail
	}
}

// UpstreamRestarted implements UpstreamObserver.
func (m *Metrics) UpstreamRestarted(tenant, name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.upstream(upstreamKey{tenant, name}); u != nil {
		u.restarts++
	}
}

// UpstreamRemoved implements UpstreamObserver.
func (m *Metrics) UpstreamRemoved(tenant, name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ups, upstreamKey{tenant, name})
}

// Status is a component's health.
type Status string

// Component statuses.
const (
	StatusOK       Status = "ok"
	StatusDegraded Status = "degraded" // works, with a problem worth a look
	StatusDown     Status = "down"
)

// Component is one part of the daemon in the health report.
type Component struct {
	// Kind groups components: "vault", "sessions", "upstream".
	Kind string
	// Name names it within its kind ("acme/github" for an upstream).
	Name   string
	Status Status
	// State is the component's own word for where it is (an upstream's
	// UpstreamState); "" when Status says it all.
	State string
	// Detail is one plain sentence (never a secret).
	Detail string
	// Since is when the component entered State (zero if unknown).
	Since time.Time
}

// healthCheck is a registered check (AddHealthCheck).
type healthCheck struct {
	kind, name string
	fn         func(ctx context.Context) (Status, string)
}

// AddHealthCheck adds a component whose health fn reports when the health
// report is asked for (on the admin API, never per request). fn should be
// quick and honour ctx.
func (m *Metrics) AddHealthCheck(kind, name string, fn func(ctx context.Context) (Status, string)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks = append(m.checks, healthCheck{kind: kind, name: name, fn: fn})
}

// Health runs the registered checks and lists them with every upstream's
// state, sorted by kind and name. An upstream that is ready or stopped is
// ok, one starting or in backoff degraded, a failed one down.
func (m *Metrics) Health(ctx context.Context) []Component {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	checks := slices.Clone(m.checks)
	var out []Component
	for k, u := range m.ups {
		st := StatusDegraded
		switch u.state {
		case UpstreamReady, UpstreamStopped:
			st = StatusOK
		case UpstreamFailed:
			st = StatusDown
		}
		out = append(out, Component{Kind: "upstream", Name: k.tenant + "/" + k.name, Status: st,
			State: string(u.state), Detail: u.detail, Since: u.since})
	}
	m.mu.Unlock()
	for _, c := range checks {
		st, detail := c.fn(ctx)
		out = append(out, Component{Kind: c.kind, Name: c.name, Status: st, Detail: detail})
	}
	slices.SortFunc(out, func(a, b Component) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Overall is the worst status among cs (ok for none).
func Overall(cs []Component) Status {
	worst := StatusOK
	for _, c := range cs {
		switch {
		case c.Status == StatusDown:
			return StatusDown
		case c.Status == StatusDegraded:
			worst = StatusDegraded
		}
	}
	return worst
}
