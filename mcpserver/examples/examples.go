// Package examples holds Plexus's example tools that need credentials: a
// GitHub tool set over an OAuth connection (github_whoami,
// github_list_repos) and a weather tool over an API key (weather). They show
// the tools API end to end against real HTTP; their base URLs are
// configurable so tests point them at local servers.
//
// The tools never see another caller's credentials (they only use
// tools.AuthenticatedClient and tools.APIKey, bound to the caller), and they
// never put a credential in a result, an error or a log line: upstream
// errors are reported without the request URL, which for the weather API
// carries the key (appid).
//
// Every credential has a destination: the GitHub token goes only to the
// OAuth provider's API origins (the oauth client enforces them), and the
// weather API key only to the origin of Config.WeatherAPIURL, through the
// credential destination client (egress.NewClient), which adds it per
// request and follows no redirect leaving that origin. Base URLs pass the
// one credential-URL validator (egress.CheckURL): plain http only to
// loopback.
package examples

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// Tool names and tool sets.
const (
	GitHubWhoamiName    = "github_whoami"
	GitHubListReposName = "github_list_repos"
	WeatherName         = "weather"
	// GitHubToolSet and WeatherToolSet are the tool sets of the examples.
	GitHubToolSet  = "github"
	WeatherToolSet = "weather"
)

// Defaults for Config.
const (
	DefaultGitHubAPIURL    = "https://api.github.com"
	DefaultGitHubProvider  = "github"
	DefaultWeatherAPIURL   = "https://api.openweathermap.org"
	DefaultWeatherProvider = "openweathermap"
)

const (
	// upstreamTimeout bounds one upstream call.
	upstreamTimeout = 30 * time.Second
	// maxUpstreamBody bounds what is read from an upstream answer.
	maxUpstreamBody = 4 << 20
)

// Config points the example tools at their APIs. Zero fields take the
// defaults (the public APIs and provider names "github" and
// "openweathermap").
type Config struct {
	// GitHubAPIURL is the GitHub REST API base (default https://api.github.com).
	GitHubAPIURL string
	// GitHubProvider is the tenant's OAuth provider name for GitHub
	// (default "github"; the "github" preset of `plexus admin ext-oauth`).
	GitHubProvider string
	// WeatherAPIURL is the OpenWeatherMap API base (default
	// https://api.openweathermap.org).
	WeatherAPIURL string
	// WeatherProvider is the API-key provider name (default "openweathermap").
	WeatherProvider string
	// AllowedTenants limits the example tools to these tenants (empty: all).
	AllowedTenants []string
}

func (c Config) withDefaults() Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.GitHubAPIURL, DefaultGitHubAPIURL)
	def(&c.GitHubProvider, DefaultGitHubProvider)
	def(&c.WeatherAPIURL, DefaultWeatherAPIURL)
	def(&c.WeatherProvider, DefaultWeatherProvider)
	c.GitHubAPIURL = strings.TrimRight(c.GitHubAPIURL, "/")
	c.WeatherAPIURL = strings.TrimRight(c.WeatherAPIURL, "/")
	return c
}

