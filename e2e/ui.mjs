// Browser test of the admin UI in Debian's chromium (playwright-core, no
// browser download): start the real daemon on a temp data dir, get a
// sign-in link from `plexus open --print-url`, open it, see the signed-in
// Home page, create the "Personal" tenant with one click and see it listed.
// Then issue 10's acceptance line 7 as one flow, in order: add a custom
// provider that points at a fake OAuth server on 127.0.0.1 and see its
// callback URL, connect yourself through the consent page and see
// "Connected"; then, as Claude would, call tools through the MCP endpoint
// with the official TypeScript SDK (local token): weather answers "API key
// needed" with a key-entry link; follow it, type a key, call weather again
// (it works, against a stand-in for OpenWeatherMap on 127.0.0.1) and see
// the calls on Activity (chart, filters). After that: the key shows masked
// on Connections & keys and can be replaced there, a tool switched off on
// Tools leaves the client's tool list, and a host-app secret is shown
// once. Along the way: the link works once, every page carries a CSP and
// no page breaks it (a CSP violation is a console error here).
//
//   node e2e/ui.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it also saves screenshots of every page at 1024x720 and
// 420 px wide, light and dark, into DIR (docs/screenshots).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, execFile } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, readFileSync, readdirSync, existsSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { waitRuntime } from "./runtime.mjs";

const args = process.argv.slice(2);
const bin = args[0];
const shotsAt = args.indexOf("--shots");
const shotsDir = shotsAt >= 0 ? args[shotsAt + 1] : "";
if (!bin || (shotsAt >= 0 && !shotsDir)) {
  console.error("usage: node e2e/ui.mjs PLEXUS_BINARY [--shots DIR]");
  process.exit(2);
}

const started = Date.now();
const log = (...m) => console.log(`[ui-e2e +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...m);
let failures = 0;
function check(cond, what) {
  if (cond) {
    log("ok  ", what);
  } else {
    failures++;
    log("FAIL", what);
  }
}
function must(cond, what) {
  check(cond, what);
  if (!cond) throw new Error(what);
}

const tmp = mkdtempSync(join(tmpdir(), "plexus-ui-e2e-"));
const children = [];
let browser;
let fakeOAuth;
let weather;

// startFakeOAuth serves a tiny OAuth 2.0 provider on 127.0.0.1: /authorize
// sends the browser straight back with a code, /token answers a token,
// /user says who it is. It records the token requests it got.
function startFakeOAuth() {
  const tokenRequests = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url, "http://127.0.0.1");
    if (u.pathname === "/authorize") {
      const back = new URL(u.searchParams.get("redirect_uri"));
      back.searchParams.set("code", "fake-code-" + randomBytes(6).toString("hex"));
      back.searchParams.set("state", u.searchParams.get("state") || "");
      res.writeHead(302, { Location: back.toString() });
      res.end();
      return;
    }
    if (u.pathname === "/token" && req.method === "POST") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        tokenRequests.push(body);
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ access_token: "fake-access", token_type: "bearer", expires_in: 3600, refresh_token: "fake-refresh", scope: "read" }));
      });
      return;
    }
    if (u.pathname === "/user") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ login: "ann" }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}`, tokenRequests })),
  );
}

function startDaemon(dataDir, env, extra = []) {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const out = join(tmp, `daemon-${children.length}.log`);
  const fd = openSync(out, "a");
  const p = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, ...extra], {
    env: { ...process.env, ...env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tmp, "no-bus")}` },
    stdio: ["ignore", fd, fd],
    detached: true, // its own process group: we stop it and anything it started
  });
  children.push(p);
  return { p, log: out };
}

function run(cmd, argv, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${argv.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

const loginURL = (dataDir, env) => run(bin, ["open", "--print-url", "--data", dataDir], env);

function stopAll() {
  for (const p of children) {
    if (p.exitCode === null && p.pid) {
      try {
        process.kill(-p.pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
  }
}

async function waitExit(p, ms) {
  if (p.exitCode !== null) return;
  await Promise.race([new Promise((r) => p.once("exit", r)), new Promise((r) => setTimeout(r, ms))]);
  if (p.exitCode === null) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

// fakeWeather is OpenWeatherMap's current-weather API on 127.0.0.1 (the
// daemon's --weather-api-url): it remembers the keys it was sent.
async function fakeWeather() {
  const keys = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url, "http://127.0.0.1");
    keys.push(u.searchParams.get("appid"));
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ name: u.searchParams.get("q"), main: { temp: 21.5, feels_like: 20, humidity: 40 },
      weather: [{ description: "clear sky" }], wind: { speed: 3 } }));
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}`, keys, close: () => srv.close() };
}

