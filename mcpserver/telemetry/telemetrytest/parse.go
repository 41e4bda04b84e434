// Package telemetrytest parses the Prometheus text exposition format
// (version 0.0.4) strictly, for tests that scrape /metrics: every line
// must be a HELP, TYPE or sample line, every sample must belong to the
// family declared before it, label values must be escaped correctly, a
// series must not repeat and a histogram's buckets must be cumulative and
// end with +Inf equal to its _count.
package telemetrytest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sample is one line of a family.
type Sample struct {
	Name   string // with a histogram's _bucket, _sum or _count suffix
	Labels map[string]string
	Value  float64
}

// Family is one metric family.
type Family struct {
	Name, Help, Type string
	Samples          []Sample
}

// Find returns the samples named name whose labels include want.
func (f Family) Find(name string, want map[string]string) []Sample {
	var out []Sample
	for _, s := range f.Samples {
		if s.Name != name {
			continue
		}
		ok := true
		for k, v := range want {
			if s.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Parse reads a whole exposition and returns its families by name.
func Parse(r io.Reader) (map[string]*Family, error) {
	fams := make(map[string]*Family)
	var cur *Family
	seen := make(map[string]bool)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", line, text, fmt.Sprintf(format, args...))
		}
		switch {
		case text == "":
			return nil, fail("empty line")
		case strings.HasPrefix(text, "# HELP "):
			name, help, _ := strings.Cut(strings.TrimPrefix(text, "# HELP "), " ")
			if !metricName.MatchString(name) {
				return nil, fail("bad metric name")
			}
			if fams[name] != nil {
				return nil, fail("family %s declared twice", name)
			}
			cur = &Family{Name: name, Help: help}
			fams[name] = cur
		case strings.HasPrefix(text, "# TYPE "):
			name, typ, _ := strings.Cut(strings.TrimPrefix(text, "# TYPE "), " ")
			if cur == nil || cur.Name != name || cur.Type != "" {
				return nil, fail("TYPE not right after its HELP")
			}
			if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, typ) {
				return nil, fail("unknown type %q", typ)
			}
			cur.Type = typ
		case strings.HasPrefix(text, "#"):
			return nil, fail("unexpected comment")
		default:
			if cur == nil || cur.Type == "" {
				return nil, fail("sample before any TYPE")
			}
			s, key, err := parseSample(text)
			if err != nil {
				return nil, fail("%v", err)
			}
			if !belongs(cur, s.Name) {
				return nil, fail("sample %s outside its family %s", s.Name, cur.Name)
			}
			if seen[key] {
				return nil, fail("series repeated")
			}
			seen[key] = true
			if cur.Type == "counter" && (s.Value < 0 || math.IsNaN(s.Value)) {
				return nil, fail("negative counter")
			}
			cur.Samples = append(cur.Samples, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, f := range fams {
		if f.Type == "" {
			return nil, fmt.Errorf("family %s has no TYPE", f.Name)
		}
		if f.Type == "histogram" {
			if err := checkHistogram(f); err != nil {
				return nil, err
			}
		}
	}
	return fams, nil
}

func belongs(f *Family, name string) bool {
	if f.Type == "histogram" {
		return name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count"
	}
	return name == f.Name
}

// parseSample parses `name{l="v",...} value` and returns the sample and a
// key naming its series.
func parseSample(text string) (Sample, string, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(text, "{ ")
	if i < 0 {
		return s, "", fmt.Errorf("no value")
	}
	s.Name = text[:i]
	if !metricName.MatchString(s.Name) {
		return s, "", fmt.Errorf("bad metric name %q", s.Name)
	}
	rest := text[i:]
	var keys []string
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, "", fmt.Errorf("bad label")
			}
			name := rest[:eq]
			if !labelName.MatchString(name) {
				return s, "", fmt.Errorf("bad label name %q", name)
			}
			if _, dup := s.Labels[name]; dup {
				return s, "", fmt.Errorf("label %s repeated", name)
			}
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				c := rest[j]
				switch {
				case c == '\\' && j+1 < len(rest):
					j++
					switch rest[j] {
					case '\\':
						val.WriteByte('\\')
					case '"':
						val.WriteByte('"')
					case 'n':
						val.WriteByte('\n')
					default:
						return s, "", fmt.Errorf("bad escape in label %s", name)
					}
				case c == '"':
					rest, closed = rest[j+1:], true
				case c == '\n':
					return s, "", fmt.Errorf("raw line feed in label %s", name)
				default:
					val.WriteByte(c)
				}
				if closed {
					break
				}
			}
			if !closed {
				return s, "", fmt.Errorf("unterminated label %s", name)
			}
			s.Labels[name] = val.String()
			keys = append(keys, name+"="+strconv.Quote(val.String()))
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return s, "", fmt.Errorf("want , or } after label %s", name)
			}
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") {
		return s, "", fmt.Errorf("want a space before the value")
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, "", fmt.Errorf("want a value (and an optional timestamp)")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, "", err
	}
	s.Value = v
	slices.Sort(keys)
	return s, s.Name + "{" + strings.Join(keys, ",") + "}", nil
}

func parseValue(f string) (float64, error) {
	switch f {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(f, 64)
}

// checkHistogram checks that each series' buckets are cumulative and end
// with +Inf equal to its count.
func checkHistogram(f *Family) error {
	type series struct {
		buckets []Sample
		count   *Sample
	}
	all := map[string]*series{}
	key := func(s Sample) string {
		var ks []string
		for k, v := range s.Labels {
			if k != "le" {
				ks = append(ks, k+"="+v)
			}
		}
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
	for i := range f.Samples {
		s := f.Samples[i]
		k := key(s)
		if all[k] == nil {
			all[k] = &series{}
		}
		switch s.Name {
		case f.Name + "_bucket":
			if _, ok := s.Labels["le"]; !ok {
				return fmt.Errorf("%s: bucket without le", f.Name)
			}
			all[k].buckets = append(all[k].buckets, s)
		case f.Name + "_count":
			all[k].count = &f.Samples[i]
		}
	}
	for k, s := range all {
		if s.count == nil || len(s.buckets) == 0 {
			return fmt.Errorf("%s{%s}: buckets or count missing", f.Name, k)
		}
		prevLE, prev := math.Inf(-1), -1.0
		for _, b := range s.buckets {
			le, err := parseValue(b.Labels["le"])
			if err != nil || le <= prevLE {
				return fmt.Errorf("%s{%s}: le %q out of order", f.Name, k, b.Labels["le"])
			}
			if b.Value < prev {
				return fmt.Errorf("%s{%s}: buckets not cumulative", f.Name, k)
			}
			prevLE, prev = le, b.Value
		}
		last := s.buckets[len(s.buckets)-1]
		if last.Labels["le"] != "+Inf" || last.Value != s.count.Value {
			return fmt.Errorf("%s{%s}: last bucket must be +Inf equal to the count", f.Name, k)
		}
	}
	return nil
}
