package vault

// Declarative HTTP tools a tenant defines (issue 11): a tool whose call is
// one HTTP request built from templates. The record is configuration
// only: it names which of the caller's credentials is injected (the OAuth
// connection of a provider, or an API key in a header or query
// parameter), never a secret value. The vault checks the record's shape;
// package mcpserver/httptool compiles it (templates, input schema) and
// the admin operations refuse a definition that does not compile before
// it is written.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plexus-mcp/plexus/vault/egress"
)

// Limits on an HTTP tool record.
const (
	// MaxHTTPToolNameLen bounds an HTTP tool's name.
	MaxHTTPToolNameLen = 64
	// MaxHTTPToolResponseBytes bounds max_response_bytes.
	MaxHTTPToolResponseBytes = 8 << 20
	// MaxHTTPToolTimeoutSeconds bounds timeout_seconds.
	MaxHTTPToolTimeoutSeconds = 300
	maxHTTPToolDescription    = 4096
	maxHTTPToolSchema         = 64 << 10
	maxHTTPToolBody           = 64 << 10
	maxHTTPToolParams         = 32
	maxHTTPToolParamLen       = 2048
	maxHTTPToolPointer        = 512
)

// HTTPToolAuth names the credential of the calling user an HTTP tool
// sends, and how: Kind CredentialOAuth sends the user's OAuth connection
// to Provider as "Authorization: Bearer <token>" (through the provider's
// client, which refreshes it and holds it to the provider's API origins);
// Kind CredentialAPIKey sends the user's API key for Provider in Header
// (prefixed with Scheme and a space when Scheme is set) or in the query
// parameter QueryParam, only to the tool's URL origin.
type HTTPToolAuth struct {
	Kind       CredentialKind `json:"type"`
	Provider   string         `json:"provider_name"`
	Header     string         `json:"header,omitempty"`
	Scheme     string         `json:"scheme,omitempty"`
	QueryParam string         `json:"query_param,omitempty"`
}

// HTTPTool is a tenant's declarative HTTP tool. URL, Query values,
// Headers values and the strings of Body are templates: "{city}" stands
// for the call's argument "city", escaped for where it goes ("{{" and
// "}}" are literal braces). It holds no secret.
type HTTPTool struct {
	TenantID    string `json:"entity_id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// InputSchema is the tool's input JSON Schema (an object schema).
	InputSchema json.RawMessage `json:"input_schema"`
	// Method is GET, POST, PUT, PATCH or DELETE.
	Method string `json:"method"`
	// URL is an absolute https URL (http only to loopback) whose scheme,
	// host and port are literal: placeholders go in the path only.
	URL     string            `json:"url"`
	Query   map[string]string `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is a JSON template sent as the request body (application/json).
	Body json.RawMessage `json:"body,omitempty"`
	Auth *HTTPToolAuth   `json:"auth,omitempty"`
	// ResponsePointer (RFC 6901, "" for the whole body) selects the part
	// of a JSON answer the tool returns.
	ResponsePointer  string    `json:"response_pointer,omitempty"`
	MaxResponseBytes int       `json:"max_response_bytes,omitempty"`
	TimeoutSeconds   int       `json:"timeout_seconds,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

var httpToolName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidateHTTPToolName checks an HTTP tool's name: 1-64 of A-Z a-z 0-9
// _ - . (the MCP tool-name characters), starting with a letter or digit,
// without "__" (upstream servers' items are "{name}__{item}", so the two
// can never take each other's names). The error wraps ErrInvalid.
func ValidateHTTPToolName(name string) error {
	if !httpToolName.MatchString(name) {
		return invalidf("http tool name %q: 1-%d of letters, digits, \"_\", \"-\" and \".\", starting with a letter or digit", clip(name), MaxHTTPToolNameLen)
	}
	if strings.Contains(name, "__") {
		return invalidf(`http tool name %q: must not contain "__" (reserved for upstream servers' items)`, name)
	}
	return nil
}

