package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// The Servers page: the other MCP servers (upstreams) of the current
// tenant, whose tools, resources and prompts the tenant shows as
// NAME__item. A server is added with the command that starts it on this
// computer or the web address where it runs, and may get one of your
// stored API keys (as an environment variable or a header) and your
// account at an OAuth provider (as a bearer token): the form names them,
// the values never pass through it. Each server's page says how it is
// doing, restarts it, shows what it printed (its bounded log, with every
// injected secret masked), edits it and removes it after a typed
// confirmation.

const serversSentence = "Other MCP servers whose tools Claude can use through Plexus."

// Limits of the server form (the vault checks the rest).
const (
	maxServerCommand = 4096
	maxServerURL     = 2048
	maxServerEnv     = 8 << 10
	maxServerEnvVars = 64
	maxHeaderName    = 128
	// maxLogLines bounds the log lines a page shows (the newest).
	maxLogLines = 300
)

// serversHandler is GET /ui/servers.
type serversHandler struct{ h *Handler }

func (p serversHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	h := p.h
	sc, ok := h.scoped(w, r, s, "Servers", frontend.NavServers, serversSentence)
	if !ok {
		return
	}
	v := frontend.ServersView{Shell: h.shell(r, s, "Servers", frontend.NavServers, sc.tenants), Tenant: sc.ref()}
	ups, err := h.opts.Ops.ListUpstreams(r.Context(), sc.tenant.ID)
	switch {
	case isUnsupported(err):
		v.Unavailable = true
	case err != nil:
		h.fail(w, r, fmt.Errorf("list servers: %w", err))
		return
	}
	now := h.now()
	for _, u := range ups {
		v.Servers = append(v.Servers, serverRow(u, now))
	}
	h.render(w, r, http.StatusOK, s, frontend.ServersPage(v))
}

func (h *Handler) now() time.Time {
	if h.opts.Now != nil {
		return h.opts.Now()
	}
	return time.Now()
}

// serverRow says how u is reached and how it is doing, in words.
func serverRow(u apiv1.Upstream, now time.Time) frontend.ServerRow {
	row := frontend.ServerRow{Name: u.Name, Where: "Runs on this computer", Target: joinCommandLine(u.Command, u.Args)}
	if u.Transport != string(vault.UpstreamStdio) {
		row.Where, row.Target = "At a web address", u.URL
	}
	for _, c := range u.Credentials {
		row.Uses = append(row.Uses, credentialWords(c))
	}
	row.State, row.StateLabel, row.StateText = serverState(u, now)
	if st := u.Status; st != nil && st.Listed {
		var parts []string
		for _, c := range []struct {
			n         int
			one, many string
		}{{st.Tools, "tool", "tools"}, {st.Resources, "resource", "resources"}, {st.ResourceTemplates, "resource template", "resource templates"}, {st.Prompts, "prompt", "prompts"}} {
			if c.n > 0 {
				parts = append(parts, count(c.n, c.one, c.many))
			}
		}
		row.Offers = frontend.ListWords(parts)
		if row.Offers == "" {
			row.Offers = "Nothing"
		}
	}
	return row
}

// credentialWords says which credential c is and where it goes.
func credentialWords(c apiv1.UpstreamCredential) string {
	if c.Kind == string(vault.CredentialOAuth) {
		return "your " + c.Provider + " account, as a bearer token"
	}
	if c.Env != "" {
		return "your " + c.Provider + " API key, as the variable " + c.Env
	}
	return "your " + c.Provider + " API key, in the header " + c.Header
}

