// This file is the whole surface of the admin API on one screen: each
// route decodes (if it has a body), runs one adminops operation and
// encodes its answer.

package adminapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// route is one pattern of the admin API and its handler.
type route struct {
	pattern string
	h       handler
}

func (a *api) routes() []route {
	ops := a.ops
	return []route{
		{"GET /api/v1/audit", serve(http.StatusOK, func(r *http.Request) (apiv1.AuditResponse, error) {
			return ops.Audit(r.Context(), auditQuery(r.URL.Query()))
		})},
		{"GET /api/v1/tenants", serve(http.StatusOK, func(r *http.Request) (apiv1.TenantList, error) {
			ts, err := ops.ListTenants(r.Context())
			return apiv1.TenantList{Tenants: ts}, err
		})},
		{"POST /api/v1/tenants", serveBody(http.StatusCreated, func(r *http.Request, req apiv1.CreateTenantRequest) (apiv1.TenantSecret, error) {
			return ops.CreateTenant(r.Context(), req)
		}, func(v apiv1.TenantSecret) string { return tenantPath(v.Tenant.ID) })},
		{"GET /api/v1/tenants/{id}", serve(http.StatusOK, func(r *http.Request) (apiv1.TenantBody, error) {
			t, err := ops.GetTenant(r.Context(), r.PathValue("id"))
			return apiv1.TenantBody{Tenant: t}, err
		})},
		{"PATCH /api/v1/tenants/{id}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.UpdateTenantRequest) (apiv1.TenantBody, error) {
			name := ""
			if req.Name != nil {
				name = *req.Name
			}
			t, err := ops.RenameTenant(r.Context(), r.PathValue("id"), name)
			return apiv1.TenantBody{Tenant: t}, err
		}, nil)},
		{"DELETE /api/v1/tenants/{id}", done(func(r *http.Request) error {
			_, err := ops.DeleteTenant(r.Context(), r.PathValue("id"))
			return err
		})},
		{"POST /api/v1/tenants/{id}/host-app-secret", serve(http.StatusOK, func(r *http.Request) (apiv1.TenantSecret, error) {
			return ops.RotateHostAppSecret(r.Context(), r.PathValue("id"))
		})},
		{"GET /api/v1/tenants/{id}/users", serve(http.StatusOK, func(r *http.Request) (apiv1.UserList, error) {
			us, err := ops.ListUsers(r.Context(), r.PathValue("id"))
			return apiv1.UserList{Users: us}, err
		})},
		{"POST /api/v1/tenants/{id}/users", serveBody(http.StatusOK, func(r *http.Request, req apiv1.CreateUserRequest) (apiv1.UserToken, error) {
			return ops.IssueUserToken(r.Context(), r.PathValue("id"), req.HostUserID)
		}, nil)},
		{"DELETE /api/v1/tenants/{id}/users/{uid}", done(func(r *http.Request) error {
			return ops.DeleteUser(r.Context(), r.PathValue("id"), r.PathValue("uid"))
		})},
		{"GET /api/v1/tenants/{id}/tokens", serve(http.StatusOK, func(r *http.Request) (apiv1.TokenList, error) {
			ts, err := ops.ListTokens(r.Context(), r.PathValue("id"), r.URL.Query().Get("user"))
			return apiv1.TokenList{Tokens: ts}, err
		})},
		{"DELETE /api/v1/tenants/{id}/tokens/{token_id}", done(func(r *http.Request) error {
			return ops.RevokeToken(r.Context(), r.PathValue("id"), r.PathValue("token_id"))
		})},

		{"GET /api/v1/oauth-presets", serve(http.StatusOK, func(*http.Request) (apiv1.PresetList, error) {
			return apiv1.PresetList{Presets: ops.Presets()}, nil
		})},
		{"GET /api/v1/tenants/{id}/ext-oauth", serve(http.StatusOK, func(r *http.Request) (apiv1.ProviderList, error) {
			ps, err := ops.ListProviders(r.Context(), r.PathValue("id"))
			return apiv1.ProviderList{Providers: ps}, err
		})},
		{"POST /api/v1/tenants/{id}/ext-oauth", serveBody(http.StatusCreated, func(r *http.Request, req apiv1.ProviderRequest) (apiv1.ProviderBody, error) {
			p, err := ops.CreateProvider(r.Context(), r.PathValue("id"), req)
			return apiv1.ProviderBody{Provider: p}, err
		}, func(v apiv1.ProviderBody) string {
			return tenantPath(v.Provider.TenantID) + "/ext-oauth/" + url.PathEscape(v.Provider.Name)
		})},
		{"GET /api/v1/tenants/{id}/ext-oauth/{provider}", serve(http.StatusOK, func(r *http.Request) (apiv1.ProviderBody, error) {
			p, err := ops.GetProvider(r.Context(), r.PathValue("id"), r.PathValue("provider"))
			return apiv1.ProviderBody{Provider: p}, err
		})},
		{"PATCH /api/v1/tenants/{id}/ext-oauth/{provider}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.ProviderPatch) (apiv1.ProviderUpdate, error) {
			return ops.UpdateProvider(r.Context(), r.PathValue("id"), r.PathValue("provider"), req)
		}, nil)},
		{"DELETE /api/v1/tenants/{id}/ext-oauth/{provider}", done(func(r *http.Request) error {
			return ops.DeleteProvider(r.Context(), r.PathValue("id"), r.PathValue("provider"))
		})},

		{"GET /api/v1/tenants/{id}/tools", serve(http.StatusOK, func(r *http.Request) (apiv1.ToolSettingsResponse, error) {
			return ops.ToolSettings(r.Context(), r.PathValue("id"))
		})},
		{"PUT /api/v1/tenants/{id}/tools", serveBody(http.StatusOK, func(r *http.Request, req apiv1.ToolSettings) (apiv1.ToolSettingsResponse, error) {
			return ops.PutToolSettings(r.Context(), r.PathValue("id"), req)
		}, nil)},
		{"POST /api/v1/tenants/{id}/tools/{name}/enable", toolSwitch(ops.SetToolEnabled, true)},
		{"POST /api/v1/tenants/{id}/tools/{name}/disable", toolSwitch(ops.SetToolEnabled, false)},
		{"POST /api/v1/tenants/{id}/tool-sets/{name}/enable", toolSwitch(ops.SetToolSetEnabled, true)},
		{"POST /api/v1/tenants/{id}/tool-sets/{name}/disable", toolSwitch(ops.SetToolSetEnabled, false)},

		{"GET /api/v1/tenants/{id}/users/{uid}/connections", serve(http.StatusOK, func(r *http.Request) (apiv1.ConnectionsResponse, error) {
			return ops.Connections(r.Context(), r.PathValue("id"), r.PathValue("uid"))
		})},
		{"DELETE /api/v1/tenants/{id}/users/{uid}/connections/{provider}", done(func(r *http.Request) error {
			return ops.Disconnect(r.Context(), r.PathValue("id"), r.PathValue("uid"), r.PathValue("provider"))
		})},
		{"PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.APIKeyRequest) (apiv1.APIKeySaved, error) {
			return ops.SetAPIKey(r.Context(), r.PathValue("id"), r.PathValue("uid"), r.PathValue("provider"), req.APIKeyValue)
		}, nil)},
		{"DELETE /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}", done(func(r *http.Request) error {
			return ops.DeleteAPIKey(r.Context(), r.PathValue("id"), r.PathValue("uid"), r.PathValue("provider"))
		})},

		{"GET /api/v1/tenants/{id}/upstreams", serve(http.StatusOK, func(r *http.Request) (apiv1.UpstreamList, error) {
			us, err := ops.ListUpstreams(r.Context(), r.PathValue("id"))
			return apiv1.UpstreamList{Upstreams: us}, err
		})},
		{"POST /api/v1/tenants/{id}/upstreams", serveBody(http.StatusCreated, func(r *http.Request, req apiv1.UpstreamRequest) (apiv1.UpstreamBody, error) {
			u, err := ops.AddUpstream(r.Context(), r.PathValue("id"), req)
			return apiv1.UpstreamBody{Upstream: u}, err
		}, func(v apiv1.UpstreamBody) string {
			return tenantPath(v.Upstream.TenantID) + "/upstreams/" + url.PathEscape(v.Upstream.Name)
		})},
		{"GET /api/v1/tenants/{id}/upstreams/{name}", serve(http.StatusOK, func(r *http.Request) (apiv1.UpstreamBody, error) {
			u, err := ops.GetUpstream(r.Context(), r.PathValue("id"), r.PathValue("name"))
			return apiv1.UpstreamBody{Upstream: u}, err
		})},
		{"PUT /api/v1/tenants/{id}/upstreams/{name}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.UpstreamRequest) (apiv1.UpstreamBody, error) {
			u, err := ops.UpdateUpstream(r.Context(), r.PathValue("id"), r.PathValue("name"), req)
			return apiv1.UpstreamBody{Upstream: u}, err
		}, nil)},
		{"DELETE /api/v1/tenants/{id}/upstreams/{name}", done(func(r *http.Request) error {
			return ops.DeleteUpstream(r.Context(), r.PathValue("id"), r.PathValue("name"))
		})},
		{"GET /api/v1/tenants/{id}/upstreams/{name}/log", serve(http.StatusOK, func(r *http.Request) (apiv1.UpstreamLog, error) {
			return ops.UpstreamLog(r.Context(), r.PathValue("id"), r.PathValue("name"))
		})},
		{"POST /api/v1/tenants/{id}/upstreams/{name}/restart", serve(http.StatusOK, func(r *http.Request) (apiv1.UpstreamBody, error) {
			u, err := ops.RestartUpstream(r.Context(), r.PathValue("id"), r.PathValue("name"))
			return apiv1.UpstreamBody{Upstream: u}, err
		})},

		{"GET /api/v1/tenants/{id}/http-tools", serve(http.StatusOK, func(r *http.Request) (apiv1.HTTPToolList, error) {
			hs, err := ops.ListHTTPTools(r.Context(), r.PathValue("id"))
			return apiv1.HTTPToolList{HTTPTools: hs}, err
		})},
		{"POST /api/v1/tenants/{id}/http-tools", serveBody(http.StatusCreated, func(r *http.Request, req apiv1.HTTPToolDefinition) (apiv1.HTTPToolBody, error) {
			h, err := ops.AddHTTPTool(r.Context(), r.PathValue("id"), req)
			return apiv1.HTTPToolBody{HTTPTool: h}, err
		}, func(v apiv1.HTTPToolBody) string {
			return tenantPath(v.HTTPTool.TenantID) + "/http-tools/" + url.PathEscape(v.HTTPTool.Name)
		})},
		{"POST /api/v1/tenants/{id}/http-tools/import", serveBody(http.StatusOK, func(r *http.Request, req apiv1.HTTPToolImport) (apiv1.HTTPToolImported, error) {
			return ops.ImportHTTPTools(r.Context(), r.PathValue("id"), req.Content)
		}, nil)},
		{"GET /api/v1/tenants/{id}/http-tools/{name}", serve(http.StatusOK, func(r *http.Request) (apiv1.HTTPToolBody, error) {
			h, err := ops.GetHTTPTool(r.Context(), r.PathValue("id"), r.PathValue("name"))
			return apiv1.HTTPToolBody{HTTPTool: h}, err
		})},
		{"PUT /api/v1/tenants/{id}/http-tools/{name}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.HTTPToolDefinition) (apiv1.HTTPToolBody, error) {
			h, err := ops.UpdateHTTPTool(r.Context(), r.PathValue("id"), r.PathValue("name"), req)
			return apiv1.HTTPToolBody{HTTPTool: h}, err
		}, nil)},
		{"DELETE /api/v1/tenants/{id}/http-tools/{name}", done(func(r *http.Request) error {
			return ops.DeleteHTTPTool(r.Context(), r.PathValue("id"), r.PathValue("name"))
		})},
		{"GET /api/v1/tenants/{id}/gates", serve(http.StatusOK, func(r *http.Request) (apiv1.GateList, error) {
			return ops.ListGates(r.Context(), r.PathValue("id"))
		})},
		{"POST /api/v1/tenants/{id}/gates", serveBody(http.StatusCreated, func(r *http.Request, req apiv1.GateRequest) (apiv1.GateEnrollment, error) {
			return ops.CreateGate(r.Context(), r.PathValue("id"), req)
		}, func(v apiv1.GateEnrollment) string {
			return tenantPath(v.Gate.TenantID) + "/gates/" + url.PathEscape(v.Gate.ToolSet)
		})},
		{"PUT /api/v1/tenants/{id}/gates/{set}", serveBody(http.StatusOK, func(r *http.Request, req apiv1.GateRequest) (apiv1.GateBody, error) {
			g, err := ops.UpdateGate(r.Context(), r.PathValue("id"), r.PathValue("set"), req)
			return apiv1.GateBody{Gate: g}, err
		}, nil)},
		{"POST /api/v1/tenants/{id}/gates/{set}/enroll", serve(http.StatusOK, func(r *http.Request) (apiv1.GateEnrollment, error) {
			return ops.EnrollGate(r.Context(), r.PathValue("id"), r.PathValue("set"))
		})},
		{"DELETE /api/v1/tenants/{id}/gates/{set}", done(func(r *http.Request) error {
			return ops.DeleteGate(r.Context(), r.PathValue("id"), r.PathValue("set"))
		})},
		{"PUT /api/v1/tenants/{id}/tool-search", serveBody(http.StatusOK, func(r *http.Request, req apiv1.ToolSearchRequest) (apiv1.GateList, error) {
			return ops.SetToolSearch(r.Context(), r.PathValue("id"), req.Enabled)
		}, nil)},

		{"GET /api/v1/status", serve(http.StatusOK, func(r *http.Request) (apiv1.Status, error) {
			return ops.Status(r.Context())
		})},
		{"GET /api/v1/health", serve(http.StatusOK, func(r *http.Request) (apiv1.Health, error) {
			return ops.Health(r.Context())
		})},
		{"POST /api/v1/shutdown", serve(http.StatusAccepted, func(r *http.Request) (apiv1.ShutdownResponse, error) {
			return ops.Shutdown(r.Context())
		})},
		{"POST /api/v1/ui/login-ticket", serve(http.StatusCreated, func(r *http.Request) (apiv1.LoginTicket, error) {
			return ops.MintLoginTicket(r.Context())
		})},
		{"GET " + apiv1.EventsPath, a.serveEvents},
	}
}

