// Browser test of the desktop parts of the admin UI in Debian's chromium
// (playwright-core): the locked daemon's unlock page and the first run's
// choose-a-passphrase page, Home's Connect Claude Desktop button with each
// state of Claude Desktop's settings file, and the move of a key kept in
// the generated key file behind a passphrase. Each daemon runs on its own
// temp data dir with XDG_CONFIG_HOME in a temp dir, so Claude Desktop's
// real settings are never touched, and no session bus (no keyring).
//
//   node e2e/desktop.mjs PLEXUS_BINARY [--shots DIR]
//
// With --shots it saves screenshots of each page at 1024x720 and 420 px
// wide, light and dark, into DIR (docs/screenshots).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium). With
// PLEXUS_E2E_KEYRING=1, under a session bus with an unlocked Secret Service
// (dbus-run-session, gnome-keyring-daemon --unlock), it also moves a key
// file's key into that keyring from Home.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, mkdirSync, openSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const bin = args[0];
const shotsAt = args.indexOf("--shots");
const shotsDir = shotsAt >= 0 ? args[shotsAt + 1] : "";
if (!bin || (shotsAt >= 0 && !shotsDir)) {
  console.error("usage: node e2e/desktop.mjs PLEXUS_BINARY [--shots DIR]");
  process.exit(2);
}

const started = Date.now();
const log = (...m) => console.log(`[desktop-e2e +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...m);
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

const PASSPHRASE = "correct horse battery staple";
const tmp = mkdtempSync(join(tmpdir(), "plexus-desktop-e2e-"));
const children = [];
let browser;

// baseEnv: no keyring (no session bus), no key given, Claude Desktop's
// settings in a temp folder of this daemon's own.
function baseEnv(name) {
  const cfg = join(tmp, `${name}-config`);
  mkdirSync(cfg, { recursive: true, mode: 0o700 });
  return {
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tmp, "no-bus")}`,
    PLEXUS_MASTER_KEY: "",
    PLEXUS_PASSPHRASE: "",
    XDG_CONFIG_HOME: cfg,
    PLEXUS_LOG_LEVEL: "debug",
  };
}

function startDaemon(name, extraArgs, env) {
  const dataDir = join(tmp, name);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const out = join(tmp, `${name}.log`);
  const fd = openSync(out, "a");
  const p = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, ...extraArgs], {
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  children.push(p);
  return { p, log: out, dataDir, env };
}