// serverState is u's state as a pill and a sentence a person can act on.
func serverState(u apiv1.Upstream, now time.Time) (frontend.Status, string, string) {
	st := u.Status
	if st == nil {
		return frontend.StatusNever, "Unknown", "This Plexus does not run servers, so it cannot say how this one is doing."
	}
	running, starting := 0, 0
	var failed *apiv1.UpstreamInstance
	for i, in := range st.Instances {
		switch in.State {
		case "running":
			running++
		case "starting":
			starting++
		case "backoff":
			if failed == nil {
				failed = &st.Instances[i]
			}
		}
	}
	idle := "It starts when Claude first uses it, and stops after a while without use."
	switch {
	case failed != nil:
		text := failureWords(failed.LastError)
		if !failed.NextStart.IsZero() {
			text += " Plexus tries again " + until(now, failed.NextStart) + "."
		}
		text += " What it printed, below, usually says why."
		return frontend.StatusBad, "Problem", text
	case running > 0:
		text := "Running"
		if u.PerUser {
			text = fmt.Sprintf("Running for %d people, each with their own key", running)
			if running == 1 {
				text = "Running for 1 person, with their own key"
			}
		} else if in := st.Instances[0]; !in.StartedAt.IsZero() {
			text += " since " + ago(now, in.StartedAt)
			if in.PID > 0 {
				text += fmt.Sprintf(" (process %d)", in.PID)
			}
		}
		return frontend.StatusOK, "Running", text + "."
	case starting > 0:
		return frontend.StatusWarn, "Starting", "Starting. A server that npx or uvx downloads first can take a minute the first time."
	case st.Waiting != "":
		return frontend.StatusNever, "Not running", "Waiting: " + st.Waiting + ". " + idle
	}
	return frontend.StatusNever, "Not running", idle
}

// failureWords says in plain words what happened to a server that is
// not running (from the supervisor's error text), with its last output
// when the error carries it.
func failureWords(lastError string) string {
	var text string
	switch {
	case strings.Contains(lastError, "could not start"):
		text = "It could not start."
	case strings.Contains(lastError, "process exited"):
		text = "It stopped unexpectedly."
	case strings.Contains(lastError, "(hung)"):
		text = "It stopped answering, so Plexus restarted it."
	case strings.Contains(lastError, "connection lost"):
		text = "Plexus lost its connection to it."
	default:
		text = "It is not running."
	}
	if _, last, ok := strings.Cut(lastError, "; its last output: "); ok && strings.TrimSpace(last) != "" {
		text += " The last thing it printed: “" + strings.TrimSpace(last) + "”."
	}
	return text
}

// serverInput is what the server form holds, as typed.
type serverInput struct {
	Name, Kind, Command, URL, Key, KeyAs, SignIn, Env string
}

// serverErrors are a form's problems by field ("" = the form).
type serverErrors map[string]string

