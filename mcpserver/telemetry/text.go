package telemetry

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the metrics in the text exposition format. It does no
// access control: mount it behind the check that decides who may read
// them.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		_ = m.WriteText(w)
	})
}

// WriteText writes every metric family in the text exposition format,
// families and series in a stable order.
//
// The format is written by hand rather than with
// prometheus/client_golang: Plexus has a handful of fixed families, and
// the library would bring half a dozen modules (protobuf among them) into
// a desktop binary for them.
func (m *Metrics) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if m == nil {
		return bw.Flush()
	}
	m.mu.Lock()
	type callRow struct {
		k callKey
		s callSeries
	}
	calls := make([]callRow, 0, len(m.calls))
	for k, s := range m.calls {
		c := *s
		c.buckets = slices.Clone(s.buckets)
		calls = append(calls, callRow{k, c})
	}
	type upRow struct {
		k upstreamKey
		u upstream
	}
	ups := make([]upRow, 0, len(m.ups))
	for k, u := range m.ups {
		ups = append(ups, upRow{k, *u})
	}
	gauges := slices.Clone(m.gauges)
	started, version := m.started, m.version
	m.mu.Unlock()

	slices.SortFunc(calls, func(a, b callRow) int {
		return cmp.Or(cmp.Compare(a.k.tenant, b.k.tenant), cmp.Compare(a.k.tool, b.k.tool))
	})
	slices.SortFunc(ups, func(a, b upRow) int {
		return cmp.Or(cmp.Compare(a.k.tenant, b.k.tenant), cmp.Compare(a.k.name, b.k.name))
	})

	e := encoder{w: bw}
	e.family("plexus_build_info", "gauge", "Plexus build; the value is always 1.")
	e.sample("plexus_build_info", []string{"version"}, []string{version}, 1)
	e.family("plexus_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.")
	e.sample("plexus_start_time_seconds", nil, nil, float64(started.UnixNano())/1e9)

	e.family("plexus_tool_calls_total", "counter", "Tool calls by tenant, tool and outcome (ok, tool_error, invalid_arguments, credential_required, error).")
	for _, c := range calls {
		for o := range numOutcomes {
			if n := c.s.outcomes[o]; n > 0 {
				e.sample("plexus_tool_calls_total", []string{"tenant", "tool", "outcome"}, []string{c.k.tenant, c.k.tool, o.String()}, float64(n))
			}
		}
	}
	e.family("plexus_tool_call_duration_seconds", "histogram", "Tool call latency by tenant and tool, from the arguments check to the result.")
	for _, c := range calls {
		var cum uint64
		labels := []string{"tenant", "tool", "le"}
		for i, ub := range latencyBuckets {
			cum += c.s.buckets[i]
			e.sample("plexus_tool_call_duration_seconds_bucket", labels, []string{c.k.tenant, c.k.tool, formatFloat(ub)}, float64(cum))
		}
		e.sample("plexus_tool_call_duration_seconds_bucket", labels, []string{c.k.tenant, c.k.tool, "+Inf"}, float64(c.s.count))
		e.sample("plexus_tool_call_duration_seconds_sum", labels[:2], []string{c.k.tenant, c.k.tool}, c.s.sum)
		e.sample("plexus_tool_call_duration_seconds_count", labels[:2], []string{c.k.tenant, c.k.tool}, float64(c.s.count))
	}

	e.family("plexus_upstream_restarts_total", "counter", "Restarts of an upstream MCP server after a failure.")
	for _, u := range ups {
		e.sample("plexus_upstream_restarts_total", []string{"tenant", "upstream"}, []string{u.k.tenant, u.k.name}, float64(u.u.restarts))
	}
	e.family("plexus_upstream_state", "gauge", "State of an upstream MCP server: 1 for its current state, 0 for the others.")
	for _, u := range ups {
		states := upstreamStates
		if !slices.Contains(states, u.u.state) {
			states = append(slices.Clone(states), u.u.state)
		}
		for _, st := range states {
			v := 0.0
			if st == u.u.state {
				v = 1
			}
			e.sample("plexus_upstream_state", []string{"tenant", "upstream", "state"}, []string{u.k.tenant, u.k.name, string(st)}, v)
		}
	}

	for _, g := range gauges {
		e.family(g.name, "gauge", g.help)
		type row struct {
			values []string
			v      float64
		}
		var rows []row
		g.fn(func(v float64, labelValues ...string) {
			if len(labelValues) == len(g.labels) {
				rows = append(rows, row{slices.Clone(labelValues), v})
			}
		})
		slices.SortFunc(rows, func(a, b row) int { return slices.Compare(a.values, b.values) })
		for _, r := range rows {
			e.sample(g.name, g.labels, r.values, r.v)
		}
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// encoder writes the text format and keeps the first write error.
type encoder struct {
	w   *bufio.Writer
	err error
}

func (e *encoder) write(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *encoder) family(name, typ, help string) {
	e.write("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

func (e *encoder) sample(name string, labels, values []string, v float64) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			b.WriteString(escapeLabel(values[i]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
	e.write(b.String())
}

// escapeLabel escapes a label value: backslash, double quote and line
// feed (the text format's rule); invalid UTF-8 becomes U+FFFD.
func escapeLabel(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