// mcpClient connects to a tenant's MCP endpoint as Claude Desktop does,
// with the daemon's local token (the person at this machine).
async function mcpClient(base, dataDir, tenant) {
  const token = JSON.parse(readFileSync(join(dataDir, "plexus.runtime.json"), "utf8")).token;
  const client = new Client({ name: "claude-ai", title: "Claude", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/${tenant}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

// shoot saves page p at 1024x720 and 420 px wide, light and dark, as
// DIR/name-{wide,narrow}-{light,dark}.png; without --shots it does nothing.
// It leaves p at 1024x720, light.
async function shoot(p, name) {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  const variants = [
    { name: "wide", viewport: { width: 1024, height: 720 }, fullPage: true },
    { name: "narrow", viewport: { width: 420, height: 860 }, fullPage: true },
  ];
  // A field with an error takes the focus and scrolls the page, a
  // #fragment scrolls it too; the shot starts at the top, where a
  // person's eye does.
  await p.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  for (const v of variants) {
    for (const s of ["light", "dark"]) {
      await p.setViewportSize(v.viewport);
      await p.emulateMedia({ colorScheme: s });
      await p.screenshot({ path: join(shotsDir, `${name}-${v.name}-${s}.png`), fullPage: v.fullPage, animations: "disabled" });
    }
  }
  await p.setViewportSize({ width: 1024, height: 720 });
  await p.emulateMedia({ colorScheme: "light" });
}

// submit clicks a form's button and waits for the page it leads to.
async function submit(p, button) {
  await Promise.all([p.waitForNavigation(), button.click()]);
}

async function newPage(ctxOpts = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 }, ...ctxOpts });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  return { context, page, problems };
}