// Register adds github_whoami, github_list_repos and weather to r. Both
// base URLs must pass egress.CheckURL (https, plain http only to a
// loopback host, no user info) and have no query.
func Register(r *tools.Registry, cfg Config) error {
	cfg = cfg.withDefaults()
	for _, f := range []struct{ name, u string }{{"GitHubAPIURL", cfg.GitHubAPIURL}, {"WeatherAPIURL", cfg.WeatherAPIURL}} {
		if err := egress.CheckURL(f.u); err != nil {
			return fmt.Errorf("examples: %s: %w", f.name, err)
		}
		if p, err := url.Parse(f.u); err != nil || p.RawQuery != "" || p.ForceQuery {
			return fmt.Errorf("examples: %s: must not have a query", f.name)
		}
	}
	weatherOrigin, err := egress.OriginOfURL(cfg.WeatherAPIURL)
	if err != nil {
		return fmt.Errorf("examples: WeatherAPIURL: %w", err)
	}
	gh := &tools.Requirement{OAuth: &tools.OAuthRequirement{Provider: cfg.GitHubProvider, Scopes: []string{"read:user", "repo"}}}
	apiKeyArg := tools.APIKeyArgument(cfg.WeatherProvider)
	all := []tools.Tool{
		{
			Definition: mcp.NewTool(GitHubWhoamiName,
				mcp.WithDescription("Shows the GitHub account you connected: login, name and profile URL."),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithDestructiveHintAnnotation(false),
				mcp.WithOpenWorldHintAnnotation(true),
			),
			Summary:        "See which GitHub account you connected.",
			Handler:        githubWhoami(cfg),
			AllowedTenants: cfg.AllowedTenants,
			ToolSets:       []string{GitHubToolSet},
			Requires:       gh,
		},
		{
			Definition: mcp.NewTool(GitHubListReposName,
				mcp.WithDescription("Lists the GitHub repositories of the connected account, most recently updated first."),
				mcp.WithNumber("per_page", mcp.Description("How many repositories (1-100, default 30)."), mcp.Min(1), mcp.Max(100)),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithDestructiveHintAnnotation(false),
				mcp.WithOpenWorldHintAnnotation(true),
			),
			Summary:        "List your GitHub repositories, most recently changed first.",
			Handler:        githubListRepos(cfg),
			AllowedTenants: cfg.AllowedTenants,
			ToolSets:       []string{GitHubToolSet},
			Requires:       gh,
		},
		{
			Definition: mcp.NewTool(WeatherName,
				mcp.WithDescription("Current weather for a city (OpenWeatherMap, metric units)."),
				mcp.WithString("city", mcp.Required(), mcp.Description(`City name, optionally with a country code, e.g. "Paris,FR".`), mcp.MaxLength(200)),
				// MCP Plexus convention: Plexus injects the stored key here
				// and hides the property from tools/list.
				mcp.WithString(apiKeyArg, mcp.Description("Injected by Plexus.")),
				mcp.WithReadOnlyHintAnnotation(true),
				mcp.WithDestructiveHintAnnotation(false),
				mcp.WithOpenWorldHintAnnotation(true),
			),
			Summary:        "Look up the current weather in a city.",
			Handler:        weather(cfg, apiKeyArg, weatherOrigin),
			AllowedTenants: cfg.AllowedTenants,
			ToolSets:       []string{WeatherToolSet},
			Requires: &tools.Requirement{APIKey: &tools.APIKeyRequirement{
				Provider:     cfg.WeatherProvider,
				DisplayName:  "OpenWeatherMap API key",
				Instructions: "Create a free account at https://home.openweathermap.org/users/sign_up and copy your key from https://home.openweathermap.org/api_keys.",
			}},
		},
	}
	for _, t := range all {
		if err := r.Register(t); err != nil {
			return fmt.Errorf("examples: %w", err)
		}
	}
	return nil
}

// gitHubUser is the part of GET /user the tool reports.
type gitHubUser struct {
	Login       string `json:"login"`
	Name        string `json:"name,omitempty"`
	HTMLURL     string `json:"html_url,omitempty"`
	PublicRepos int    `json:"public_repos,omitempty"`
}

func githubWhoami(cfg Config) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var u gitHubUser
		if res, err := githubGet(ctx, cfg, "/user", &u); res != nil || err != nil {
			return res, err
		}
		text := "You are " + u.Login + " on GitHub"
		if u.Name != "" {
			text += " (" + u.Name + ")"
		}
		return mcp.NewToolResultStructured(u, text+"."), nil
	}
}

// gitHubRepo is the part of a GET /user/repos entry the tool reports.
type gitHubRepo struct {
	FullName    string `json:"full_name"`
	Private     bool   `json:"private"`
	HTMLURL     string `json:"html_url,omitempty"`
	Description string `json:"description,omitempty"`
}

// RepoList is github_list_repos's structured result.
type RepoList struct {
	Repositories []gitHubRepo `json:"repositories"`
}

func githubListRepos(cfg Config) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n := req.GetInt("per_page", 30)
		if n < 1 || n > 100 {
			return mcp.NewToolResultError("per_page: want 1-100"), nil
		}
		out := RepoList{Repositories: []gitHubRepo{}}
		path := fmt.Sprintf("/user/repos?per_page=%d&sort=updated", n)
		if res, err := githubGet(ctx, cfg, path, &out.Repositories); res != nil || err != nil {
			return res, err
		}
		names := make([]string, 0, len(out.Repositories))
		for _, r := range out.Repositories {
			names = append(names, r.FullName)
		}
		text := fmt.Sprintf("%d repositories", len(names))
		if len(names) > 0 {
			text += ": " + strings.Join(names, ", ")
		}
		return mcp.NewToolResultStructured(out, text+"."), nil
	}
}