// parseServerForm reads the server form into the request for the admin
// operations. Problems are sentences for a person, by field; they never
// quote the input.
func parseServerForm(f url.Values) (serverInput, apiv1.UpstreamRequest, serverErrors) {
	in := serverInput{
		Name: strings.TrimSpace(f.Get("name")), Kind: f.Get("kind"), Command: strings.TrimSpace(f.Get("command")),
		URL: strings.TrimSpace(f.Get("url")), Key: f.Get("key"), KeyAs: strings.TrimSpace(f.Get("key_as")),
		SignIn: f.Get("sign_in"), Env: f.Get("env"),
	}
	errs := serverErrors{}
	req := apiv1.UpstreamRequest{Name: in.Name}
	switch in.Kind {
	case "stdio", "http", "sse":
		req.Transport = in.Kind
	default:
		in.Kind = "stdio"
		errs["kind"] = "Choose where the server runs."
	}
	if len(in.Name) > vault.MaxUpstreamNameLen || strings.IndexFunc(in.Name, unicode.IsControl) >= 0 {
		errs["name"] = fmt.Sprintf("Use at most %d lowercase letters, digits, - and _.", vault.MaxUpstreamNameLen)
	}
	if in.Kind == "stdio" {
		switch {
		case in.Command == "":
			errs["command"] = "Type the command that starts the server, for example npx -y @modelcontextprotocol/server-everything."
		case len(in.Command) > maxServerCommand:
			errs["command"] = fmt.Sprintf("This command is too long (at most %d characters).", maxServerCommand)
		default:
			req.Command = in.Command
		}
	} else {
		switch {
		case in.URL == "":
			errs["url"] = "Type the server’s web address, for example https://example.com/mcp."
		case len(in.URL) > maxServerURL:
			errs["url"] = fmt.Sprintf("This address is too long (at most %d characters).", maxServerURL)
		default:
			req.URL = in.URL
		}
	}
	if in.Key != "" {
		if err := vault.ValidateProviderName(in.Key); err != nil {
			errs["key"] = "Choose one of your keys from the list."
		}
		c := apiv1.UpstreamCredential{Kind: string(vault.CredentialAPIKey), Provider: in.Key}
		switch {
		case in.KeyAs == "" && in.Kind == "stdio":
			errs["key_as"] = "Type the variable the server reads the key from, such as OPENAI_API_KEY (its instructions say which)."
		case in.KeyAs == "":
			errs["key_as"] = "Type the header the server expects the key in, such as X-Api-Key, or Authorization: Bearer."
		case len(in.KeyAs) > maxHeaderName || strings.IndexFunc(in.KeyAs, unicode.IsControl) >= 0:
			errs["key_as"] = "This name is too long or has characters a name cannot have."
		case in.Kind == "stdio":
			c.Env = in.KeyAs
		default:
			c.Header, c.Scheme, _ = strings.Cut(in.KeyAs, ":")
			c.Header, c.Scheme = strings.TrimSpace(c.Header), strings.TrimSpace(c.Scheme)
		}
		req.Credentials = append(req.Credentials, c)
	}
	if in.SignIn != "" {
		switch {
		case in.Kind == "stdio":
			errs["sign_in"] = "An account can only go to a server at a web address. For a server on this computer, use an API key."
		case vault.ValidateProviderName(in.SignIn) != nil:
			errs["sign_in"] = "Choose one of the services from the list."
		}
		req.Credentials = append(req.Credentials, apiv1.UpstreamCredential{Kind: string(vault.CredentialOAuth), Provider: in.SignIn})
	}
	env, msg := parseEnvLines(in.Env)
	if msg != "" {
		errs["env"] = msg
	} else if len(env) > 0 {
		if in.Kind != "stdio" {
			errs["env"] = "Settings like these are only for a server on this computer. Leave this empty for a web address."
		}
		req.Env = env
	}
	return in, req, errs
}

// parseEnvLines reads NAME=value lines (blank lines skipped); the message
// says what is wrong, by line number.
func parseEnvLines(raw string) (map[string]string, string) {
	if len(raw) > maxServerEnv {
		return nil, fmt.Sprintf("This is too long (at most %d characters).", maxServerEnv)
	}
	env := map[string]string{}
	for i, line := range strings.Split(strings.ReplaceAll(raw, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Sprintf("Line %d is not NAME=value.", i+1)
		}
		if strings.IndexFunc(value, unicode.IsControl) >= 0 {
			return nil, fmt.Sprintf("The value on line %d has characters a setting cannot have.", i+1)
		}
		if len(env) == maxServerEnvVars {
			return nil, fmt.Sprintf("At most %d settings.", maxServerEnvVars)
		}
		env[name] = value
	}
	return env, ""
}