async function main() {
  const env = { PLEXUS_MASTER_KEY: randomBytes(32).toString("base64") };
  const dataDir = join(tmp, "data");
  weather = await fakeWeather();
  const d = startDaemon(dataDir, env, ["--weather-api-url", weather.url]);
  const base = await waitRuntime(dataDir, d.p, d.log);
  log("daemon at", base);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });

  // Without a session: the page that says how to get in.
  {
    const { context, page } = await newPage();
    const resp = await page.goto(`${base}/ui/`);
    check(resp.status() === 403, `no session: /ui/ answers 403 (got ${resp.status()})`);
    check((await page.locator("h1").textContent()).includes("Open Plexus to sign in"), "no session: the how-to-get-in page");
    check((await page.content()).includes("plexus open"), "no session: it names plexus open");
    await context.close();
  }

  // Sign in with a fresh link.
  const { context, page, problems } = await newPage();
  const url = await loginURL(dataDir, env);
  must(/^http:\/\/127\.0\.0\.1:\d+\/ui\/login\?ticket=plxt_[A-Za-z0-9_-]{43}$/.test(url), "plexus open --print-url prints a login link");
  check(!url.includes(JSON.parse(readFileSync(join(dataDir, "plexus.runtime.json"), "utf8")).token), "the local token is not in the link");
  const loginResp = await page.goto(url);
  const csp = loginResp.headers()["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && csp.includes("style-src 'self'") && csp.includes("frame-ancestors 'none'") && !csp.includes("unsafe-inline"),
    "the login page sends the CSP");
  await page.waitForURL(`${base}/ui/`, { timeout: 10000 });
  const home = await page.request.get(`${base}/ui/`);
  check(home.headers()["x-frame-options"] === "DENY", "Home sends X-Frame-Options: DENY");
  check(home.headers()["referrer-policy"] === "same-origin", "Home sends Referrer-Policy: same-origin");
  check(loginResp.headers()["referrer-policy"] === "no-referrer", "the login page sends Referrer-Policy: no-referrer");
  must((await page.locator("h1").textContent()).trim() === "Home", "signed in: the Home page");
  const cookies = await context.cookies();
  const sc = cookies.find((c) => c.name === "plexus_ui");
  check(sc && sc.httpOnly && sc.sameSite === "Strict" && sc.path === "/ui", "the session cookie is HttpOnly, SameSite=Strict, Path=/ui");
  check(await page.getByText("You have no tenant yet.").isVisible(), "Home offers a first tenant");
  check(await page.getByText("Running", { exact: true }).isVisible(), "Home says Plexus is running");

  // One click creates "Personal".
  await page.getByRole("button", { name: "Create tenant “Personal”" }).click();
  await page.waitForURL(`${base}/ui/`);
  check(await page.getByText("Tenant Personal created.").isVisible(), "the flash says the tenant was created");
  check(await page.locator(".rows .row-main", { hasText: "Personal" }).isVisible(), "Personal is listed on Home");
  check(await page.locator("#snippet-claude-desktop").textContent().then((t) => /"--tenant",\s*"personal"/.test(t)),
    "the Claude Desktop snippet names the tenant");
  await page.goto(`${base}/ui/tenants`);
  check(await page.getByRole("cell", { name: "personal", exact: true }).isVisible(), "Personal is listed on Tenants");

  // The link works once.
  {
    const other = await newPage();
    const again = await other.page.goto(url);
    check(again.status() === 403 && (await other.page.locator("h1").textContent()).includes("does not work"), "a used link is refused");
    await other.context.close();
  }

  // A form without the CSRF token is refused.
  {
    const r = await page.request.post(`${base}/ui/tenants`, { form: { entity_id: "evil", name: "Evil" }, maxRedirects: 0 });
    check(r.status() === 403, `a form without the CSRF token is refused (got ${r.status()})`);
  }

  await pagesOfIssue10(base, dataDir, page);
  await httpToolsPage(base, page, dataDir);
  await pagesOfGates(base, page);

  check(problems.length === 0, `no console errors or CSP violations (${problems.join(" | ")})`);

  if (shotsDir) await screenshots(base, dataDir, env, page, context);

  // Sign out: the session ends.
  await page.goto(`${base}/ui/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  check((await page.locator("h1").textContent()).includes("signed out"), "signing out says so");
  const after = await page.goto(`${base}/ui/`);
  check(after.status() === 403, "after signing out, /ui/ needs a new sign-in");
  await context.close();
}

// strictCSP: a page's CSP allows no inline script or style and no framing.
const strictCSP = (csp) => csp.includes("default-src 'none'") && csp.includes("frame-ancestors 'none'") && !csp.includes("unsafe-inline");

// pagesOfIssue10 walks issue 10's acceptance line 7 in its order (the
// one-time link and the tenant came just before): add an OAuth provider,
// consent against the fake provider, see the connection connected; then a
// tool's "API key needed" link, the key typed, the tool called through the
// SDK, the call on Activity (toolsAndActivity). Last, the tenant page's
// host-app secret.
async function pagesOfIssue10(base, dataDir, page) {
  fakeOAuth = await startFakeOAuth();
  const body = async () => await page.content();

  // Providers: the empty state, then a custom provider at the fake server.
  await page.goto(`${base}/ui/providers`);
  check(await page.getByText("No providers yet.").isVisible(), "Providers says there are none yet");
  await page.goto(`${base}/ui/providers/add/custom`);
  await page.getByLabel("Name in Plexus").fill("fake");
  check((await page.locator("#callback-url").textContent()) === `${base}/personal/oauth/external_callback/fake`,
    "the callback URL follows the name typed");
  await page.getByLabel("Authorization URL").fill(`${fakeOAuth.url}/authorize`);
  await page.getByLabel("Token URL").fill(`${fakeOAuth.url}/token`);
  await page.getByLabel("User info URL (optional)").fill(`${fakeOAuth.url}/user`);
  await page.getByLabel("Scopes").fill("read");
  await page.getByLabel("Client ID").fill("fake-client");
  const clientSecret = "fake-client-secret-" + randomBytes(8).toString("hex");
  await page.getByLabel("Client secret").fill(clientSecret);
  await page.getByRole("button", { name: "Add service" }).click();
  await page.waitForURL(`${base}/ui/providers/fake`);
  check(await page.getByText("fake added.").isVisible(), "the flash says the provider was added");
  check((await page.locator("#callback-url").textContent()) === `${base}/personal/oauth/external_callback/fake`,
    "the provider page shows the exact callback URL");
  check(!(await body()).includes(clientSecret), "the client secret is not on the provider page");

  // Connect yourself: Connect → the consent page → Approve → the fake
  // provider → Plexus's callback → Connected.
  await page.goto(`${base}/ui/connections`);
  check(await page.locator(".item", { hasText: "fake" }).getByText("Never").isVisible(), "before connecting, the pill says Never");
  const consent = await Promise.all([
    page.waitForURL(/\/personal\/oauth\/consent\//),
    page.locator(".item", { hasText: "fake" }).getByRole("button", { name: "Connect" }).click(),
  ]).then(() => page.request.head(page.url()));
  check(strictCSP(consent.headers()["content-security-policy"] || ""), "the consent page sends a strict CSP (no inline styles or scripts)");
  check((await body()).includes("Plexus settings"), "the consent page names who asks");
  check(await page.getByText(new URL(fakeOAuth.url).host, { exact: true }).isVisible(), "the consent page shows the provider's sign-in host");
  check(await page.locator("link[rel=stylesheet]").count() === 1 && await page.locator("style").count() === 0,
    "the consent page uses the product's stylesheet");
  await shoot(page, "consent");
  const [callback] = await Promise.all([
    page.waitForResponse((r) => r.url().includes("/oauth/external_callback/fake") && r.request().isNavigationRequest()),
    page.getByRole("button", { name: "Approve" }).click(),
  ]);
  await page.waitForURL(/\/oauth\/external_callback\/fake/);
  check(callback.status() === 200 && strictCSP(callback.headers()["content-security-policy"] || ""), "the callback page answers 200 with a strict CSP");
  check(await page.getByRole("heading", { name: "Connected" }).isVisible() && (await body()).includes("Connected to fake"), "the callback says Connected");
  check(await page.getByText("go back to Plexus", { exact: false }).isVisible(), "the callback (started in the window) says to go back to Plexus");
  check(fakeOAuth.tokenRequests.length === 1, `Plexus exchanged the code once (${fakeOAuth.tokenRequests.length})`);
  await shoot(page, "connected");
  {
    // Its own tab: the 400 is meant, and would count as a console error here.
    const rp = await page.context().newPage();
    const replay = await rp.goto(page.url());
    check(replay.status() === 400 && (await rp.content()).includes("already used"), `the callback link works once (got ${replay.status()})`);
    await shoot(rp, "connect-failed");
    await rp.close();
  }
  await page.goto(`${base}/ui/connections`);
  check(await page.locator(".item", { hasText: "fake" }).getByText("Connected", { exact: true }).isVisible(), "after connecting, the pill says Connected");

  await toolsAndActivity(base, dataDir, page);

  // A host-app secret, shown once.
  await page.goto(`${base}/ui/tenants/personal`);
  await page.getByRole("button", { name: "Make a new host-app secret" }).click();
  const secretField = page.locator("#host-app-secret input[readonly]");
  const hostSecret = await secretField.inputValue();
  check(/^phs_[A-Z2-7]{26}$/.test(hostSecret), "the new host-app secret is shown in a read-only field");
  check(await page.getByText("You will not see this again.").isVisible(), "it says you will not see it again");
  await page.goto(`${base}/ui/tenants/personal`);
  check(!(await body()).includes(hostSecret), "reloaded, the secret is gone");
}

// toolsAndActivity: tool calls as Claude makes them (the official SDK);
// weather's "API key needed" link, the key typed on the key-entry page,
// the next call working, all of it on Activity; the key on Connections &
// keys; a tool switched off on Tools.
async function toolsAndActivity(base, dataDir, page) {
  // Before any call: the empty state says what will show and how.
  await page.goto(`${base}/ui/activity`);
  check(await page.getByText("No tool calls yet.").isVisible(), "Activity: the empty state");
  check(await page.getByRole("link", { name: "Connect Claude Desktop" }).isVisible(), "Activity: the empty state offers the first step");
  await shoot(page, "activity-empty");

  const client = await mcpClient(base, dataDir, "personal");
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { listChanged++; });
  const who = await client.callTool({ name: "plexus_whoami", arguments: {} });
  must(!who.isError && JSON.parse(who.content[0].text).tenant === "personal", "MCP: plexus_whoami answers for tenant personal");
  const city = "Secret-City-Argument";
  const first = await client.callTool({ name: "weather", arguments: { city } });
  const needed = first.structuredContent || {};
  must(first.isError && needed.error === "plexus_api_key_required", "MCP: weather without a key answers plexus_api_key_required");
  check(needed.key_name_display === "OpenWeatherMap API key" && needed.submit_url === "/personal/plexus-services/api-keys" && needed.instructions,
    "MCP: the result keeps MCP Plexus's fields");
  must(typeof needed.key_entry_url === "string" && needed.key_entry_url.startsWith(`${base}/personal/plexus-services/api-keys/entry/`),
    "MCP: the result links to the key-entry page");
  check(weather.keys.length === 0, "no key, no request to the weather API");
  await client.callTool({ name: "no_such_tool", arguments: {} }).catch(() => {});

  // The key-entry link: a page where the key is typed, once.
  const kp = await page.context().newPage();
  const kpProblems = [];
  // The refused blank key (400) and the used link (404) are meant: a
  // status is no problem here, a CSP violation or a script error is.
  kp.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) kpProblems.push(m.text()); });
  kp.on("pageerror", (e) => kpProblems.push(String(e)));
  const kr = await kp.goto(needed.key_entry_url);
  check(kr.status() === 200 && strictCSP(kr.headers()["content-security-policy"] || ""), "key entry: the page answers with a strict CSP");
  check(await kp.getByRole("heading", { name: "Enter your OpenWeatherMap API key" }).isVisible(), "key entry: the page names the key");
  check(await kp.getByText("you, the person using this computer").isVisible(), "key entry: the page says whose key it will be");
  check(await kp.locator("link[rel=stylesheet]").count() === 1 && await kp.locator("style").count() === 0,
    "key entry: the page uses the product's stylesheet");
  await shoot(kp, "key-entry");
  await kp.getByRole("button", { name: "Save key" }).click(); // empty: the browser's own check stops it
  await kp.locator("#api_key").fill("   ");
  await submit(kp, kp.getByRole("button", { name: "Save key" }));
  check(await kp.getByText("The field was empty. Paste your key, then press Save key.").isVisible(), "key entry: a blank key is refused, the link kept");
  await shoot(kp, "key-entry-error");
  const key = "e2e-weather-key-" + randomBytes(6).toString("hex");
  await kp.locator("#api_key").fill(key);
  await submit(kp, kp.getByRole("button", { name: "Save key" }));
  check(await kp.getByRole("heading", { name: "Key saved" }).isVisible(), "key entry: the key is saved");
  check(await kp.getByText("go back to your chat", { exact: false }).first().isVisible(), "key entry: it says to go back to the chat");
  check(!(await kp.content()).includes(key), "key entry: the key is not shown back");
  await shoot(kp, "key-entry-saved");
  const again = await kp.goto(needed.key_entry_url);
  check(again.status() === 404, `key entry: the link works once (got ${again.status()})`);
  check(kpProblems.length === 0, `key entry: no console errors or CSP violations (${kpProblems.join(" | ")})`);
  await kp.close();

  // Call the tool again: the key typed in the browser is used.
  const second = await client.callTool({ name: "weather", arguments: { city } });
  check(!second.isError && second.content[0].text.includes("clear sky"), "MCP: weather works with the key typed in the browser");
  check(weather.keys.length === 1 && weather.keys[0] === key, "the weather API got that key");

  // Activity: the calls, newest first; the chart; a filter.
  await page.goto(`${base}/ui/activity`);
  const rows = page.locator("table.calls tbody tr");
  check((await rows.count()) === 4, `Activity lists the 4 calls (got ${await rows.count()})`);
  check((await rows.nth(0).getAttribute("data-tool")) === "weather" && (await rows.nth(0).getByText("OK", { exact: true }).isVisible()),
    "Activity: the call with the typed key, newest, OK");
  check((await rows.nth(1).getAttribute("data-tool")) === "no_such_tool" && (await rows.nth(3).getAttribute("data-tool")) === "plexus_whoami",
    "Activity: newest first");
  check(await rows.nth(2).getByText("Needs key").isVisible(), "Activity: the first weather call needed a key");
  check(await rows.nth(0).getByText("You (this computer)").isVisible() && await rows.nth(0).getByText("via Claude").isVisible(),
    "Activity: who called, and through which app");
  check((await page.locator("svg.chart g.bar").count()) === 24, "Activity: the chart has 24 hourly bars");
  check((await page.locator("svg.chart g.bar title").count()) === 24, "Activity: every bar has a <title>");
  check((await page.locator("svg.chart .bar-errors").count()) >= 1, "Activity: the failed calls show in red");
  check(!(await page.content()).includes(city), "Activity: the call's arguments are not shown");
  const changes = page.locator("table.changes tbody tr");
  check((await changes.count()) >= 3 && await changes.getByText("Stored or removed an API key for openweathermap").first().isVisible(),
    "Activity: the changes and sign-ins list the key typed in, newest first");
  check(!(await page.locator("table.changes").innerText()).includes("plexus-local-owner"), "Activity: the local owner is 'You', not an id");
  await shoot(page, "activity");
  await Promise.all([page.waitForURL(/tool=weather/), page.getByLabel("Tool", { exact: true }).selectOption("weather")]); // app.js sends the form
  check((await rows.count()) === 2 && (await rows.nth(1).getAttribute("data-tool")) === "weather", "Activity: the tool filter");
  check(await page.getByText("matching these filters").isVisible(), "Activity: the chart follows the filters");
  await shoot(page, "activity-filtered");
  const record = readdirSync(join(dataDir, "audit")).map((f) => readFileSync(join(dataDir, "audit", f), "utf8")).join("");
  // The audit log keeps a call's arguments, masked: the city is there,
  // the key typed in the browser is not.
  check(record.includes('"tool":"weather"') && record.includes(city) && !record.includes(key), "the audit log holds the call's arguments but not the key");

  // Connections & keys: the key typed on the key-entry page, masked; replace it there.
  await page.goto(`${base}/ui/connections`);
  const keyRow = page.locator(".item", { hasText: "openweathermap" });
  check(await keyRow.getByText("•••• " + key.slice(-4)).isVisible(), "Connections & keys: the typed key shows masked (its last 4 characters)");
  check(await keyRow.getByText("Used by weather").isVisible(), "Connections & keys: it says which tool uses it");
  check(!(await page.content()).includes(key.slice(0, -4)), "Connections & keys: the key itself is not on the page");
  const key2 = "owm-" + randomBytes(12).toString("hex");
  await keyRow.locator("summary", { hasText: "Replace key" }).click();
  await keyRow.getByLabel("New key for openweathermap").fill(key2);
  await submit(page, keyRow.getByRole("button", { name: "Replace key" }));
  check(await page.getByText("Key for openweathermap saved.").isVisible(), "Connections & keys: the flash says the key was saved");
  check(await page.getByText("•••• " + key2.slice(-4)).isVisible() && !(await page.content()).includes(key2.slice(0, -4)),
    "Connections & keys: the new key shows masked");
  const third = await client.callTool({ name: "weather", arguments: { city } });
  check(!third.isError && weather.keys[weather.keys.length - 1] === key2, "MCP: the next weather call uses the replaced key");

  // Tools: weather's key shows as connected; switch weather off.
  await page.goto(`${base}/ui/tools`);
  const wx = page.locator('li[data-tool="weather"]');
  check(await wx.getByText("Connected").isVisible(), "Tools: weather's key shows as connected");
  check(await page.getByText("4 of 4 tools are on.").isVisible(), "Tools: all four tools are on");
  await shoot(page, "tools");
  await submit(page, wx.getByRole("button", { name: "Turn off" }));
  check(await page.getByText("weather is off. Claude can no longer use it.").isVisible(), "Tools: the flash says weather is off");
  check(await page.getByText("3 of 4 tools are on.").isVisible(), "Tools: three tools are on");
  const listed = (await client.listTools()).tools.map((t) => t.name);
  check(!listed.includes("weather") && listed.includes("plexus_whoami"), "MCP: weather left the client's tool list");
  for (let i = 0; i < 50 && listChanged === 0; i++) await new Promise((r) => setTimeout(r, 100));
  check(listChanged > 0, "MCP: the client was told its tool list changed");
  await submit(page, page.locator("section#set-github").getByRole("button", { name: "Turn off all GitHub tools" }));
  check(await page.getByText("Off because the GitHub set is off.").first().isVisible(), "Tools: a tool set switched off");
  await shoot(page, "tools-switched-off");
  await submit(page, page.locator("section#set-github").getByRole("button", { name: "Turn on the GitHub tools" }));
  await submit(page, page.locator('li[data-tool="weather"]').getByRole("button", { name: "Turn on" }));
  check(await page.getByText("4 of 4 tools are on.").isVisible(), "Tools: everything back on");
  await client.close();
}

// httpToolsPage adds a declarative HTTP tool by pasting YAML (issue 11),
// sees it listed as shown, and calls it over MCP: the answer comes from
// the fake server through the tool's response pointer.
async function httpToolsPage(base, page, dataDir) {
  await page.goto(`${base}/ui/http-tools`);
  check(await page.getByText("No HTTP tools yet.").isVisible(), "HTTP tools says there are none yet");
  await page.goto(`${base}/ui/http-tools/_new`);
  await page.getByLabel("Definition (YAML or JSON)").fill(
    `name: whois\ndescription: Who the fake service says you are\nurl: ${fakeOAuth.url}/user\nresponse_pointer: /login\n`);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.waitForURL(`${base}/ui/http-tools`);
  check(await page.getByText("Added whois.").isVisible(), "the flash says the HTTP tool was added");
  check(await page.locator("tr", { hasText: "whois" }).getByText("Shown").isVisible(), "the HTTP tool is shown to Claude");
  const rt = JSON.parse(readFileSync(join(dataDir, "plexus.runtime.json"), "utf8"));
  const headers = { Authorization: `Bearer ${rt.token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
  const init = await fetch(`${base}/personal/mcp`, { method: "POST", headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }) });
  await init.text();
  const sid = init.headers.get("mcp-session-id");
  const h2 = { ...headers, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18" };
  await (await fetch(`${base}/personal/mcp`, { method: "POST", headers: h2, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
  const call = await fetch(`${base}/personal/mcp`, { method: "POST", headers: h2,
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "whois", arguments: {} } }) });
  const text = await call.text();
  check(call.ok && text.includes('"text":"ann"'), `calling the HTTP tool over MCP answers from the API (${call.status})`);
}

