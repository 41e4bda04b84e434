package mcpserver

// Upstream MCP servers (issue 11): a tenant mounts an upstream (a vault
// record, vault.Upstream) and its tools, resources, resource templates and
// prompts appear in the tenant as "{name}__{item}" (upstream.ItemName),
// as the source "upstream:{name}" (sources.go). Calls go to the upstream
// through package upstream, which keeps the session and supervises the
// process.
//
// # Who shares a process
//
// An upstream that injects no credential runs once per tenant: every
// caller of the tenant (every Claude Desktop window, every user) shares
// its one process or session. An upstream that injects credentials runs
// once per user whose credential it carries: each registered user (and
// the local owner, the person at this machine) gets a process of their own
// with their own API key or OAuth token, shared by all their sessions; a
// guest, whose credentials live only in one session, cannot use it (the
// tool answers that they must sign in). At most maxInstancesPerUpstream
// run at once per upstream; the least recently used idle one makes room.
//
// # Lazily, and at runtime
//
// Nothing starts with the daemon. A tenant's upstreams are read from the
// vault when the tenant is first used; those without credentials start
// then, to list their items, and a tools/list (resources/, prompts/)
// waits a little (WithUpstreamListWait) for the first lists; later ones
// come with list_changed. An upstream with credentials lists its items
// through the first user who has them (the local owner when they do).
// The vault announces every change (vault.UpstreamChanged): a new
// upstream is started and listed, a changed one is restarted with its new
// settings, a removed one is stopped and its items leave the tenant; a
// user's changed API key restarts that user's process, while a changed
// OAuth connection does not (its client loads the token at every request;
// a disconnected or expired one ends the user's idle session:
// upstream_oauth.go). Connected clients get list_changed each time.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// UpstreamStore is the part of the vault upstreams need; *vault.Vault
// satisfies it. A Store without it serves no upstreams.
type UpstreamStore interface {
	ListUpstreams(ctx context.Context, tenantID string) ([]vault.Upstream, error)
	GetUpstream(ctx context.Context, tenantID, name string) (vault.Upstream, error)
}

var _ UpstreamStore = (*vault.Vault)(nil)

// Defaults of upstreams.
const (
	// DefaultUpstreamListWait bounds how long a list request waits for
	// upstreams that are still starting.
	DefaultUpstreamListWait = 5 * time.Second
	// maxInstancesPerUpstream bounds the processes (sessions) one
	// upstream runs at once: one per user carrying their own credential.
	maxInstancesPerUpstream = 64
	// sharedOwner keys the one instance of an upstream without credentials.
	sharedOwner = ""
)

// UpstreamOptions configures upstream MCP servers.
type UpstreamOptions struct {
	// BaseEnv is the environment every stdio upstream starts with
	// (upstream.BaseEnv of the daemon's environment); its declared
	// variables and credentials are added to it.
	BaseEnv []string
	// Guard is the argv prefix of the guard stdio upstreams run under:
	// the plexus binary and upstream.GuardCommand. Nil: no guard (process
	// group and, on Linux, the parent-death signal only).
	Guard []string
	// HTTPTransport carries requests to http and sse upstreams (nil: one
	// with a pool of keep-alive connections).
	HTTPTransport http.RoundTripper
	// ListWait bounds how long a list request waits for upstreams still
	// starting (0: DefaultUpstreamListWait).
	ListWait time.Duration
	// CallTimeout, IdleTimeout and StartTimeout are the defaults of
	// upstreams that set none (0: package upstream's defaults).
	CallTimeout, IdleTimeout, StartTimeout time.Duration
}

// WithUpstreams configures upstream MCP servers (see UpstreamOptions).
func WithUpstreams(o UpstreamOptions) Option { return func(s *Server) { s.upstreamOpts = o } }

// upstreamHub runs every tenant's upstreams.
type upstreamHub struct {
	s     *Server
	store UpstreamStore // nil: none
	opts  UpstreamOptions
	rt    http.RoundTripper

	mu      sync.Mutex
	tenants map[string]*tenantUpstreams
	closed  bool
}