// joinCommandLine writes command and args as one line that
// adminops.SplitCommandLine reads back into the same words: a word with
// anything but plain characters goes in single quotes.
func joinCommandLine(command string, args []string) string {
	words := append([]string{command}, args...)
	for i, w := range words {
		if w != "" && strings.IndexFunc(w, func(r rune) bool {
			return !(r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@%+=:,./-_", r)))
		}) < 0 {
			continue
		}
		words[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	if command == "" && len(args) == 0 {
		return ""
	}
	return strings.Join(words, " ")
}

// serverFormFields is the form's fields with in's values and errs.
func (h *Handler) serverForm(r *http.Request, tenant, post string, adding bool, in serverInput, errs serverErrors) frontend.ServerForm {
	f := frontend.ServerForm{
		Post: post, Button: "Save changes", Adding: adding, Error: errs[""],
		Name: frontend.Field{Name: "name", Label: "Name", Value: echo(in.Name), Error: errs["name"], Required: true, Mono: true,
			MaxLength: vault.MaxUpstreamNameLen, Placeholder: "everything",
			Help: "Lowercase letters, digits, - and _. Its tools appear as NAME__tool, so keep it short."},
		Kind: in.Kind, KindError: errs["kind"],
		Command: frontend.Field{Name: "command", Label: "Command (for a server on this computer)", Value: echo(in.Command), Error: errs["command"], Mono: true,
			Placeholder: "npx -y @modelcontextprotocol/server-everything",
			Help: "As the server’s instructions give it. Plexus runs it directly, not through a shell, and stops it when it is not needed. " +
				"If Plexus cannot find the program, give its full path (in a terminal, command -v npx prints it)."},
		URL: frontend.Field{Name: "url", Label: "Web address (for a server at a web address)", Value: echo(in.URL), Error: errs["url"], Mono: true,
			Placeholder: "https://example.com/mcp", MaxLength: maxServerURL},
		Key: in.Key, KeyError: errs["key"],
		KeyAs: frontend.Field{Name: "key_as", Label: "Give the key as", Value: echo(in.KeyAs), Error: errs["key_as"], Mono: true, MaxLength: maxHeaderName,
			Placeholder: "OPENAI_API_KEY",
			Help:        "For a server on this computer: the environment variable it reads, such as OPENAI_API_KEY. For a web address: the header, such as X-Api-Key (or Authorization: Bearer)."},
		SignIn: in.SignIn, SignInError: errs["sign_in"],
		Env: frontend.TextArea{Rows: 3, Field: frontend.Field{Name: "env", Label: "Settings for the program (not secrets)", Value: echo(in.Env), Error: errs["env"], Mono: true,
			Placeholder: "LOG_LEVEL=info",
			Help:        "One NAME=value a line, for a server on this computer. They are stored as they are: put keys under An API key instead."}},
	}
	if adding {
		f.Button = "Add server"
	}
	f.Keys = []frontend.Option{{Value: "", Label: "None"}}
	if keys, err := h.opts.Ops.Connections(r.Context(), tenant, apiv1.LocalOwner); err == nil {
		for _, k := range keys.APIKeys {
			label := k.Provider
			if k.Hint != "" {
				label += " (•••• " + k.Hint + ")"
			}
			f.Keys = append(f.Keys, frontend.Option{Value: k.Provider, Label: label})
		}
	}
	if in.Key != "" && !slices.ContainsFunc(f.Keys, func(o frontend.Option) bool { return o.Value == in.Key }) {
		f.Keys = append(f.Keys, frontend.Option{Value: in.Key, Label: in.Key + " (you have not stored this key)"})
	}
	f.SignIns = []frontend.Option{{Value: "", Label: "None"}}
	if ps, err := h.opts.Ops.ListProviders(r.Context(), tenant); err == nil {
		for _, p := range ps {
			f.SignIns = append(f.SignIns, frontend.Option{Value: p.Name, Label: h.displayName(p)})
		}
	}
	if in.SignIn != "" && !slices.ContainsFunc(f.SignIns, func(o frontend.Option) bool { return o.Value == in.SignIn }) {
		f.SignIns = append(f.SignIns, frontend.Option{Value: in.SignIn, Label: in.SignIn + " (not under Providers)"})
	}
	return f
}

// serverProblem puts an operation's refusal on the form field it is
// about; ok is false for an error that is not the form's fault.
func serverProblem(err error, in serverInput) (field, msg string, ok bool) {
	if errors.Is(err, vault.ErrExists) {
		return "name", "This tenant has a server called " + in.Name + " already. Choose another name, or change that one.", true
	}
	field, msg, ok = opsProblem(err)
	if !ok {
		return "", "", false
	}
	switch field {
	case "name", "command", "url", "env":
	case "transport":
		field = "kind"
	case "credentials":
		field = "key_as"
		if in.SignIn != "" && (strings.Contains(msg, "OAuth") || strings.Contains(msg, "provider") || strings.Contains(msg, "access token")) {
			field = "sign_in"
		}
	default:
		field = ""
	}
	return field, msg, true
}

// addServerHandler is GET /ui/servers/_add.
type addServerHandler struct{ h *Handler }

func (p addServerHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderAddServer(w, r, s, http.StatusOK, serverInput{Kind: "stdio"}, serverErrors{})
}

func (h *Handler) renderAddServer(w http.ResponseWriter, r *http.Request, s *session, status int, in serverInput, errs serverErrors) {
	sc, ok := h.scoped(w, r, s, "Add a server", frontend.NavServers, serversSentence)
	if !ok {
		return
	}
	h.render(w, r, status, s, frontend.AddServerPage(frontend.AddServerView{
		Shell:  h.shell(r, s, "Add a server", frontend.NavServers, sc.tenants),
		Tenant: sc.ref(),
		Form:   h.serverForm(r, sc.tenant.ID, "/ui/servers", true, in, errs),
	}))
}

// createServerHandler is POST /ui/servers.
type createServerHandler struct{ h *Handler }

func (p createServerHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	in, req, errs := parseServerForm(form)
	if in.Name == "" {
		errs["name"] = "Choose a name, for example everything."
	}
	sc, ok := h.scoped(w, r, s, "Add a server", frontend.NavServers, serversSentence)
	if !ok {
		return
	}
	if len(errs) == 0 {
		u, err := h.opts.Ops.AddUpstream(r.Context(), sc.tenant.ID, req)
		if err == nil {
			h.log.InfoContext(r.Context(), "Server added in the admin UI", "tenant", sc.tenant.ID, "upstream", u.Name)
			s.setFlash(frontend.FlashOK, addedMessage(u))
			h.saveAndRedirect(w, r, s, "/ui/servers/"+u.Name)
			return
		}
		if isUnsupported(err) {
			errs[""] = "This Plexus does not run other servers."
		} else {
			field, msg, ok := serverProblem(err, in)
			if !ok {
				h.fail(w, r, fmt.Errorf("add server: %w", err))
				return
			}
			errs[field] = msg
		}
	}
	h.renderAddServer(w, r, s, http.StatusUnprocessableEntity, in, errs)
}

// addedMessage says how adding u went.
func addedMessage(u apiv1.Upstream) string {
	row := serverRow(u, time.Now())
	switch {
	case row.State == frontend.StatusBad:
		return "Server " + u.Name + " added, but it does not run yet: see below what it printed."
	case row.Offers != "":
		return "Server " + u.Name + " added. Claude can now use its " + row.Offers + "."
	}
	return "Server " + u.Name + " added. Its tools appear once it has started."
}

// loadServer reads the current tenant's server named by the path; an
// unknown one (or another tenant's) gets the 404 page.
func (h *Handler) loadServer(w http.ResponseWriter, r *http.Request, s *session) (scope, apiv1.Upstream, bool) {
	sc, ok := h.scoped(w, r, s, "Servers", frontend.NavServers, serversSentence)
	if !ok {
		return scope{}, apiv1.Upstream{}, false
	}
	name := r.PathValue("name")
	var u apiv1.Upstream
	err := vault.ValidateUpstreamName(name)
	if err == nil {
		u, err = h.opts.Ops.GetUpstream(r.Context(), sc.tenant.ID, name)
	}
	switch {
	case err == nil:
		return sc, u, true
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrInvalid), isUnsupported(err):
		h.notFound(w, r, "Server not found", "Tenant "+sc.tenant.Name+" has no server by this name. It may have been removed, or belong to another tenant.",
			frontend.Action{Label: "Go to Servers", Href: "/ui/servers"})
	default:
		h.fail(w, r, fmt.Errorf("get server: %w", err))
	}
	return scope{}, apiv1.Upstream{}, false
}

// serverPageState is what a form left on a server's page.
type serverPageState struct {
	typed               *serverInput
	errs                serverErrors
	confirm, confirmErr string
}

// serverHandler is GET /ui/servers/{name}.
type serverHandler struct{ h *Handler }

func (p serverHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderServer(w, r, s, http.StatusOK, serverPageState{})
}

// inputOf is the form's view of u; kept says what the form does not show
// (and an update keeps).
func inputOf(u apiv1.Upstream) (in serverInput, kept []apiv1.UpstreamCredential) {
	in = serverInput{Name: u.Name, Kind: u.Transport, Command: joinCommandLine(u.Command, u.Args), URL: u.URL}
	for _, c := range u.Credentials {
		switch {
		case c.Kind == string(vault.CredentialAPIKey) && in.Key == "":
			in.Key, in.KeyAs = c.Provider, c.Env
			if c.Env == "" {
				in.KeyAs = c.Header
				if c.Scheme != "" {
					in.KeyAs += ": " + c.Scheme
				}
			}
		case c.Kind == string(vault.CredentialOAuth) && in.SignIn == "":
			in.SignIn = c.Provider
		default:
			kept = append(kept, c)
		}
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(u.Env)) {
		lines = append(lines, k+"="+u.Env[k])
	}
	in.Env = strings.Join(lines, "\n")
	return in, kept
}

func (h *Handler) renderServer(w http.ResponseWriter, r *http.Request, s *session, status int, st serverPageState) {
	sc, u, ok := h.loadServer(w, r, s)
	if !ok {
		return
	}
	now := h.now()
	row := serverRow(u, now)
	in, kept := inputOf(u)
	if st.typed != nil {
		in = *st.typed
	}
	if st.errs == nil {
		st.errs = serverErrors{}
	}
	base := "/ui/servers/" + u.Name
	v := frontend.ServerView{
		Shell:  h.shell(r, s, u.Name, frontend.NavServers, sc.tenants),
		Tenant: sc.ref(),
		Row:    row,
		Form:   h.serverForm(r, sc.tenant.ID, base, false, in, st.errs),
		Delete: frontend.DangerZone{
			Title: "Remove this server",
			Text: "Plexus stops it and its tools leave " + sc.tenant.Name + " at once; Claude is told. " +
				"Your keys and accounts stay in Plexus.",
			Post: base + "/delete", Confirm: u.Name, Button: "Remove server " + u.Name,
			Value: st.confirm, Error: st.confirmErr,
		},
	}
	if len(kept) > 0 {
		v.Form.Kept = "It also gets " + count(len(kept), "more key or account", "more keys or accounts") +
			", set with the command line; saving keeps them."
	}
	v.Facts = append(v.Facts, [2]string{row.Where, row.Target})
	if row.Offers != "" {
		v.Facts = append(v.Facts, [2]string{"Gives Claude", row.Offers})
	}
	if len(row.Uses) > 0 {
		v.Facts = append(v.Facts, [2]string{"Gets", frontend.ListWords(row.Uses)})
	}
	if u.PerUser {
		v.Facts = append(v.Facts, [2]string{"Copies", "One for each person who uses it, with their own keys"})
	} else {
		v.Facts = append(v.Facts, [2]string{"Copies", "One, shared by every chat of " + sc.tenant.Name})
	}
	if u.Status != nil {
		for _, in := range u.Status.Instances {
			if in.Server != "" {
				v.Facts = append(v.Facts, [2]string{"Reports itself as", in.Server})
				break
			}
		}
		v.Problems = u.Status.Problems
	}
	lines, err := h.opts.Ops.UpstreamLog(r.Context(), sc.tenant.ID, u.Name)
	if err == nil {
		ls := lines.Lines
		if len(ls) > maxLogLines {
			v.LogNote = fmt.Sprintf("Only the newest %d lines are shown.", maxLogLines)
			ls = ls[len(ls)-maxLogLines:]
		}
		for _, l := range ls {
			from := "Server"
			switch l.Source {
			case "plexus":
				from = "Plexus"
			case "notification":
				from = "Message"
			}
			v.Log = append(v.Log, frontend.ServerLogLine{Time: l.Time.Local().Format("15:04:05"), From: from, Text: l.Text, Plexus: l.Source == "plexus"})
		}
	}
	h.render(w, r, status, s, frontend.ServerPage(v))
}

// updateServerHandler is POST /ui/servers/{name}.
type updateServerHandler struct{ h *Handler }

func (p updateServerHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, u, ok := h.loadServer(w, r, s)
	if !ok {
		return
	}
	form.Set("name", u.Name) // a server is not renamed
	in, req, errs := parseServerForm(form)
	if len(errs) == 0 {
		_, kept := inputOf(u)
		req.Credentials = append(req.Credentials, kept...)
		req.CallTimeoutSeconds, req.IdleTimeoutSeconds = u.CallTimeoutSeconds, u.IdleTimeoutSeconds
		updated, err := h.opts.Ops.UpdateUpstream(r.Context(), sc.tenant.ID, u.Name, req)
		if err == nil {
			h.log.InfoContext(r.Context(), "Server changed in the admin UI", "tenant", sc.tenant.ID, "upstream", u.Name)
			s.setFlash(frontend.FlashOK, "Server "+updated.Name+" saved. It starts again with the new settings.")
			h.saveAndRedirect(w, r, s, "/ui/servers/"+updated.Name)
			return
		}
		field, msg, ok := serverProblem(err, in)
		if !ok {
			if errors.Is(err, vault.ErrNotFound) {
				h.notFound(w, r, "Server not found", "This server was removed meanwhile.", frontend.Action{Label: "Go to Servers", Href: "/ui/servers"})
				return
			}
			h.fail(w, r, fmt.Errorf("update server: %w", err))
			return
		}
		errs[field] = msg
	}
	h.renderServer(w, r, s, http.StatusUnprocessableEntity, serverPageState{typed: &in, errs: errs})
}

// restartServerHandler is POST /ui/servers/{name}/restart.
type restartServerHandler struct{ h *Handler }

func (p restartServerHandler) post(w http.ResponseWriter, r *http.Request, s *session, _ url.Values) {
	h := p.h
	sc, u, ok := h.loadServer(w, r, s)
	if !ok {
		return
	}
	_, err := h.opts.Ops.RestartUpstream(r.Context(), sc.tenant.ID, u.Name)
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "Server restarted in the admin UI", "tenant", sc.tenant.ID, "upstream", u.Name)
		s.setFlash(frontend.FlashOK, "Server "+u.Name+" restarted.")
	case isUnsupported(err):
		s.setFlash(frontend.FlashError, "This Plexus does not run servers, so there is nothing to restart.")
	case errors.Is(err, vault.ErrNotFound):
		h.notFound(w, r, "Server not found", "This server was removed meanwhile.", frontend.Action{Label: "Go to Servers", Href: "/ui/servers"})
		return
	default:
		h.fail(w, r, fmt.Errorf("restart server: %w", err))
		return
	}
	h.saveAndRedirect(w, r, s, "/ui/servers/"+u.Name)
}

// deleteServerHandler is POST /ui/servers/{name}/delete, confirmed by
// typing the server's name.
type deleteServerHandler struct{ h *Handler }

func (p deleteServerHandler) post(w http.ResponseWriter, r *http.Request, s *session, form url.Values) {
	h := p.h
	sc, u, ok := h.loadServer(w, r, s)
	if !ok {
		return
	}
	typed := form.Get("confirm")
	if msg := confirmProblem(typed, u.Name); msg != "" {
		h.renderServer(w, r, s, http.StatusUnprocessableEntity, serverPageState{confirm: echo(typed), confirmErr: msg})
		return
	}
	err := h.opts.Ops.DeleteUpstream(r.Context(), sc.tenant.ID, u.Name)
	switch {
	case err == nil, errors.Is(err, vault.ErrNotFound):
	default:
		h.fail(w, r, fmt.Errorf("remove server: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "Server removed in the admin UI", "tenant", sc.tenant.ID, "upstream", u.Name)
	s.setFlash(frontend.FlashOK, "Server "+u.Name+" removed. Its tools are gone from "+sc.tenant.Name+".")
	h.saveAndRedirect(w, r, s, "/ui/servers")
}
