// Shared by the browser tests: waiting for a daemon they started.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

// waitRuntime waits (up to 30 s) for the daemon p to write its runtime
// file in dataDir and returns its base URL; if it exits or never does,
// its log at logPath is printed and this throws.
export async function waitRuntime(dataDir, p, logPath) {
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