// tenantUpstreams is one tenant's mounts.
type tenantUpstreams struct {
	id     string
	loaded chan struct{} // closed once the records were read
	// reloads counts changes announced while the records were being read
	// and applied after them (onChange): a list or call waits for them
	// too, or an upstream added in that window would be missed.
	reloads sync.WaitGroup
	pending atomic.Int32 // reloads not done yet
	mu      sync.Mutex
	mounts  map[string]*mount
}

// settled is closed once tu's records were read and the changes announced
// meanwhile applied.
func (tu *tenantUpstreams) settled() <-chan struct{} {
	done := make(chan struct{})
	if tu.pending.Load() == 0 {
		select {
		case <-tu.loaded:
			close(done) // the usual case: nothing to wait for, no goroutine
			return done
		default:
		}
	}
	go func() {
		<-tu.loaded
		tu.reloads.Wait()
		close(done)
	}()
	return done
}

// mount is one upstream of one tenant, with its instances.
type mount struct {
	h      *upstreamHub
	tenant string
	cfg    vault.Upstream
	log    *upstream.Log

	mu        sync.Mutex
	instances map[string]*upstream.Instance // by owner: sharedOwner or a user id
	closed    bool
	catalog   upstream.Catalog
	known     bool          // a catalog arrived
	listed    chan struct{} // closed when the first catalog arrived
	problems  []string      // items refused, why
	waiting   string        // why no catalog yet (no credentials), "" otherwise
	// names maps the tenant's names back to the upstream's own (tools,
	// prompts).
	tools, prompts map[string]string
}

func newUpstreamHub(s *Server) *upstreamHub {
	h := &upstreamHub{s: s, opts: s.upstreamOpts, tenants: make(map[string]*tenantUpstreams)}
	h.store, _ = s.store.(UpstreamStore)
	if h.opts.ListWait <= 0 {
		h.opts.ListWait = DefaultUpstreamListWait
	}
	h.rt = h.opts.HTTPTransport
	if h.rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
		t.IdleConnTimeout = 90 * time.Second
		h.rt = t
	}
	return h
}

// sourceKey is an upstream's source key.
func sourceKey(name string) string { return "upstream:" + name }

// tenantUsed reads a tenant's upstreams, the first time it is used, and
// starts listing those that need no credential. It does not wait.
func (h *upstreamHub) tenantUsed(tenant string) {
	if h == nil || h.store == nil {
		return
	}
	h.ensure(tenant)
}

// ensure returns tenant's mounts, reading them (in the background) on
// first use.
func (h *upstreamHub) ensure(tenant string) *tenantUpstreams {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	tu := h.tenants[tenant]
	if tu != nil {
		h.mu.Unlock()
		return tu
	}
	tu = &tenantUpstreams{id: tenant, loaded: make(chan struct{}), mounts: map[string]*mount{}}
	h.tenants[tenant] = tu
	h.mu.Unlock()
	go h.load(tu)
	return tu
}

// load reads tu's records and mounts them.
func (h *upstreamHub) load(tu *tenantUpstreams) {
	defer close(tu.loaded)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ups, err := h.store.ListUpstreams(ctx, tu.id)
	if err != nil {
		if !errors.Is(err, vault.ErrNotFound) {
			h.s.log.Error("Reading upstreams", "tenant", tu.id, "err", err)
		}
		return
	}
	for _, u := range ups {
		h.mount(tu, u)
	}
}

// mount starts serving u in tu (replacing a mount of the same name).
func (h *upstreamHub) mount(tu *tenantUpstreams, u vault.Upstream) {
	m := &mount{h: h, tenant: tu.id, cfg: u, log: upstream.NewLog(0), instances: map[string]*upstream.Instance{},
		listed: make(chan struct{}), tools: map[string]string{}, prompts: map[string]string{}}
	tu.mu.Lock()
	old := tu.mounts[u.Name]
	if old != nil {
		m.log = old.log // one log across changes of the settings
		old.mu.Lock()
		m.catalog, m.known, m.tools, m.prompts = old.catalog, old.known, old.tools, old.prompts
		old.mu.Unlock()
	}
	tu.mounts[u.Name] = m
	tu.mu.Unlock()
	if old != nil {
		m.log.Add("plexus", "settings changed; restarting")
		old.mu.Lock()
		old.closed = true
		old.mu.Unlock()
		go old.closeInstances()
	}
	m.reportState()
	go m.discover(context.Background(), "")
}

