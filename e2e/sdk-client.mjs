// sdk-client.mjs connects to an MCP server with the official TypeScript SDK
// Client, lists its tools, checks that the expected ones are there, calls one
// and prints its text. It exits non-zero, with a message naming the step, on
// any failure.
//
//   node sdk-client.mjs http URL
//   node sdk-client.mjs stdio COMMAND [ARG...]      e.g. stdio plexus stdio --tenant acme --data DIR
//
// Environment:
//   MCP_BEARER_TOKEN   bearer token for http (optional; never printed)
//   SDK_TOOL           tool to call (default plexus_whoami)
//   SDK_TOOL_ARGS      JSON object of arguments for it (default {})
//   SDK_EXPECT_TOOLS   comma-separated tools that must be listed (default: SDK_TOOL)
//   SDK_EXPECT_TENANT  if set, the whoami JSON's "tenant" must equal it
//   SDK_TIMEOUT_MS     limit for the whole run (default 60000)
//   SDK_VERBOSE=1      print the server's stderr (stdio) even on success
//
// When SDK_TOOL is plexus_whoami the text must be a JSON object with the keys
// tenant, user, guest, session_fingerprint and protocol (never the session id).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const WHOAMI = 'plexus_whoami';
const WHOAMI_KEYS = ['tenant', 'user', 'guest', 'session_fingerprint', 'protocol'];

class StepError extends Error {
  constructor(step, cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const why = cause instanceof Error && cause.cause ? ` (${cause.cause.code ?? cause.cause.message ?? cause.cause})` : '';
    super(`${step}: ${detail}${why}`);
    this.step = step;
  }
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    throw new StepError(name, err);
  }
}

