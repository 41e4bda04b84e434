// Browser test of the admin UI in Debian's chromium (playwright-core, no
// browser download): start the real daemon on a temp data dir, get a
// sign-in link from `plexus open --print-url`, open it, see the signed-in
// Home page, create the "Personal" tenant with one click and see it listed.
// Then, as Claude would, call tools through the MCP endpoint with the
// official TypeScript SDK (local token): see the calls on Activity (chart,
// filters), follow the key-entry link of weather's "API key needed"
// result, type a key, and see the next call work (against a stand-in for
// OpenWeatherMap on 127.0.0.1); switch a tool off on Tools and see it
// leave the client's tool list. Along the way: the link works once, every
// page carries the CSP and no page breaks it (a CSP violation is a
// console error here).
//
//   node e2e/ui.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it also saves screenshots of every page at 1024x720 and
// 420 px wide, light and dark, into DIR (docs/screenshots).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, readdirSync, existsSync, mkdirSync, openSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

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

async function waitRuntime(dataDir, p, logPath) {
  const rtPath = join(dataDir, "plexus.runtime.json");
  for (let i = 0; i < 150; i++) {
    if (p.exitCode !== null) break;
    if (existsSync(rtPath)) {
      try {
        const rt = JSON.parse(readFileSync(rtPath, "utf8"));
        if (rt.addr) return `http://${String(rt.addr).replace(/^https?:\/\//, "")}`;
      } catch {
        /* being written */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.error(readFileSync(logPath, "utf8"));
  throw new Error("the daemon did not start");
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

// fakeWeather is OpenWeatherMap's current-weather API on 127.0.0.1: it
// remembers the keys it was sent.
async function fakeWeather() {
  const keys = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    keys.push(u.searchParams.get("appid"));
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ name: u.searchParams.get("q"), main: { temp: 21.5, feels_like: 20, humidity: 40 },
      weather: [{ description: "clear sky" }], wind: { speed: 3 } }));
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}`, keys, close: () => srv.close() };
}

// mcpClient connects to a tenant's MCP endpoint as Claude Desktop calls
// itself, with the daemon's local token (the person at this machine).
async function mcpClient(base, dataDir, tenant) {
  const token = JSON.parse(readFileSync(join(dataDir, "plexus.runtime.json"), "utf8")).token;
  const client = new Client({ name: "claude-ai", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/${tenant}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

let weather;

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

  await toolsAndActivity(base, dataDir, page);

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

// shoot saves page p at 1024x720 and 420 px wide, light and dark, as
// DIR/name-{wide,narrow}-{light,dark}.png (only with --shots).
async function shoot(p, name) {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  const variants = [
    { name: "wide", viewport: { width: 1024, height: 720 }, fullPage: true },
    { name: "narrow", viewport: { width: 420, height: 860 }, fullPage: true },
  ];
  await p.evaluate(() => window.scrollTo(0, 0)); // a #fragment may have scrolled it
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

// toolsAndActivity: tool calls as Claude makes them, seen on Activity; an
// API key typed on the key-entry page; a tool switched off on Tools.
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
  await client.callTool({ name: "no_such_tool", arguments: {} }).catch(() => {});

  // Activity: the calls, newest first; the chart; a filter.
  await page.goto(`${base}/ui/activity`);
  const rows = page.locator("table.calls tbody tr");
  check((await rows.count()) === 3, `Activity lists the 3 calls (got ${await rows.count()})`);
  check((await rows.nth(0).getAttribute("data-tool")) === "no_such_tool" && (await rows.nth(2).getAttribute("data-tool")) === "plexus_whoami",
    "Activity: newest first");
  check(await rows.nth(1).getByText("Needs key").isVisible(), "Activity: weather needs a key");
  check(await rows.nth(2).getByText("You (this computer)").isVisible() && await rows.nth(2).getByText("via Claude").isVisible(),
    "Activity: who called, and through which app");
  check((await page.locator("svg.chart g.bar").count()) === 24, "Activity: the chart has 24 hourly bars");
  check((await page.locator("svg.chart g.bar title").count()) === 24, "Activity: every bar has a <title>");
  check((await page.locator("svg.chart .bar-errors").count()) === 1, "Activity: the failed call shows in red");
  check(!(await page.content()).includes(city), "Activity: the call's arguments are not shown");
  await shoot(page, "activity");
  await Promise.all([page.waitForURL(/tool=weather/), page.getByLabel("Tool", { exact: true }).selectOption("weather")]); // app.js sends the form
  check((await rows.count()) === 1 && (await rows.nth(0).getAttribute("data-tool")) === "weather", "Activity: the tool filter");
  check(await page.getByText("matching these filters").isVisible(), "Activity: the chart follows the filters");
  await shoot(page, "activity-filtered");

  // The key-entry link: a page where the key is typed, once.
  const kp = await page.context().newPage();
  const kpProblems = [];
  // The refused blank key (400) and the used link (404) are meant: a
  // status is no problem here, a CSP violation or a script error is.
  kp.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) kpProblems.push(m.text()); });
  kp.on("pageerror", (e) => kpProblems.push(String(e)));
  const kr = await kp.goto(needed.key_entry_url);
  const kcsp = kr.headers()["content-security-policy"] || "";
  check(kr.status() === 200 && kcsp.includes("default-src 'none'") && kcsp.includes("style-src 'sha256-") && !kcsp.includes("unsafe-inline"),
    "key entry: the page answers with a strict CSP");
  check(await kp.getByRole("heading", { name: "Enter your OpenWeatherMap API key" }).isVisible(), "key entry: the page names the key");
  check(await kp.getByText("you, the person using this computer").isVisible(), "key entry: the page says whose key it will be");
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
  check(!(await kp.content()).includes(key), "key entry: the key is not shown back");
  await shoot(kp, "key-entry-saved");
  const again = await kp.goto(needed.key_entry_url);
  check(again.status() === 404, `key entry: the link works once (got ${again.status()})`);
  check(kpProblems.length === 0, `key entry: no console errors or CSP violations (${kpProblems.join(" | ")})`);
  await kp.close();

  const second = await client.callTool({ name: "weather", arguments: { city } });
  check(!second.isError && second.content[0].text.includes("clear sky"), "MCP: weather works with the key typed in the browser");
  check(weather.keys[weather.keys.length - 1] === key, "the weather API got that key");
  const record = readdirSync(join(dataDir, "audit")).map((f) => readFileSync(join(dataDir, "audit", f), "utf8")).join("");
  check(record.includes('"tool":"weather"') && !record.includes(city) && !record.includes(key), "the call record holds neither arguments nor the key");

  // Tools: weather's key now shows as connected; switch weather off.
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

// screenshots saves every page at 1024x720 and 420 px wide, light and dark.
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
  await page.goto(`${base}/ui/providers`);
  await shoot(page, "soon");

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
  if (weather) weather.close();
  stopAll();
  await Promise.all(children.map((p) => waitExit(p, 10000)));
  rmSync(tmp, { recursive: true, force: true });
}
log(failures === 0 ? "PASS" : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