// lookupMount returns tenant's mount called name, if any.
func (h *upstreamHub) lookupMount(tenant, name string) *mount {
	h.mu.Lock()
	tu := h.tenants[tenant]
	h.mu.Unlock()
	if tu == nil {
		return nil
	}
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return tu.mounts[name]
}

// mounts returns tenant's mounts, sorted by name.
func (tu *tenantUpstreams) list() []*mount {
	tu.mu.Lock()
	defer tu.mu.Unlock()
	return slices.SortedFunc(maps.Values(tu.mounts), func(a, b *mount) int { return strings.Compare(a.cfg.Name, b.cfg.Name) })
}

// awaitDiscovery holds a request until tenant's upstreams (only the one
// called only, if set) that can list their items for this caller have
// done so, at most ListWait: a list request then shows them, and a call
// of one of their items finds it. An upstream that failed to start (in
// backoff) is not waited for.
func (h *upstreamHub) awaitDiscovery(ctx context.Context, tenant, only string) {
	if h == nil || h.store == nil {
		return
	}
	tu := h.ensure(tenant)
	if tu == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.ListWait)
	defer cancel()
	select {
	case <-tu.loaded:
	case <-ctx.Done():
		return
	}
	select {
	case <-tu.settled():
	case <-ctx.Done():
		return
	}
	c, _ := tools.CallerFrom(ctx)
	for _, m := range tu.list() {
		if only != "" && m.cfg.Name != only {
			continue
		}
		m.mu.Lock()
		known := m.known
		m.mu.Unlock()
		if known {
			continue
		}
		owner := sharedOwner
		if m.cfg.NeedsCredentials() {
			if c.UserID == "" {
				continue
			}
			owner = c.UserID
		}
		in, err := m.instance(owner)
		if err != nil {
			continue
		}
		if st := in.Status().State; st == upstream.StateBackoff || st == upstream.StateClosed {
			continue
		}
		_ = in.Start(ctx) // joins a start in progress; gives up with ctx
		if ctx.Err() != nil {
			return
		}
	}
}

// awaitItem is awaitDiscovery for a call of item (a tool or prompt name,
// or a resource URI): only the upstream its name starts with is waited
// for, and only if it has not listed its items yet.
func (h *upstreamHub) awaitItem(ctx context.Context, tenant, item string) {
	name, _, ok := strings.Cut(item, upstream.Separator)
	if !ok || h == nil {
		return
	}
	if m := h.lookupMount(tenant, name); m != nil {
		m.mu.Lock()
		known := m.known
		m.mu.Unlock()
		if known {
			return
		}
	}
	h.awaitDiscovery(ctx, tenant, name)
}

// discover starts an instance (for owner; "" means the shared one, or the
// local owner's for an upstream with credentials) so that the upstream
// lists its items.
func (m *mount) discover(ctx context.Context, owner string) {
	m.offerConnect() // upstream_oauth.go
	if m.cfg.NeedsCredentials() && owner == "" {
		id, err := m.h.s.localOwner(ctx, m.tenant)
		if err != nil {
			return
		}
		owner = id
	}
	in, err := m.instance(owner)
	if err != nil {
		return
	}
	if err := in.Start(ctx); err != nil {
		if cm, ok := errors.AsType[*credentialMissing](err); ok {
			m.mu.Lock()
			if !m.known {
				m.waiting = fmt.Sprintf("its items are listed once a user who has the %s starts it", cm.what())
			}
			m.mu.Unlock()
		}
		return
	}
}

