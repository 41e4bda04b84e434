// Browser test of the admin UI in Debian's chromium (playwright-core, no
// browser download): start the real daemon on a temp data dir, get a
// sign-in link from `plexus open --print-url`, open it, see the signed-in
// Home page, create the "Personal" tenant with one click and see it listed.
// Along the way: the link works once, every page carries the CSP and no
// page breaks it (a CSP violation is a console error here).
//
//   node e2e/ui.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it also saves screenshots of every page at 1024x720 and
// 420 px wide, light and dark, into DIR (docs/screenshots).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, execFile } from "node:child_process";
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

// screenshots saves every page at 1024x720 and 420 px wide, light and dark.
async function screenshots(base, dataDir, env, page, context) {
  mkdirSync(shotsDir, { recursive: true });
  const variants = [
    { name: "wide", viewport: { width: 1024, height: 720 }, fullPage: true },
    { name: "narrow", viewport: { width: 420, height: 860 }, fullPage: true },
  ];
  const schemes = ["light", "dark"];
  const shoot = async (p, name) => {
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
  stopAll();
  await Promise.all(children.map((p) => waitExit(p, 10000)));
  rmSync(tmp, { recursive: true, force: true });
}
log(failures === 0 ? "PASS" : `${failures} FAILED`);
process.exit(failures === 0 ? 0 : 1);