// serve answers status with op's result.
func serve[T any](status int, op func(*http.Request) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := op(r)
		if err != nil {
			return err
		}
		writeJSON(w, status, v)
		return nil
	}
}

// serveBody decodes the request body into a Req, then answers status with
// op's result; location, if not nil, gives the Location header.
func serveBody[Req, T any](status int, op func(*http.Request, Req) (T, error), location func(T) string) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req Req
		if err := decodeBody(w, r, &req); err != nil {
			return err
		}
		v, err := op(r, req)
		if err != nil {
			return err
		}
		if location != nil {
			w.Header().Set("Location", location(v))
		}
		writeJSON(w, status, v)
		return nil
	}
}

// done answers 204 once op succeeded.
func done(op func(*http.Request) error) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := op(r); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// toolSwitch serves enable or disable of the tool or tool set {name}.
func toolSwitch(set func(ctx context.Context, tenantID, name string, enabled bool) (apiv1.ToolSettingsResponse, error), enabled bool) handler {
	return serve(http.StatusOK, func(r *http.Request) (apiv1.ToolSettingsResponse, error) {
		return set(r.Context(), r.PathValue("id"), r.PathValue("name"), enabled)
	})
}

func tenantPath(id string) string { return "/api/v1/tenants/" + url.PathEscape(id) }