// githubGet GETs cfg.GitHubAPIURL+path with the caller's GitHub connection
// and decodes the JSON answer into v. A non-nil result is a tool error for
// the model; a non-nil error is a credential error Plexus turns into the
// consent result.
func githubGet(ctx context.Context, cfg Config, path string, v any) (*mcp.CallToolResult, error) {
	client, err := tools.AuthenticatedClient(ctx, cfg.GitHubProvider)
	if err != nil {
		if tools.IsCredentialError(err) {
			return nil, err
		}
		return mcp.NewToolResultError("GitHub: cannot use your connection: " + err.Error()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.GitHubAPIURL+path, nil)
	if err != nil {
		return mcp.NewToolResultError("GitHub: bad request: " + err.Error()), nil
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := client.Do(req)
	if err != nil {
		if tools.IsCredentialError(err) {
			return nil, err
		}
		return mcp.NewToolResultError("GitHub: request failed: " + redact(err)), nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return mcp.NewToolResultError("GitHub: reading the answer: " + redact(err)), nil
	}
	if resp.StatusCode != http.StatusOK {
		return mcp.NewToolResultError(fmt.Sprintf("GitHub answered %s: %s", resp.Status, upstreamMessage(body))), nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return mcp.NewToolResultError("GitHub: unexpected answer: " + err.Error()), nil
	}
	return nil, nil
}

// Weather is the weather tool's structured result.
type Weather struct {
	City        string  `json:"city"`
	Description string  `json:"description"`
	TempC       float64 `json:"temperature_c"`
	FeelsLikeC  float64 `json:"feels_like_c"`
	Humidity    float64 `json:"humidity_percent"`
	WindMS      float64 `json:"wind_m_s"`
}

type owmAnswer struct {
	Name string `json:"name"`
	Main struct {
		Temp      float64 `json:"temp"`
		FeelsLike float64 `json:"feels_like"`
		Humidity  float64 `json:"humidity"`
	} `json:"main"`
	Weather []struct {
		Description string `json:"description"`
	} `json:"weather"`
	Wind struct {
		Speed float64 `json:"speed"`
	} `json:"wind"`
}

// weatherClient is the credential destination client for an API key:
// appid is added to requests for origin only (a redirect elsewhere is not
// followed, so the key never reaches another host).
func weatherClient(origin egress.Origin, key string) *http.Client {
	return egress.NewClient([]egress.Origin{origin}, func(r *http.Request) {
		q := r.URL.Query()
		q.Set("appid", key)
		r.URL.RawQuery = q.Encode()
	})
}

func weather(cfg Config, apiKeyArg string, origin egress.Origin) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		city := strings.TrimSpace(req.GetString("city", ""))
		if city == "" {
			return mcp.NewToolResultError("city: required"), nil
		}
		// Plexus injected the key into the argument (seed convention); the
		// context has it too.
		key := req.GetString(apiKeyArg, "")
		if key == "" {
			var err error
			if key, err = tools.APIKey(ctx, cfg.WeatherProvider); err != nil {
				return nil, err
			}
		}
		q := url.Values{"q": {city}, "units": {"metric"}}
		ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
		defer cancel()
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.WeatherAPIURL+"/data/2.5/weather?"+q.Encode(), nil)
		if err != nil {
			return mcp.NewToolResultError("weather: bad request"), nil
		}
		resp, err := weatherClient(origin, key).Do(hreq)
		if err != nil {
			// *url.Error quotes the URL, which carries appid: drop it.
			return mcp.NewToolResultError("weather: request failed: " + redact(err)), nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
		if err != nil {
			return mcp.NewToolResultError("weather: reading the answer: " + redact(err)), nil
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			c, _ := tools.CallerFrom(ctx)
			return mcp.NewToolResultError("OpenWeatherMap refused your API key (401). Check it at https://home.openweathermap.org/api_keys " +
				"and store it again with POST /" + c.TenantID + "/plexus-services/api-keys."), nil
		case resp.StatusCode == http.StatusNotFound:
			return mcp.NewToolResultError(fmt.Sprintf("OpenWeatherMap does not know the city %q.", city)), nil
		case resp.StatusCode != http.StatusOK:
			return mcp.NewToolResultError(fmt.Sprintf("OpenWeatherMap answered %s: %s", resp.Status, upstreamMessage(body))), nil
		}
		var a owmAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			return mcp.NewToolResultError("weather: unexpected answer: " + err.Error()), nil
		}
		w := Weather{City: a.Name, TempC: a.Main.Temp, FeelsLikeC: a.Main.FeelsLike, Humidity: a.Main.Humidity, WindMS: a.Wind.Speed}
		if w.City == "" {
			w.City = city
		}
		if len(a.Weather) > 0 {
			w.Description = a.Weather[0].Description
		}
		text := fmt.Sprintf("%s: %s, %.1f °C (feels like %.1f °C), humidity %.0f%%, wind %.1f m/s.",
			w.City, w.Description, w.TempC, w.FeelsLikeC, w.Humidity, w.WindMS)
		return mcp.NewToolResultStructured(w, text), nil
	}
}

// redact returns err's message without any URL (a *url.Error names the
// request URL, whose query may carry a credential).
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// upstreamMessage extracts a short, safe message from an error body.
func upstreamMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		body = []byte(m.Message)
	}
	s := strings.ToValidUTF8(strings.TrimSpace(string(body)), "")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(no message)"
	}
	return s
}