async function waitRuntime(d) {
  const rtPath = join(d.dataDir, "plexus.runtime.json");
  for (let i = 0; i < 150; i++) {
    if (d.p.exitCode !== null) break;
    if (existsSync(rtPath)) {
      try {
        const rt = JSON.parse(readFileSync(rtPath, "utf8"));
        if (rt.addr && rt.pid === d.p.pid) return `http://${String(rt.addr).replace(/^https?:\/\//, "")}`;
      } catch {
        /* being written */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.error(readFileSync(d.log, "utf8"));
  throw new Error("the daemon did not start");
}

async function stopDaemon(d) {
  if (d.p.exitCode !== null) return;
  try {
    process.kill(-d.p.pid, "SIGTERM");
  } catch {
    return;
  }
  await Promise.race([new Promise((r) => d.p.once("exit", r)), new Promise((r) => setTimeout(r, 10000))]);
}

function run(cmd, argv, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${argv.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

const loginURL = (d) => run(bin, ["open", "--print-url", "--data", d.dataDir], d.env);

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    // A refused form answers 422 on purpose; the browser logs that.
    if (m.type() === "error" && !m.text().includes("status of 422")) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  return { context, page, problems };
}

async function shoot(p, name, fullPage = true) {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  const variants = [
    { name: "wide", viewport: { width: 1024, height: 720 } },
    { name: "narrow", viewport: { width: 420, height: 860 } },
  ];
  for (const v of variants) {
    for (const s of ["light", "dark"]) {
      await p.setViewportSize(v.viewport);
      await p.emulateMedia({ colorScheme: s });
      await p.screenshot({ path: join(shotsDir, `${name}-${v.name}-${s}.png`), fullPage, animations: "disabled" });
    }
  }
  await p.setViewportSize({ width: 1024, height: 720 });
  await p.emulateMedia({ colorScheme: "light" });
}

// Part 1: a passphrase vault, and a daemon nobody can type it for: it
// starts locked; the window signs in and unlocks it.
async function unlock() {
  // Make the vault (with a tenant) through PLEXUS_PASSPHRASE, then stop.
  const env = baseEnv("locked");
  const first = startDaemon("locked", [], { ...env, PLEXUS_PASSPHRASE: PASSPHRASE });
  await waitRuntime(first);
  await run(bin, ["admin", "--data", first.dataDir, "tenant", "create", "--entity-id", "personal", "--name", "Personal"], first.env);
  await stopDaemon(first);

  const d = startDaemon("locked", ["--ask-in-window"], env);
  const base = await waitRuntime(d);
  log("locked daemon at", base);
  const mcp = await fetch(`${base}/personal/mcp`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  const body = await mcp.json();
  check(mcp.status === 503 && body.id === 1 && body.error?.message === "Plexus is locked: open Plexus and enter your passphrase",
    "a locked daemon answers MCP with the JSON-RPC message saying what to do");

  const { context, page, problems } = await newPage();
  await page.goto(await loginURL(d));
  await page.waitForURL(`${base}/ui/`);
  must((await page.locator("h1").textContent()).trim() === "Unlock Plexus", "signed in while locked: the unlock page");
  check(await page.getByLabel("Passphrase").evaluate((e) => e === document.activeElement), "the passphrase field has the focus");
  await shoot(page, "unlock");
  await page.getByLabel("Passphrase").fill("not my passphrase");
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForLoadState();
  check(await page.getByText("That passphrase does not open Plexus").isVisible(), "a wrong passphrase says so, under the field");
  check(!(await page.content()).includes("not my passphrase"), "the wrong passphrase is not echoed");
  await shoot(page, "unlock-wrong");
  await page.getByLabel("Passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForURL(`${base}/ui/`, { timeout: 30000 });
  must((await page.locator("h1").textContent()).trim() === "Home", "unlocked: the window shows Home, signed in");
  check(await page.getByText("Your passphrase", { exact: true }).isVisible(), "Home says the key is the passphrase");
  const after = await fetch(`${base}/readyz`);
  check(after.status === 200, "after unlocking, the daemon is ready");
  check(problems.length === 0, `unlock: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
  await stopDaemon(d);
}

// Part 2: the first run of the window's daemon with no keyring: choose a
// passphrase (twice).
async function choose() {
  const env = baseEnv("new");
  const d = startDaemon("new", ["--ask-in-window"], env);
  const base = await waitRuntime(d);
  const { context, page, problems } = await newPage();
  await page.goto(await loginURL(d));
  await page.waitForURL(`${base}/ui/`);
  must((await page.locator("h1").textContent()).trim() === "Choose a passphrase", "a new vault without a keyring: choose a passphrase");
  await shoot(page, "choose-passphrase");
  await page.getByLabel("New passphrase").fill(PASSPHRASE);
  await page.getByLabel("Type it again").fill(PASSPHRASE + "!");
  await page.getByRole("button", { name: "Protect with this passphrase" }).click();
  await page.waitForLoadState();
  check(await page.getByText("The two passphrases differ.").isVisible(), "two different passphrases: said under the second field");
  await shoot(page, "choose-passphrase-differ");
  await page.getByLabel("New passphrase").fill(PASSPHRASE);
  await page.getByLabel("Type it again").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Protect with this passphrase" }).click();
  await page.waitForURL(`${base}/ui/`, { timeout: 30000 });
  must((await page.locator("h1").textContent()).trim() === "Home", "after choosing: Home, signed in");
  check(await page.getByText("Your passphrase", { exact: true }).isVisible(), "Home says the key is the passphrase");
  check(!existsSync(join(d.dataDir, "plexus.key")), "no key file was written");
  check(problems.length === 0, `choose: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
  await stopDaemon(d);
}

// Part 3: a vault whose key went into the generated key file (a daemon
// not started for the window): Home's Claude Desktop button in each
// state, and the move of the key behind a passphrase.
async function home() {
  const env = baseEnv("keyfile");
  const claude = join(env.XDG_CONFIG_HOME, "Claude", "claude_desktop_config.json");
  const d = startDaemon("keyfile", [], env);
  const base = await waitRuntime(d);
  await run(bin, ["admin", "--data", d.dataDir, "tenant", "create", "--entity-id", "personal", "--name", "Personal"], d.env);
  const { context, page, problems } = await newPage();
  await page.goto(await loginURL(d));
  await page.waitForURL(`${base}/ui/`);
  must((await page.locator("h1").textContent()).trim() === "Home", "key-file vault: Home");
  const box = page.locator(".connect-box");
  check((await box.getAttribute("data-claude-state")) === "not-connected", "Claude Desktop: not connected");
  check((await page.locator("#connect").textContent()).includes(claude), "the card names the file it changes");
  check(await page.locator("#key-move summary").getByText("Protect with a passphrase").isVisible(), "the key file's key can be protected with a passphrase");
  await shoot(page, "home-connect");
  await page.getByRole("button", { name: "Connect Claude Desktop" }).click();
  await page.waitForURL(`${base}/ui/#connect`);
  check(await page.getByText("Connected. Restart Claude Desktop.").isVisible(), "Connect says what to do next");
  check((await box.getAttribute("data-claude-state")) === "connected", "Claude Desktop: connected");
  const cfg = JSON.parse(readFileSync(claude, "utf8"));
  const entry = cfg.mcpServers?.plexus;
  check(entry && entry.args.join(" ").endsWith("stdio --data " + d.dataDir + " --tenant personal"), `the entry starts this plexus (${JSON.stringify(entry)})`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shoot(page, "home-connected");

  writeFileSync(claude, JSON.stringify({ mcpServers: { plexus: { command: "/usr/local/bin/old-plexus", args: ["stdio"] }, fs: { command: "npx", args: ["fs"] } } }));
  await page.goto(`${base}/ui/`);
  check((await box.getAttribute("data-claude-state")) === "differs", "an entry that starts something else: entry differs");
  await shoot(page, "home-connect-differs");
  await page.getByRole("button", { name: "Update Claude Desktop’s entry" }).click();
  await page.waitForURL(`${base}/ui/#connect`);
  const cfg2 = JSON.parse(readFileSync(claude, "utf8"));
  check(cfg2.mcpServers.fs?.command === "npx" && cfg2.mcpServers.plexus.command !== "/usr/local/bin/old-plexus", "Update kept the other server");
  check(readdirSync(join(env.XDG_CONFIG_HOME, "Claude")).some((f) => f.includes(".plexus-backup-")), "a backup was written");

  writeFileSync(claude, '{\n  // my servers\n  "mcpServers": {}\n}\n');
  await page.goto(`${base}/ui/`);
  check((await box.getAttribute("data-claude-state")) === "unreadable", "a file with comments: cannot read");
  check((await page.getByRole("button", { name: "Connect Claude Desktop" }).count()) === 0, "no Connect button for a file Plexus will not change");
  await shoot(page, "home-connect-unreadable");

  // Protect the key file's key with a passphrase.
  await page.goto(`${base}/ui/`);
  await page.locator("#key-move summary").click();
  // (A short one never leaves the browser: the field has minlength.)
  await page.locator("#key-move").getByLabel("New passphrase").fill(PASSPHRASE);
  await page.locator("#key-move").getByLabel("Type it again").fill(PASSPHRASE + " typo");
  await page.locator("#key-move").getByRole("button", { name: "Protect with a passphrase" }).click();
  await page.waitForLoadState();
  check(await page.getByText("The two passphrases differ.").isVisible(), "two different passphrases are refused under the field");
  await shoot(page, "home-key-move-error");
  await page.locator("#key-move").getByLabel("New passphrase").fill(PASSPHRASE);
  await page.locator("#key-move").getByLabel("Type it again").fill(PASSPHRASE);
  await page.locator("#key-move").getByRole("button", { name: "Protect with a passphrase" }).click();
  await page.waitForURL((u) => u.pathname === "/ui/"); // with the form's #key-move
  check(await page.getByText(/protected by your passphrase/).isVisible(), "the flash says the key is protected");
  check(!existsSync(join(d.dataDir, "plexus.key")), "the key file is gone");
  await shoot(page, "home-key-protected");
  check(problems.length === 0, `home: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
  await stopDaemon(d);

  // The next start has nobody to type it: locked.
  const d2 = startDaemon("keyfile", [], env);
  const base2 = await waitRuntime(d2);
  const r = await fetch(`${base2}/readyz`);
  check(r.status === 503, "after the move, the next start waits for the passphrase");
  await stopDaemon(d2);
}

// Part 4 (PLEXUS_E2E_KEYRING=1): a key-file vault made without a keyring,
// then started where the keyring answers: Home offers the move.
async function keyring() {
  const env = baseEnv("keyring");
  const d = startDaemon("keyring", [], env);
  await waitRuntime(d);
  await run(bin, ["admin", "--data", d.dataDir, "tenant", "create", "--entity-id", "personal", "--name", "Personal"], d.env);
  await stopDaemon(d);
  const withBus = { ...env, DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };
  const d2 = startDaemon("keyring", [], withBus);
  const base = await waitRuntime(d2);
  const { context, page, problems } = await newPage();
  await page.goto(await loginURL(d2));
  await page.waitForURL(`${base}/ui/`);
  must(await page.getByRole("button", { name: "Move the key to your keyring" }).isVisible(), "a keyring answers: Home offers the move");
  await shoot(page, "home-key-keyring");
  await page.getByRole("button", { name: "Move the key to your keyring" }).click();
  await page.waitForURL(`${base}/ui/`);
  check(await page.getByText("The key is now in your system keyring").isVisible(), "the key moved into the keyring");
  check(!existsSync(join(d2.dataDir, "plexus.key")), "the key file is gone");
  await shoot(page, "home-key-moved");
  check(problems.length === 0, `keyring: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
  await stopDaemon(d2);
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  await unlock();
  await choose();
  await home();
  if (process.env.PLEXUS_E2E_KEYRING === "1") await keyring();
}

try {
  await main();
} catch (e) {
  failures++;
  log("FAIL", e.stack || String(e));
  for (const f of readdirSync(tmp).filter((f) => f.endsWith(".log"))) {
    console.error(`--- ${f}\n` + readFileSync(join(tmp, f), "utf8").split("\n").slice(-30).join("\n"));
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of children) {
    if (p.exitCode === null && p.pid) {
      try {
        process.kill(-p.pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const p of children) {
    if (p.exitCode === null && p.pid) {
      try {
        process.kill(-p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  // Daemons `plexus admin`/`open` may have started (they stop with their data dir's runtime file).
  for (const name of ["locked", "new", "keyfile", "keyring"]) {
    const rt = join(tmp, name, "plexus.runtime.json");
    if (existsSync(rt)) {
      try {
        process.kill(JSON.parse(readFileSync(rt, "utf8")).pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
  }
  if (failures === 0) rmSync(tmp, { recursive: true, force: true });
  else console.error(`logs kept in ${tmp}`);
  log(failures === 0 ? "PASS" : `${failures} FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}
