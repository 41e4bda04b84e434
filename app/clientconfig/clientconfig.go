// Package clientconfig adds Plexus to Claude Desktop's settings file,
// claude_desktop_config.json: one entry under "mcpServers" that starts
// `plexus stdio --tenant ID`.
//
// The file is the user's, and other programs' entries live in it, so the
// package is careful with it: it keeps every other key and server exactly
// (their order and their values; only the indentation is normalized),
// refuses a file it cannot parse (JSON with comments, invalid JSON, a
// top level or "mcpServers" that is not an object, a key given twice)
// with a message that says what to do, writes a timestamped backup of the
// old file first, and replaces the file atomically (a temp file in the
// same directory, fsync, rename) with the old file's mode, refusing when
// the file changed while it was being written. A symbolic link is
// followed, so the file it points to is changed and the link kept.
//
// It never writes anything else and never reads a file larger than
// MaxFileBytes.
package clientconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FileName is Claude Desktop's settings file.
const FileName = "claude_desktop_config.json"

// MaxFileBytes bounds the settings file Plexus reads.
const MaxFileBytes = 4 << 20

// ClaudeDesktopPath returns where Claude Desktop keeps its settings file on
// goos, from the environment (getenv): on macOS
// $HOME/Library/Application Support/Claude, on Windows %APPDATA%\Claude,
// elsewhere $XDG_CONFIG_HOME/Claude or $HOME/.config/Claude (what
// os.UserConfigDir gives on each).
func ClaudeDesktopPath(goos string, getenv func(string) string) (string, error) {
	join := filepath.Join
	if goos == "windows" {
		join = func(p ...string) string { return strings.Join(p, `\`) }
	}
	var dir string
	switch goos {
	case "windows":
		dir = getenv("APPDATA")
		if dir == "" {
			return "", errors.New("%APPDATA% is not set")
		}
	case "darwin", "ios":
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("$HOME is not set")
		}
		dir = join(home, "Library", "Application Support")
	default:
		dir = getenv("XDG_CONFIG_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			home := getenv("HOME")
			if home == "" {
				return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME is set")
			}
			dir = join(home, ".config")
		}
	}
	return join(dir, "Claude", FileName), nil
}

// ClaudeDesktopConfig is Claude Desktop's settings file under the user's
// config directory (os.UserConfigDir).
func ClaudeDesktopConfig(userConfigDir string) string {
	return filepath.Join(userConfigDir, "Claude", FileName)
}

// Server is one local MCP server entry: the command and its arguments.
type Server struct {
	Command string
	Args    []string
}

// State says whether the settings file connects Plexus.
type State int

// States.
const (
	// NotConnected: no entry starts this Plexus (the file may not exist).
	NotConnected State = iota
	// Connected: an entry (Status.Name) starts exactly this command.
	Connected
	// Differs: an entry with the name Plexus uses is there, but starts
	// something else (another binary, data folder or tenant).
	Differs
)

func (s State) String() string {
	switch s {
	case Connected:
		return "connected"
	case Differs:
		return "differs"
	}
	return "not connected"
}

// Status is what the settings file says about Plexus.
type Status struct {
	State State
	// Name is the entry found (Connected, Differs) or the name Connect
	// would write (NotConnected).
	Name string
	// FileExists is false when the file does not exist yet.
	FileExists bool
}

// Result is what Connect did.
type Result struct {
	Status
	// Changed is false when the file already connected Plexus (nothing
	// was written).
	Changed bool
	// Created is true when the file did not exist before.
	Created bool
	// Backup is the copy of the old file ("" when there was none).
	Backup string
}

// ParseError is a settings file Plexus will not change, and why, in
// plain words.
type ParseError struct {
	Path   string
	Reason string // "it contains comments (// or /* */)"
	// Line and Column locate a syntax error (0 when unknown).
	Line, Column int
}

func (e *ParseError) Error() string {
	at := ""
	if e.Line > 0 {
		at = fmt.Sprintf(" (line %d, column %d)", e.Line, e.Column)
	}
	return fmt.Sprintf("%s: %s%s", e.Path, e.Reason, at)
}

// ErrChanged is returned by Connect when the file changed between its
// read and the replace (Claude Desktop saved it meanwhile): nothing was
// written; try again.
var ErrChanged = errors.New("the settings file changed while Plexus was writing it")

// ErrTooLarge is returned for a settings file over MaxFileBytes.
var ErrTooLarge = errors.New("the settings file is larger than Plexus reads")

// Inspect reads the settings file at path and says whether an entry
// starts want; name is the entry name Plexus uses. A file that does not
// exist is NotConnected; one that cannot be parsed is a *ParseError.
func Inspect(path, name string, want Server) (Status, error) {
	data, _, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{State: NotConnected, Name: name}, nil
	}
	if err != nil {
		return Status{}, err
	}
	doc, err := parse(data)
	if err != nil {
		return Status{}, withPath(err, path)
	}
	st := doc.status(name, want)
	st.FileExists = true
	return st, nil
}

// Connect makes the settings file at path start want under name, unless
// an entry already does: it creates the file (and its directory) when
// missing, keeps everything else, writes a backup of the old file next to
// it (name.plexus-backup-<UTC time>) and replaces the file atomically with
// its old mode. An entry called name that starts something else is
// updated in place (its other fields kept). A file that cannot be parsed
// is refused with a *ParseError and left untouched.
func Connect(path, name string, want Server, now time.Time) (Result, error) {
	return connect(path, name, want, now, nil)
}

// connect is Connect; beforeRename, if set, runs just before the new file
// replaces the old one (tests change the file there).
func connect(path, name string, want Server, now time.Time, beforeRename func()) (Result, error) {
	if name == "" || want.Command == "" {
		return Result{}, errors.New("clientconfig: no entry name or command")
	}
	target := path
	if t, err := filepath.EvalSymlinks(path); err == nil {
		target = t
	}
	data, fi, err := read(target)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return Result{}, err
	}
	doc, err := parse(data)
	if err != nil {
		return Result{}, withPath(err, path)
	}
	st := doc.status(name, want)
	st.FileExists = exists
	if st.State == Connected {
		return Result{Status: st}, nil
	}
	if err := doc.setServer(name, want); err != nil {
		return Result{}, withPath(err, path)
	}
	out, err := doc.encode()
	if err != nil {
		return Result{}, err
	}

	mode := fs.FileMode(0o600)
	res := Result{Status: Status{State: Connected, Name: name, FileExists: true}, Changed: true, Created: !exists}
	if exists {
		mode = fi.Mode().Perm()
		if res.Backup, err = backup(target, data, mode, now); err != nil {
			return Result{}, err
		}
	} else if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return Result{}, fmt.Errorf("create %s: %w", filepath.Dir(target), err)
	}
	if err := replace(target, out, mode, data, exists, beforeRename); err != nil {
		return Result{}, err
	}
	return res, nil
}

// read reads the file at path, at most MaxFileBytes.
func read(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, nil, fmt.Errorf("%s: %w (%d bytes)", path, ErrTooLarge, MaxFileBytes)
	}
	return data, fi, nil
}

// backup writes the old content next to path (never over a file).
func backup(path string, data []byte, mode fs.FileMode, now time.Time) (string, error) {
	base := path + ".plexus-backup-" + now.UTC().Format("20060102T150405Z")
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		_, werr := f.Write(data)
		cerr := f.Chmod(mode)
		if errors.Is(cerr, errors.ErrUnsupported) {
			cerr = nil
		}
		if err := errors.Join(werr, cerr, f.Sync(), f.Close()); err != nil {
			_ = os.Remove(name)
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("back up %s: too many backups this second", path)
}

// replace writes data to a temp file beside path, syncs it, gives it
// mode, checks the file still holds old (or still does not exist), and
// renames it over path.
func replace(path string, data []byte, mode fs.FileMode, old []byte, existed bool, beforeRename func()) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmpName)
		}
	}()
	_, werr := tmp.Write(data)
	cerr := tmp.Chmod(mode)
	if errors.Is(cerr, errors.ErrUnsupported) {
		cerr = nil
	}
	if err := errors.Join(werr, cerr, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if beforeRename != nil {
		beforeRename()
	}
	now, _, err := read(path)
	switch {
	case existed && (err != nil || !bytes.Equal(now, old)):
		return ErrChanged
	case !existed && !errors.Is(err, fs.ErrNotExist):
		return ErrChanged
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func withPath(err error, path string) error {
	if pe, ok := errors.AsType[*ParseError](err); ok {
		pe.Path = path
	}
	return err
}

// member is one key of a JSON object and its value as written.
type member struct {
	key string
	raw json.RawMessage
}

// document is the settings file: its top-level object, in order.
type document struct{ members []member }

// parse reads a settings file: an optional UTF-8 byte order mark, then
// one JSON object (empty or blank content is an empty object).
func parse(data []byte) (*document, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return &document{}, nil
	}
	if !json.Valid(data) {
		return nil, syntaxProblem(data)
	}
	ms, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	doc := &document{members: ms}
	if i := doc.find("mcpServers"); i >= 0 {
		if _, err := parseObject(doc.members[i].raw); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && pe.Reason == notObject {
				return nil, &ParseError{Reason: `"mcpServers" is not an object`}
			}
			return nil, err
		}
	}
	return doc, nil
}

const notObject = "its top level is not a JSON object"

// parseObject splits valid JSON holding one object into its members,
// refusing a key given twice.
func parseObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, &ParseError{Reason: "it is not valid JSON"}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &ParseError{Reason: notObject}
	}
	var ms []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &ParseError{Reason: "it is not valid JSON"}
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &ParseError{Reason: "it is not valid JSON"}
		}
		if seen[key] {
			return nil, &ParseError{Reason: fmt.Sprintf("the key %s appears twice", quote(clip(key, 60)))}
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, &ParseError{Reason: "it is not valid JSON"}
		}
		ms = append(ms, member{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, &ParseError{Reason: "it is not valid JSON"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Reason: "it holds more than one JSON value"}
	}
	return ms, nil
}

// syntaxProblem explains invalid JSON: comments (Claude Desktop's own
// editor allows none, but people add them), or where the syntax error is.
func syntaxProblem(data []byte) error {
	if hasComment(data) {
		return &ParseError{Reason: "it contains comments (// or /* */), which JSON does not allow and Plexus would lose"}
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return &ParseError{Reason: "it is not valid JSON", Line: line, Column: col}
	}
	return &ParseError{Reason: "it is not valid JSON"}
}

// hasComment reports whether data has // or /* outside a string.
func hasComment(data []byte) bool {
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(data) && (data[i+1] == '/' || data[i+1] == '*'):
			return true
		}
	}
	return false
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

func (d *document) find(key string) int {
	return slices.IndexFunc(d.members, func(m member) bool { return m.key == key })
}

// servers returns the mcpServers members (none when absent).
func (d *document) servers() []member {
	i := d.find("mcpServers")
	if i < 0 {
		return nil
	}
	ms, _ := parseObject(d.members[i].raw) // checked by parse
	return ms
}

// status finds an entry that starts want, else one called name.
func (d *document) status(name string, want Server) Status {
	st := Status{State: NotConnected, Name: name}
	for _, m := range d.servers() {
		got, ok := decodeServer(m.raw)
		if ok && got.Command == want.Command && slices.Equal(got.Args, want.Args) {
			return Status{State: Connected, Name: m.key}
		}
		if m.key == name {
			st.State = Differs
		}
	}
	return st
}

// decodeServer reads an entry's command and args (other fields ignored).
func decodeServer(raw json.RawMessage) (Server, bool) {
	var s struct {
		Command *string  `json:"command"`
		Args    []string `json:"args"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Command == nil {
		return Server{}, false
	}
	return Server{Command: *s.Command, Args: s.Args}, true
}

// setServer puts want under mcpServers[name]: an object entry keeps its
// other fields and its place; anything else is replaced.
func (d *document) setServer(name string, want Server) error {
	entry := []member{{key: "command", raw: marshal(want.Command)}, {key: "args", raw: marshal(orEmpty(want.Args))}}
	servers := d.servers()
	if i := slices.IndexFunc(servers, func(m member) bool { return m.key == name }); i >= 0 {
		if old, err := parseObject(servers[i].raw); err == nil {
			entry = old
			for _, f := range []member{{"command", marshal(want.Command)}, {"args", marshal(orEmpty(want.Args))}} {
				if j := slices.IndexFunc(entry, func(m member) bool { return m.key == f.key }); j >= 0 {
					entry[j].raw = f.raw
				} else {
					entry = append(entry, f)
				}
			}
		}
		servers[i].raw = encodeObject(entry)
	} else {
		servers = append(servers, member{key: name, raw: encodeObject(entry)})
	}
	raw := encodeObject(servers)
	if i := d.find("mcpServers"); i >= 0 {
		d.members[i].raw = raw
	} else {
		d.members = append(d.members, member{key: "mcpServers", raw: raw})
	}
	return nil
}

// encode writes the document, indented by two spaces, with a final
// newline.
func (d *document) encode() ([]byte, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, encodeObject(d.members), "", "  "); err != nil {
		return nil, fmt.Errorf("clientconfig: encode: %w", err) // not expected: every part is valid JSON
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// encodeObject writes members as one compact JSON object.
func encodeObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(m.key))
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// marshal encodes v without HTML escaping (paths may hold & < >).
func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and string slices always encode
	return bytes.TrimRight(b.Bytes(), "\n")
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func quote(s string) string { return string(marshal(s)) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