// pagesOfGates puts a one-time code on the GitHub tools from the Tools
// page, sees the QR code (inline SVG: no CSP violation) and the key once.
async function pagesOfGates(base, page) {
  await page.goto(`${base}/ui/tools`);
  await page.getByRole("link", { name: /Ask for a code from your phone/ }).click();
  await page.waitForURL(`${base}/ui/gates`);
  check(await page.getByText("None yet.").isVisible(), "the gates page says no set asks for a code yet");
  await page.getByLabel("Set of tools").selectOption("github");
  await page.getByRole("button", { name: "Ask for a code and show the QR code" }).click();
  check(await page.locator("svg.gate-qr").isVisible(), "the QR code is shown");
  const key = await page.locator("#gate-secret").inputValue();
  check(/^[A-Z2-7]{32}$/.test(key), "the key is shown in base32");
  check(await page.getByText("You will not see this again.").isVisible(), "it says you will not see it again");
  await page.goto(`${base}/ui/gates`);
  check(!(await page.content()).includes(key), "reloaded, the key is gone");
  check(await page.locator('[data-gate="github"]').isVisible(), "the GitHub set is listed as asking for a code");
}

// openSession starts an MCP session at tenant personal as an app called
// clientInfo would (shots only: the Users & sessions page lists it).
async function openSession(base, token, clientInfo) {
  const r = await fetch(`${base}/personal/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo } }),
  });
  await r.text();
  check(r.ok && r.headers.get("mcp-session-id"), `an MCP session for ${clientInfo.title} (${r.status})`);
}

// screenshots saves the pages the flow did not (see shoot) at 1024x720
// and 420 px wide, light and dark.
async function screenshots(base, dataDir, env, page, context) {
  // Second tenant, so the switcher shows.
  await page.goto(`${base}/ui/tenants`);
  await page.getByLabel("Name").fill("Work");
  await page.getByRole("button", { name: "Add tenant" }).click();
  await page.goto(`${base}/ui/`);
  await shoot(page, "home");
  await page.goto(`${base}/ui/tenants`);
  await shoot(page, "tenants");
  await page.getByLabel("Name").fill("My Stuff");
  await page.getByLabel("ID").fill("My Stuff");
  await page.getByRole("button", { name: "Add tenant" }).click();
  await shoot(page, "tenants-form-error");
  await page.goto(`${base}/ui/tenants/work`);
  await page.getByLabel("Type work to confirm").fill("wrok");
  await page.getByRole("button", { name: /Delete tenant work/ }).click();
  await shoot(page, "tenant-danger-zone");

  // The pages of issue 10, with a second provider, a second person and
  // two apps talking to Plexus.
  await page.goto(`${base}/ui/tenants/personal`);
  await page.getByRole("button", { name: "Make a new host-app secret" }).click();
  await shoot(page, "tenant-secret");
  await page.goto(`${base}/ui/providers/add/github`);
  await shoot(page, "provider-add-github");
  await page.getByLabel("Client ID").fill("Iv1.8a61f9b3a7aba766");
  await page.getByLabel("Client secret").fill("0123456789abcdef0123456789abcdef01234567");
  await page.getByRole("button", { name: "Add GitHub" }).click();
  await page.waitForURL(`${base}/ui/providers/github`);
  await page.goto(`${base}/ui/providers`);
  await shoot(page, "providers");
  await page.goto(`${base}/ui/providers/add/custom`);
  await page.getByLabel("Name in Plexus").fill("gitlab");
  await page.getByLabel("Authorization URL").fill("http://gitlab.example.com/oauth/authorize");
  await page.getByLabel("Token URL").fill("https://gitlab.example.com/oauth/token");
  await page.getByLabel("Client ID").fill("abc123");
  await page.getByLabel("Client secret").fill("not-shown-again");
  await page.getByRole("button", { name: "Add service" }).click();
  await shoot(page, "provider-add-custom-error");
  await page.goto(`${base}/ui/providers/github`);
  await shoot(page, "provider");
  await page.goto(`${base}/ui/users`);
  await page.getByLabel("Their ID in your app").fill("alice@example.com");
  await page.getByRole("button", { name: "Make a token" }).click();
  const aliceToken = await page.locator("#new-token").inputValue();
  await shoot(page, "users-token");
  const rt = JSON.parse(readFileSync(join(dataDir, "plexus.runtime.json"), "utf8"));
  await openSession(base, rt.token, { name: "claude-ai", title: "Claude", version: "0.14.2" });
  await openSession(base, aliceToken, { name: "acme-notes", title: "Acme Notes", version: "2.1" });
  await page.goto(`${base}/ui/users`);
  await shoot(page, "users");
  await page.locator("a", { hasText: "alice@example.com" }).first().click();
  await page.waitForURL(`${base}/ui/users/alice@example.com`);
  await shoot(page, "user");
  await page.goto(`${base}/ui/connections`);
  await shoot(page, "connections");
  await page.locator(".tab", { hasText: "alice@example.com" }).click();
  await page.waitForURL(`${base}/ui/connections/alice@example.com`);
  await shoot(page, "connections-other");
  await page.goto(`${base}/ui/gates`);
  await page.locator('[data-gate="github"] summary').click();
  await shoot(page, "gates");
  await page.getByRole("button", { name: "New QR code" }).click();
  await shoot(page, "gates-enrolled");
  // The switcher sends itself (app.js) and comes back to this page.
  const switchTo = async (id) => {
    await page.selectOption("#tenant-switch", id);
    await page.locator(`#tenant-switch option[value="${id}"][selected]`).waitFor({ state: "attached" });
  };
  await page.goto(`${base}/ui/http-tools`);
  await shoot(page, "http-tools");
  await page.goto(`${base}/ui/http-tools/whois`);
  await shoot(page, "http-tool");
  await page.goto(`${base}/ui/http-tools/_new`);
  await page.getByLabel("Definition (YAML or JSON)").fill("name: weather\nurl: https://{host}.example.com/x\n");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await shoot(page, "http-tool-add-error");
  await page.goto(`${base}/ui/providers`);
  await switchTo("work");
  await shoot(page, "providers-empty");
  // A new tenant's Tools: everything on, nothing set up yet.
  await page.goto(`${base}/ui/tools`);
  await shoot(page, "tools-new-tenant");
  await switchTo("personal");

  const anon = await browser.newContext();
  const ap = await anon.newPage();
  await ap.goto(`${base}/ui/`);
  await shoot(ap, "sign-in");
  await anon.close();

  // A fresh vault with its key in a plain file: Home's warning, and the
  // empty state.
  const kfDir = join(tmp, "keyfile");
  const d2 = startDaemon(kfDir, { PLEXUS_MASTER_KEY: "" });
  // no keyring (no session bus) and no terminal: the key goes to a file
  const base2 = await waitRuntime(kfDir, d2.p, d2.log);
  const c2 = await browser.newContext();
  const p2 = await c2.newPage();
  await p2.goto(await loginURL(kfDir, { PLEXUS_MASTER_KEY: "" }));
  await p2.waitForURL(`${base2}/ui/`);
  await shoot(p2, "home-first-run");
  await p2.goto(`${base2}/ui/providers`);
  await shoot(p2, "need-tenant");
  await c2.close();
  log("screenshots in", shotsDir);
}

try {
  await main();
} catch (e) {
  failures++;
  log("FAIL", e.stack || String(e));
  for (const f of ["daemon-0.log", "daemon-1.log"]) {
    if (existsSync(join(tmp, f))) console.error(`--- ${f}\n` + readFileSync(join(tmp, f), "utf8").split("\n").slice(-30).join("\n"));
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  if (fakeOAuth) fakeOAuth.srv.close();
  if (weather) weather.close();
  stopAll();
  await Promise.all(children.map((p) => waitExit(p, 10000)));
  rmSync(tmp, { recursive: true, force: true });
}
log(failures === 0 ? "PASS" : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