function usage(msg) {
  if (msg) console.error(`sdk-client: ${msg}`);
  console.error('usage: sdk-client.mjs http URL | sdk-client.mjs stdio COMMAND [ARG...]');
  process.exit(2);
}

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  if (mode === 'http') {
    if (rest.length !== 1) usage('http wants exactly one URL');
    let url;
    try {
      url = new URL(rest[0]);
    } catch {
      usage(`not a URL: ${JSON.stringify(rest[0])}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') usage(`URL must be http(s): ${url}`);
    return { mode, url };
  }
  if (mode === 'stdio') {
    if (rest[0] === '--') rest.shift();
    if (rest.length < 1) usage('stdio wants a command to spawn');
    return { mode, command: rest[0], args: rest.slice(1) };
  }
  usage(mode ? `unknown mode ${JSON.stringify(mode)}` : 'no mode given');
}

function settings() {
  const tool = process.env.SDK_TOOL || WHOAMI;
  let toolArgs = {};
  if (process.env.SDK_TOOL_ARGS) {
    try {
      toolArgs = JSON.parse(process.env.SDK_TOOL_ARGS);
    } catch (err) {
      usage(`SDK_TOOL_ARGS is not JSON: ${err.message}`);
    }
    if (toolArgs === null || typeof toolArgs !== 'object' || Array.isArray(toolArgs)) usage('SDK_TOOL_ARGS must be a JSON object');
  }
  const expect = (process.env.SDK_EXPECT_TOOLS || tool).split(',').map((s) => s.trim()).filter(Boolean);
  const timeoutMs = Number(process.env.SDK_TIMEOUT_MS || 60000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage('SDK_TIMEOUT_MS must be a positive number');
  return { tool, toolArgs, expect, timeoutMs, tenant: process.env.SDK_EXPECT_TENANT || '' };
}

function makeTransport(target, stderrLines) {
  if (target.mode === 'http') {
    const headers = {};
    if (process.env.MCP_BEARER_TOKEN) headers.Authorization = `Bearer ${process.env.MCP_BEARER_TOKEN}`;
    return new StreamableHTTPClientTransport(target.url, { requestInit: { headers } });
  }
  // Pass the whole environment (the SDK's default keeps only HOME, PATH, ...),
  // so that e.g. PLEXUS_MASTER_KEY reaches a daemon the bridge may start.
  const transport = new StdioClientTransport({
    command: target.command,
    args: target.args,
    env: { ...process.env },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk) => {
    for (const line of String(chunk).split('\n')) {
      if (!line) continue;
      stderrLines.push(line);
      if (stderrLines.length > 200) stderrLines.shift();
      if (process.env.SDK_VERBOSE === '1') console.error(`  [server stderr] ${line}`);
    }
  });
  return transport;
}

function checkWhoami(text, want) {
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new Error(`${WHOAMI} text is not JSON (${err.message}): ${text.slice(0, 200)}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${WHOAMI} text is not a JSON object: ${text.slice(0, 200)}`);
  const missing = WHOAMI_KEYS.filter((k) => !(k in obj));
  if (missing.length) throw new Error(`${WHOAMI} JSON lacks ${missing.join(', ')}: ${text.slice(0, 200)}`);
  if (want.tenant && obj.tenant !== want.tenant) throw new Error(`${WHOAMI} says tenant ${JSON.stringify(obj.tenant)}, want ${JSON.stringify(want.tenant)}`);
  return obj;
}

async function main() {
  const target = parseArgs(process.argv.slice(2));
  const cfg = settings();
  const label = target.mode === 'http' ? `http ${target.url}` : `stdio ${[target.command, ...target.args].join(' ')}`;
  const stderrLines = [];
  const client = new Client({ name: 'plexus-e2e-sdk-client', version: '1.0.0' });
  const transport = makeTransport(target, stderrLines);
  const deadline = setTimeout(() => {
    console.error(`sdk-client ${target.mode}: FAILED: no result within ${cfg.timeoutMs} ms (${label})`);
    if (stderrLines.length) console.error(`server stderr (last lines):\n  ${stderrLines.slice(-30).join('\n  ')}`);
    // Stop a spawned server (ours, by its pid) before leaving.
    if (transport.pid) {
      try {
        process.kill(transport.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    process.exit(1);
  }, cfg.timeoutMs);
  deadline.unref();

  try {
    await step('connect', () => client.connect(transport, { timeout: cfg.timeoutMs + 1000 }));
    const info = client.getServerVersion() ?? {};
    const proto = transport.protocolVersion ? `, protocol ${transport.protocolVersion}` : '';
    console.log(`sdk-client ${target.mode}: connected to ${info.name ?? '?'} ${info.version ?? '?'} (${label})${proto}` +
      (transport.sessionId ? ', session id set' : ''));

    const tools = await step('tools/list', async () => {
      const all = [];
      let cursor;
      for (let page = 0; page < 100; page++) {
        const res = await client.listTools(cursor ? { cursor } : {});
        all.push(...res.tools);
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      return all;
    });
    const names = tools.map((t) => t.name);
    console.log(`sdk-client ${target.mode}: ${names.length} tools: ${names.join(', ')}`);
    const missing = cfg.expect.filter((n) => !names.includes(n));
    if (missing.length) throw new StepError('tools/list', `missing expected tool(s) ${missing.join(', ')}`);

    const result = await step(`tools/call ${cfg.tool}`, () => client.callTool({ name: cfg.tool, arguments: cfg.toolArgs }));
    const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    if (result.isError) throw new StepError(`tools/call ${cfg.tool}`, `tool returned an error: ${text.slice(0, 300)}`);
    if (!text) throw new StepError(`tools/call ${cfg.tool}`, 'no text content in the result');
    console.log(`sdk-client ${target.mode}: ${cfg.tool} -> ${text}`);
    if (cfg.tool === WHOAMI) await step(`check ${WHOAMI}`, () => checkWhoami(text, cfg));

    if (target.mode === 'http' && transport.sessionId) {
      await step('terminate session (DELETE)', () => transport.terminateSession());
    }
    await step('close', () => client.close());
    console.log(`sdk-client ${target.mode}: OK`);
  } catch (err) {
    console.error(`sdk-client ${target.mode}: FAILED at ${err.message} (${label})`);
    if (stderrLines.length) console.error(`server stderr (last lines):\n  ${stderrLines.slice(-30).join('\n  ')}`);
    try {
      await client.close();
    } catch {
      // already failing; the close error adds nothing
    }
    process.exit(1);
  }
  clearTimeout(deadline);
}

main().catch((err) => {
  console.error(`sdk-client: FAILED: ${err.stack || err}`);
  process.exit(1);
});