// httpToolMethods are the methods an HTTP tool may use.
var httpToolMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// httpToolReservedHeaders are set by Plexus or the HTTP client; a
// definition may not set them.
var httpToolReservedHeaders = []string{"Connection", "Content-Length", "Content-Type", "Cookie", "Host", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func validHTTPToolHeader(field, h string) error {
	if err := validHeaderName(field, h); err != nil && !strings.Contains(err.Error(), "MCP transport") {
		return err
	}
	for _, r := range httpToolReservedHeaders {
		if strings.EqualFold(r, h) {
			return invalidf("%s %q: set by Plexus itself", field, h)
		}
	}
	return nil
}

// checkHTTPTool checks t's shape and returns it with cleaned copies.
func checkHTTPTool(t HTTPTool) (HTTPTool, error) {
	if err := ValidateTenantID(t.TenantID); err != nil {
		return t, err
	}
	if err := ValidateHTTPToolName(t.Name); err != nil {
		return t, err
	}
	if len(t.Description) > maxHTTPToolDescription {
		return t, invalidf("description: at most %d bytes", maxHTTPToolDescription)
	}
	if len(t.InputSchema) == 0 {
		t.InputSchema = json.RawMessage(`{"type":"object"}`)
	}
	if len(t.InputSchema) > maxHTTPToolSchema {
		return t, invalidf("input_schema: at most %d bytes", maxHTTPToolSchema)
	}
	var schema map[string]any
	if err := json.Unmarshal(t.InputSchema, &schema); err != nil {
		return t, invalidf("input_schema: must be a JSON object")
	}
	if t.Method == "" {
		t.Method = http.MethodGet
	}
	t.Method = strings.ToUpper(t.Method)
	if !containsString(httpToolMethods, t.Method) {
		return t, invalidf("method %q: want one of %s", clip(t.Method), strings.Join(httpToolMethods, ", "))
	}
	if err := checkHTTPToolURL(t.URL); err != nil {
		return t, err
	}
	if len(t.Query) > maxHTTPToolParams {
		return t, invalidf("query: at most %d parameters", maxHTTPToolParams)
	}
	for k, v := range t.Query {
		if k == "" || len(k) > maxHTTPToolParamLen || len(v) > maxHTTPToolParamLen {
			return t, invalidf("query parameter %q: name 1-%d bytes, value at most %d", clip(k), maxHTTPToolParamLen, maxHTTPToolParamLen)
		}
	}
	if len(t.Headers) > maxHTTPToolParams {
		return t, invalidf("headers: at most %d", maxHTTPToolParams)
	}
	seen := map[string]bool{}
	for k, v := range t.Headers {
		if err := validHTTPToolHeader("header", k); err != nil {
			return t, err
		}
		if seen[http.CanonicalHeaderKey(k)] {
			return t, invalidf("header %q: set twice", k)
		}
		seen[http.CanonicalHeaderKey(k)] = true
		if len(v) > maxHTTPToolParamLen || strings.ContainsAny(v, "\r\n\x00") {
			return t, invalidf("header %s: value of at most %d bytes on one line", k, maxHTTPToolParamLen)
		}
	}
	if len(bytes.TrimSpace(t.Body)) == 0 {
		t.Body = nil
	} else {
		if len(t.Body) > maxHTTPToolBody || !json.Valid(t.Body) {
			return t, invalidf("body: a JSON template of at most %d bytes", maxHTTPToolBody)
		}
		if t.Method == http.MethodGet {
			return t, invalidf("body: a GET request has no body (use query, or method POST)")
		}
	}
	if t.Auth != nil {
		a := *t.Auth
		t.Auth = &a
		if err := validKind(a.Kind); err != nil {
			return t, invalidf("auth: %v", err)
		}
		if err := ValidateProviderName(a.Provider); err != nil {
			return t, invalidf("auth: %v", err)
		}
		switch a.Kind {
		case CredentialOAuth:
			if a.Header != "" || a.QueryParam != "" || a.Scheme != "" {
				return t, invalidf("auth: an OAuth connection is sent as Authorization: Bearer; header, scheme and query_param are for API keys")
			}
			if seen["Authorization"] {
				return t, invalidf("header Authorization: the OAuth connection sets it")
			}
		case CredentialAPIKey:
			switch {
			case (a.Header == "") == (a.QueryParam == ""):
				return t, invalidf("auth: an API key goes in a header or in a query parameter: set exactly one of header and query_param")
			case a.Header != "":
				if err := validHTTPToolHeader("auth header", a.Header); err != nil {
					return t, err
				}
				if seen[http.CanonicalHeaderKey(a.Header)] {
					return t, invalidf("auth header %s: also set in headers", a.Header)
				}
				if a.Scheme != "" {
					if err := validHeaderName("auth scheme", a.Scheme); err != nil {
						return t, err
					}
				}
			default:
				if len(a.QueryParam) > maxHTTPToolParamLen {
					return t, invalidf("auth query_param: at most %d bytes", maxHTTPToolParamLen)
				}
				if a.Scheme != "" {
					return t, invalidf("auth: scheme is for a key in a header")
				}
				if _, dup := t.Query[a.QueryParam]; dup {
					return t, invalidf("auth query_param %q: also set in query", a.QueryParam)
				}
			}
		}
	}
	if t.ResponsePointer != "" && (t.ResponsePointer[0] != '/' || len(t.ResponsePointer) > maxHTTPToolPointer) {
		return t, invalidf("response_pointer: a JSON pointer such as /data/items (RFC 6901) of at most %d bytes, or empty for the whole answer", maxHTTPToolPointer)
	}
	if t.MaxResponseBytes < 0 || t.MaxResponseBytes > MaxHTTPToolResponseBytes {
		return t, invalidf("max_response_bytes: 1-%d, or 0 for the default", MaxHTTPToolResponseBytes)
	}
	if t.TimeoutSeconds < 0 || t.TimeoutSeconds > MaxHTTPToolTimeoutSeconds {
		return t, invalidf("timeout_seconds: 1-%d, or 0 for the default", MaxHTTPToolTimeoutSeconds)
	}
	t.Query = cloneStrings(t.Query)
	t.Headers = cloneStrings(t.Headers)
	return t, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func cloneStrings(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CheckHTTPTool checks an HTTP tool record as a write would (without
// writing it). The error wraps ErrInvalid.
func CheckHTTPTool(t HTTPTool) error {
	_, err := checkHTTPTool(t)
	return err
}

// ValidateHTTPToolURL checks an HTTP tool's URL template (see
// checkHTTPToolURL). The error wraps ErrInvalid.
func ValidateHTTPToolURL(raw string) error { return checkHTTPToolURL(raw) }

// checkHTTPToolURL checks the URL template: with its placeholders filled
// in, it passes egress.CheckURL (https, http only to loopback, no user
// info or fragment), and scheme, host and port hold no placeholder, so
// the origin a credential may reach is fixed by the definition.
func checkHTTPToolURL(raw string) error {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(raw, "http://")
	}
	if !ok {
		return invalidf("url: must start with https:// (http:// only to localhost)")
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.ContainsAny(authority, "{}") {
		return invalidf("url: scheme, host and port must be literal; placeholders go in the path (query values in query)")
	}
	filled := strings.NewReplacer("{", "x", "}", "x").Replace(raw)
	if err := egress.CheckURL(filled); err != nil {
		return invalidf("url: %v", err)
	}
	return nil
}

// GetHTTPTool returns one of a tenant's HTTP tools (ErrNotFound).
func (v *Vault) GetHTTPTool(ctx context.Context, tenantID, name string) (HTTPTool, error) {
	if err := ctx.Err(); err != nil {
		return HTTPTool{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return HTTPTool{}, err
	}
	if err := ValidateHTTPToolName(name); err != nil {
		return HTTPTool{}, err
	}
	var t HTTPTool
	err := v.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = getHTTPTool(tx, tenantID, name)
		return err
	})
	return t, err
}

func getHTTPTool(tx *bolt.Tx, tenantID, name string) (HTTPTool, error) {
	var t HTTPTool
	found, err := getJSON(tx.Bucket(bucketHTTPTools), scoped(tenantID, name), &t)
	if err != nil {
		return t, err
	}
	if !found {
		return t, fmt.Errorf("http tool %q of tenant %q: %w", name, tenantID, ErrNotFound)
	}
	return t, nil
}

// ListHTTPTools returns a tenant's HTTP tools sorted by name (ErrNotFound
// if the tenant does not exist).
func (v *Vault) ListHTTPTools(ctx context.Context, tenantID string) ([]HTTPTool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	out := []HTTPTool{}
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		return forPrefix(tx.Bucket(bucketHTTPTools), scoped(tenantID, ""), func(k, raw []byte) error {
			var t HTTPTool
			if err := json.Unmarshal(raw, &t); err != nil {
				return fmt.Errorf("decode http tool %q: %w", clip(string(k)), err)
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateHTTPTool stores a new HTTP tool (ErrExists; ErrNotFound if the
// tenant does not exist; ErrInvalid naming the field and rule).
// Subscribers are told (HTTPToolChanged) before it returns.
func (v *Vault) CreateHTTPTool(ctx context.Context, t HTTPTool) (HTTPTool, error) {
	return v.putHTTPTool(ctx, t, true)
}

// UpdateHTTPTool replaces an HTTP tool's definition (ErrNotFound,
// ErrInvalid); CreatedAt is kept. Subscribers are told (HTTPToolChanged).
func (v *Vault) UpdateHTTPTool(ctx context.Context, t HTTPTool) (HTTPTool, error) {
	return v.putHTTPTool(ctx, t, false)
}

func (v *Vault) putHTTPTool(ctx context.Context, t HTTPTool, create bool) (HTTPTool, error) {
	if err := ctx.Err(); err != nil {
		return HTTPTool{}, err
	}
	t, err := checkHTTPTool(t)
	if err != nil {
		return HTTPTool{}, err
	}
	err = v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, t.TenantID); err != nil {
			return err
		}
		b := tx.Bucket(bucketHTTPTools)
		key := scoped(t.TenantID, t.Name)
		now := v.nowUTC()
		if create {
			if b.Get(key) != nil {
				return fmt.Errorf("http tool %q of tenant %q: %w", t.Name, t.TenantID, ErrExists)
			}
			t.CreatedAt = now
		} else {
			old, err := getHTTPTool(tx, t.TenantID, t.Name)
			if err != nil {
				return err
			}
			t.CreatedAt = old.CreatedAt
		}
		t.UpdatedAt = now
		announce(Change{Kind: HTTPToolChanged, TenantID: t.TenantID, HTTPTool: t.Name})
		return putJSON(b, key, t)
	})
	if err != nil {
		return HTTPTool{}, err
	}
	return t, nil
}

// DeleteHTTPTool removes one of a tenant's HTTP tools (ErrNotFound).
// Subscribers are told (HTTPToolChanged with HTTPToolDeleted).
func (v *Vault) DeleteHTTPTool(ctx context.Context, tenantID, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	if err := ValidateHTTPToolName(name); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getHTTPTool(tx, tenantID, name); err != nil {
			return err
		}
		announce(Change{Kind: HTTPToolChanged, TenantID: tenantID, HTTPTool: name, HTTPToolDeleted: true})
		return tx.Bucket(bucketHTTPTools).Delete(scoped(tenantID, name))
	})
}