// instance returns owner's instance of m, creating it.
func (m *mount) instance(owner string) (*upstream.Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("upstream %s: %w", m.cfg.Name, upstream.ErrClosed)
	}
	if in := m.instances[owner]; in != nil {
		return in, nil
	}
	if len(m.instances) >= maxInstancesPerUpstream && !m.evictLocked() {
		return nil, fmt.Errorf("upstream %s already runs for %d users at once; try again later: %w", m.cfg.Name, maxInstancesPerUpstream, upstream.ErrUnavailable)
	}
	u := m.cfg
	o := m.h.opts
	cfg := upstream.Config{
		Name:         u.Name,
		Transport:    string(u.Transport),
		Command:      u.Command,
		Args:         u.Args,
		URL:          u.URL,
		Guard:        o.Guard,
		Prepare:      func(ctx context.Context) (upstream.Launch, error) { return m.prepare(ctx, owner) },
		CallTimeout:  orDefault(u.CallTimeout, o.CallTimeout),
		IdleTimeout:  orDefault(u.IdleTimeout, o.IdleTimeout),
		StartTimeout: o.StartTimeout,
		Log:          m.log,
		Logger:       m.h.s.log.With("tenant", m.tenant),
		Version:      serverVersion,
		OnCatalog:    m.setCatalog,
		OnState:      func(upstream.State, string) { m.reportState() }, // upstream_state.go
		OnRestart:    m.reportRestart,
	}
	in := upstream.New(cfg)
	m.instances[owner] = in
	return in, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// evictLocked closes the least recently used idle instance.
func (m *mount) evictLocked() bool {
	var victim string
	var oldest time.Time
	found := false
	for owner, in := range m.instances {
		st := in.Status()
		if st.InFlight > 0 || st.State == upstream.StateStarting {
			continue
		}
		if !found || st.LastUsed.Before(oldest) {
			victim, oldest, found = owner, st.LastUsed, true
		}
	}
	if found {
		in := m.instances[victim]
		delete(m.instances, victim)
		go in.Close()
	}
	return found
}

// credentialMissing is a credential an upstream needs that its owner has
// not stored (or connected).
type credentialMissing struct {
	cred     vault.UpstreamCredential
	upstream string
	err      error
}

func (e *credentialMissing) Error() string {
	return fmt.Sprintf("upstream %s needs the %s (%s): %v", e.upstream, e.what(), e.cred.Target(), e.err)
}

func (e *credentialMissing) Unwrap() error { return e.err }

func (e *credentialMissing) what() string {
	if e.cred.Kind == vault.CredentialOAuth {
		return e.cred.Provider + " connection"
	}
	return e.cred.Provider + " API key"
}

