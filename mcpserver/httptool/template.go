package httptool

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxPlaceholder bounds a placeholder's name.
const maxPlaceholder = 64

// ErrTemplate is wrapped by every template syntax error.
var ErrTemplate = errors.New("bad template")

// part is a literal or a placeholder of a template.
type part struct {
	lit string
	arg string // placeholder name; lit unused
}

// template is a parsed template string: "/cities/{city}" is the literal
// "/cities/" and the placeholder city. "{{" and "}}" are literal braces.
type template []part

// parseTemplate parses s. A placeholder names a top-level argument: a
// letter or "_", then letters, digits and "_", at most 64.
func parseTemplate(s string) (template, error) {
	var out template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				lit.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%w: %q opens a placeholder with \"{\" but never closes it (write \"{{\" for a literal brace)", ErrTemplate, clip(s))
			}
			name := s[i+1 : i+1+end]
			if !validArgName(name) {
				return nil, fmt.Errorf("%w: placeholder {%s}: name an argument (letters, digits and _, not starting with a digit, at most %d)", ErrTemplate, clip(name), maxPlaceholder)
			}
			flush()
			out = append(out, part{arg: name})
			i += end + 1
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				lit.WriteByte('}')
				i++
				continue
			}
			return nil, fmt.Errorf("%w: %q has a \"}\" that closes nothing (write \"}}\" for a literal brace)", ErrTemplate, clip(s))
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

func validArgName(n string) bool {
	if n == "" || len(n) > maxPlaceholder {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// args lists the placeholders of t.
func (t template) args() []string {
	var out []string
	for _, p := range t {
		if p.arg != "" {
			out = append(out, p.arg)
		}
	}
	return out
}

// single is the placeholder when t is exactly one placeholder.
func (t template) single() (string, bool) {
	if len(t) == 1 && t[0].arg != "" {
		return t[0].arg, true
	}
	return "", false
}

// hasArgs reports whether t has a placeholder.
func (t template) hasArgs() bool { return len(t.args()) > 0 }

// expand fills t in: each argument's text goes through esc (which may
// refuse it). present is false when an argument t names is absent (or
// null) in args.
func (t template) expand(args map[string]any, esc func(arg, text string) (string, error)) (out string, present bool, err error) {
	var b strings.Builder
	for _, p := range t {
		if p.arg == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := args[p.arg]
		if !ok || v == nil {
			return "", false, nil
		}
		text, err := scalarText(p.arg, v)
		if err != nil {
			return "", true, err
		}
		if esc != nil {
			if text, err = esc(p.arg, text); err != nil {
				return "", true, err
			}
		}
		b.WriteString(text)
	}
	return b.String(), true, nil
}

// scalarText is the text of a string, number or boolean argument.
func scalarText(arg string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case float64, float32, int, int64, int32, json.Number:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fmt.Errorf("argument %q: %v", arg, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("argument %q: a %s cannot go here; only a string, number or boolean can", arg, kindOf(v))
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}
