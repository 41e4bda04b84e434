// Browser test of the admin UI in Debian's chromium (playwright-core, no
// browser download): start the real daemon on a temp data dir, get a
// sign-in link from `plexus open --print-url`, open it, see the signed-in
// Home page, create the "Personal" tenant with one click and see it listed.
// Then the pages of issue 10: add a custom provider that points at a fake
// OAuth server on 127.0.0.1 and see its callback URL, connect yourself
// through the consent page and see "Connected", save an API key and see
// it masked, make a host-app secret and see it once. Along the way: the
// link works once, every page carries the CSP and no page breaks it (a
// CSP violation is a console error here).
//
//   node e2e/ui.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it also saves screenshots of every page at 1024x720 and
// 420 px wide, light and dark, into DIR (docs/screenshots).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, execFile } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

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

function startDaemon(dataDir, env) {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const out = join(tmp, `daemon-${children.length}.log`);
  const fd = openSync(out, "a");
  const p = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir], {
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

async function main() {
  const env = { PLEXUS_MASTER_KEY: randomBytes(32).toString("base64") };
  const dataDir = join(tmp, "data");
  const d = startDaemon(dataDir, env);
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

  await pagesOfIssue10(base, page);
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

// pagesOfIssue10 walks Providers, Connections & keys and the tenant page
// as a person would.
async function pagesOfIssue10(base, page) {
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
  await page.locator(".item", { hasText: "fake" }).getByRole("button", { name: "Connect" }).click();
  await page.waitForURL(/\/personal\/oauth\/consent\//);
  check((await body()).includes("Plexus settings"), "the consent page names who asks");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForURL(/\/oauth\/external_callback\/fake/);
  check((await body()).includes("Connected to fake"), "the callback says Connected");
  check(fakeOAuth.tokenRequests.length === 1, `Plexus exchanged the code once (${fakeOAuth.tokenRequests.length})`);
  await page.goto(`${base}/ui/connections`);
  check(await page.locator(".item", { hasText: "fake" }).getByText("Connected", { exact: true }).isVisible(), "after connecting, the pill says Connected");

  // An API key for yourself, shown masked.
  const apiKey = "owm-" + randomBytes(12).toString("hex");
  await page.getByText("Add key").first().click();
  await page.getByLabel("Key for openweather").fill(apiKey);
  await page.getByRole("button", { name: "Save key" }).first().click();
  await page.waitForURL(`${base}/ui/connections`);
  check(await page.getByText("•••• " + apiKey.slice(-4)).isVisible(), "the saved key is shown masked (its last 4 characters)");
  check(!(await body()).includes(apiKey.slice(0, -4)), "the key itself is not on the page");

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

// screenshots saves every page at 1024x720 and 420 px wide, light and dark.
async function screenshots(base, dataDir, env, page, context) {
  mkdirSync(shotsDir, { recursive: true });
  const variants = [
    { name: "wide", viewport: { width: 1024, height: 720 }, fullPage: true },
    { name: "narrow", viewport: { width: 420, height: 860 }, fullPage: true },
  ];
  const schemes = ["light", "dark"];
  const shoot = async (p, name) => {
    // A field with an error takes the focus and scrolls the page; the
    // shot starts at the top, where a person's eye does.
    await p.evaluate(() => {
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });
    for (const v of variants) {
      for (const s of schemes) {
        await p.setViewportSize(v.viewport);
        await p.emulateMedia({ colorScheme: s });
        await p.screenshot({ path: join(shotsDir, `${name}-${v.name}-${s}.png`), fullPage: v.fullPage, animations: "disabled" });
      }
    }
  };
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
  await page.goto(`${base}/ui/tools`);
  await shoot(page, "soon");

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
  await page.goto(`${base}/ui/providers`);
  await switchTo("work");
  await shoot(page, "providers-empty");
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
  stopAll();
  await Promise.all(children.map((p) => waitExit(p, 10000)));
  rmSync(tmp, { recursive: true, force: true });
}
log(failures === 0 ? "PASS" : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