// prepare gathers what owner's instance of m starts with: the environment
// (stdio) or the HTTP client (http, sse) carrying owner's credentials.
func (m *mount) prepare(ctx context.Context, owner string) (upstream.Launch, error) {
	u := m.cfg
	var l upstream.Launch
	keys := map[int]string{}
	for i, c := range u.Credentials {
		if c.Kind != vault.CredentialAPIKey {
			continue
		}
		b, err := m.h.s.store.GetCredential(ctx, m.tenant, owner, vault.CredentialAPIKey, c.Provider)
		if errors.Is(err, vault.ErrNotFound) || (err == nil && len(b) == 0) {
			return l, &credentialMissing{cred: c, upstream: u.Name, err: tools.ErrAPIKeyMissing}
		}
		if err != nil {
			return l, fmt.Errorf("read the %s API key: %w", c.Provider, err)
		}
		keys[i] = string(b)
		l.Secrets = append(l.Secrets, string(b))
	}
	if u.Transport == vault.UpstreamStdio {
		env := slices.Clone(m.h.opts.BaseEnv)
		for _, k := range slices.Sorted(maps.Keys(u.Env)) {
			env = setEnv(env, k, u.Env[k])
		}
		for i, c := range u.Credentials {
			env = setEnv(env, c.Env, keys[i])
		}
		l.Env = env
		return l, nil
	}
	origin, err := egress.OriginOfURL(u.URL)
	if err != nil {
		// Not a credential URL (plain http to another host, no credentials).
		origin = plainOrigin(u.URL)
	}
	headers := func(r *http.Request) {
		for i, c := range u.Credentials {
			if v, ok := keys[i]; ok {
				if c.Scheme != "" {
					v = c.Scheme + " " + v
				}
				r.Header.Set(c.Header, v)
			}
		}
	}
	for _, c := range u.Credentials {
		if c.Kind != vault.CredentialOAuth {
			continue
		}
		if m.h.s.oauth == nil {
			return l, &credentialMissing{cred: c, upstream: u.Name, err: errOAuthUnavailable}
		}
		hc, err := m.h.s.oauth.Client(ctx, oauth.Owner{TenantID: m.tenant, UserID: owner}, c.Provider, nil)
		if err != nil {
			if errors.Is(err, oauth.ErrConsentRequired) || errors.Is(err, oauth.ErrUnknownProvider) {
				return l, &credentialMissing{cred: c, upstream: u.Name, err: err}
			}
			return l, fmt.Errorf("the %s connection: %w", c.Provider, err)
		}
		// The OAuth client sends the token (Authorization: Bearer) only to
		// the provider's API origins and refreshes it; API-key headers are
		// added under it.
		// The token is added below this client: note it as it goes out, so
		// an upstream that echoes it does not hand it back.
		seen := new(egress.BearerSeen)
		l.HTTPClient = &http.Client{Transport: headerTransport{set: headers, next: seen.Wrap(hc.Transport)}, CheckRedirect: hc.CheckRedirect}
		l.Seen = seen.Tokens
		return l, nil
	}
	if len(keys) == 0 {
		// Nothing to inject: the origin guard and the redirect rule only,
		// no copy of each request.
		l.HTTPClient = &http.Client{Transport: egress.Guard([]egress.Origin{origin}, m.h.rt), CheckRedirect: egress.CheckRedirect}
		return l, nil
	}
	l.HTTPClient = egress.NewClient([]egress.Origin{origin}, headers, egress.WithTransport(m.h.rt))
	return l, nil
}

// plainOrigin is the origin of an upstream URL that egress.CheckURL does
// not accept (plain http to another host, allowed without credentials).
func plainOrigin(raw string) egress.Origin {
	u, err := parseURL(raw)
	if err != nil {
		return ""
	}
	return egress.OriginOf(u)
}

// headerTransport adds API-key headers to a clone of each request.
type headerTransport struct {
	set  func(*http.Request)
	next http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	t.set(r)
	return t.next.RoundTrip(r)
}

// setEnv sets name=value in env.
func setEnv(env []string, name, value string) []string {
	env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
	return append(env, name+"="+value)
}

// setCatalog turns an upstream's items into the tenant's and shows them.
func (m *mount) setCatalog(cat upstream.Catalog) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.catalog, m.waiting = cat, ""
	items, names, problems := m.items(cat)
	m.tools, m.prompts = names.tools, names.prompts
	m.mu.Unlock()
	refused := m.h.s.setSourceItems(m.tenant, sourceKey(m.cfg.Name), items)
	problems = append(problems, refused...)
	m.mu.Lock()
	m.problems = problems
	// known only now that the tenant's server shows the items: a call
	// that found it set (awaitItem) must find its tool there.
	first := !m.known
	m.known = true
	m.mu.Unlock()
	for _, p := range problems {
		m.log.Add("plexus", p)
	}
	if first {
		close(m.listed)
	}
	m.log.Add("plexus", fmt.Sprintf("lists %d tools, %d resources, %d resource templates, %d prompts",
		len(items.Tools), len(items.Resources), len(items.Templates), len(items.Prompts)))
}

// itemNames maps the tenant's names back to the upstream's.
type itemNames struct{ tools, prompts map[string]string }

// items builds the tenant's items from an upstream's catalog, and says
// which it could not take.
func (m *mount) items(cat upstream.Catalog) (sourceItems, itemNames, []string) {
	up := m.cfg.Name
	var out sourceItems
	names := itemNames{tools: map[string]string{}, prompts: map[string]string{}}
	var problems []string
	requires := ""
	for _, c := range m.cfg.Credentials {
		requires = string(c.Kind) + ":" + c.Provider
		if c.Kind == vault.CredentialOAuth {
			break
		}
	}
	for _, t := range cat.Tools {
		name := upstream.ItemName(up, t.Name)
		if prev, dup := names.tools[name]; dup {
			problems = append(problems, fmt.Sprintf("tool %q: its name %s is also tool %q's; not shown", t.Name, name, prev))
			continue
		}
		names.tools[name] = t.Name
		def := t
		def.Name = name
		out.Tools = append(out.Tools, sourceTool{
			ServerTool: server.ServerTool{Tool: def, Handler: m.h.toolHandler(m.tenant, up, t.Name)},
			ToolSets:   []string{up},
			Requires:   requires,
		})
	}
	for _, r := range cat.Resources {
		def := r
		def.URI = upstream.ResourceURI(up, r.URI)
		def.Name = up + upstream.Separator + r.Name
		out.Resources = append(out.Resources, server.ServerResource{Resource: def, Handler: m.h.resourceHandler(m.tenant, up)})
	}
	for _, t := range cat.Templates {
		if t.URITemplate == nil {
			continue
		}
		var tmpl mcp.URITemplate
		raw := upstream.ResourceURI(up, t.URITemplate.Raw())
		if err := tmpl.UnmarshalJSON([]byte(quoteJSON(raw))); err != nil {
			problems = append(problems, fmt.Sprintf("resource template %q: %v; not shown", t.URITemplate.Raw(), err))
			continue
		}
		def := t
		def.URITemplate = &tmpl
		def.Name = up + upstream.Separator + t.Name
		out.Templates = append(out.Templates, server.ServerResourceTemplate{Template: def, Handler: server.ResourceTemplateHandlerFunc(m.h.resourceHandler(m.tenant, up))})
	}
	for _, p := range cat.Prompts {
		name := upstream.ItemName(up, p.Name)
		if prev, dup := names.prompts[name]; dup {
			problems = append(problems, fmt.Sprintf("prompt %q: its name %s is also prompt %q's; not shown", p.Name, name, prev))
			continue
		}
		names.prompts[name] = p.Name
		def := p
		def.Name = name
		out.Prompts = append(out.Prompts, server.ServerPrompt{Prompt: def, Handler: m.h.promptHandler(m.tenant, up)})
	}
	return out, names, problems
}

// close stops every instance of m for good.
func (m *mount) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.closeInstances()
}

// closeInstances stops every instance of m (waiting for them).
func (m *mount) closeInstances() {
	m.mu.Lock()
	ins := slices.Collect(maps.Values(m.instances))
	m.instances = map[string]*upstream.Instance{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(in.Close)
	}
	wg.Wait()
}

// closeOwner stops owner's instance of m (its credential changed).
func (m *mount) closeOwner(owner string) {
	m.mu.Lock()
	in := m.instances[owner]
	delete(m.instances, owner)
	m.mu.Unlock()
	if in != nil {
		m.log.Add("plexus", "a credential changed; the process carrying it stops and starts again on the next call")
		in.Close()
	}
}

// uses reports whether m injects a credential of kind from provider.
func (m *mount) uses(kind vault.CredentialKind, provider string) bool {
	return slices.ContainsFunc(m.cfg.Credentials, func(c vault.UpstreamCredential) bool {
		return c.Kind == kind && c.Provider == provider
	})
}

// onUpstreamChange applies the vault's announcements to running upstreams.
// It never blocks: stopping processes happens in goroutines.
func (h *upstreamHub) onChange(c vault.Change) {
	if h == nil || h.store == nil {
		return
	}
	switch c.Kind {
	case vault.UpstreamChanged:
		h.mu.Lock()
		tu := h.tenants[c.TenantID]
		h.mu.Unlock()
		if tu == nil && !c.UpstreamDeleted {
			// Not used since the daemon started: read it all now, which
			// starts the new upstream to list its items.
			h.ensure(c.TenantID)
			return
		}
		if tu == nil {
			return
		}
		select {
		case <-tu.loaded:
			// Applied before the writer returns, so the admin operation
			// that made the change finds it (one quick read; processes
			// start and stop in goroutines).
			h.reload(tu, c.Upstream, c.UpstreamDeleted)
		default:
			tu.reloads.Add(1)
			tu.pending.Add(1)
			go func() {
				defer tu.reloads.Done()
				defer tu.pending.Add(-1)
				h.reload(tu, c.Upstream, c.UpstreamDeleted)
			}()
		}
	case vault.TenantDeleted:
		h.mu.Lock()
		tu := h.tenants[c.TenantID]
		delete(h.tenants, c.TenantID)
		h.mu.Unlock()
		h.s.sources.drop(c.TenantID)
		if tu != nil {
			go func() {
				<-tu.loaded
				for _, m := range tu.list() {
					m.reportRemoved()
					m.close()
				}
			}()
		}
	case vault.CredentialChanged, vault.UserDeleted:
		for _, m := range h.mountsOf(c.TenantID) {
			if c.Kind == vault.UserDeleted || m.uses(c.CredentialKind, c.Provider) {
				go m.afterCredentialChange(c) // upstream_oauth.go
			}
		}
	case vault.ProviderChanged:
		for _, m := range h.mountsOf(c.TenantID) {
			if m.uses(vault.CredentialOAuth, c.Provider) {
				m.mu.Lock()
				owners := slices.Collect(maps.Keys(m.instances))
				m.mu.Unlock()
				for _, o := range owners {
					go m.closeOwner(o)
				}
			}
		}
	}
}

// mountsOf returns the mounts of tenant loaded so far.
func (h *upstreamHub) mountsOf(tenant string) []*mount {
	h.mu.Lock()
	tu := h.tenants[tenant]
	h.mu.Unlock()
	if tu == nil {
		return nil
	}
	return tu.list()
}

// reload applies a change of tu's upstream name.
func (h *upstreamHub) reload(tu *tenantUpstreams, name string, deleted bool) {
	<-tu.loaded
	if !deleted {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		u, err := h.store.GetUpstream(ctx, tu.id, name)
		cancel()
		if err == nil {
			tu.mu.Lock()
			cur := tu.mounts[name]
			tu.mu.Unlock()
			if cur != nil && cur.cfg.UpdatedAt.Equal(u.UpdatedAt) && cur.cfg.CreatedAt.Equal(u.CreatedAt) {
				return // read by the tenant's first load already
			}
			h.mount(tu, u)
			return
		}
		if !errors.Is(err, vault.ErrNotFound) {
			h.s.log.Error("Reading upstream", "tenant", tu.id, "upstream", name, "err", err)
			return
		}
	}
	tu.mu.Lock()
	m := tu.mounts[name]
	delete(tu.mounts, name)
	tu.mu.Unlock()
	if m != nil {
		m.log.Add("plexus", "removed")
		m.mu.Lock()
		m.closed = true // its catalog may not come back now
		m.mu.Unlock()
		m.reportRemoved()
		go m.closeInstances()
	}
	h.s.setSourceItems(tu.id, sourceKey(name), sourceItems{})
}

// close stops every upstream of every tenant (daemon shutdown), waiting
// until ctx ends at most.
func (h *upstreamHub) close(ctx context.Context) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.closed = true
	all := slices.Collect(maps.Values(h.tenants))
	h.tenants = map[string]*tenantUpstreams{}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, tu := range all {
		wg.Go(func() {
			select {
			case <-tu.loaded:
			case <-ctx.Done():
				return
			}
			for _, m := range tu.list() {
				wg.Go(m.close)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// closeUpstreams stops every upstream at shutdown, within 10 seconds.
func (s *Server) closeUpstreams() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.upstreams.close(ctx)
}
