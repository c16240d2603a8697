// `--profile <scenario>`: a CPU profile of the edge Worker inside workerd while a scenario runs,
// taken over the DevTools protocol of workerd's inspector (Miniflare's `inspectorPort`), and
// summarised by source module (from the `// path` comments esbuild leaves in an unminified
// bundle) and by function. Only used on request: an attached profiler slows the Worker.
import { readFileSync } from "node:fs";

/** Line (0-based) -> source module of the bundle, from esbuild's `// node_modules/x/y.js` markers. */
function moduleMap(bundlePath) {
  const lines = readFileSync(bundlePath, "utf8").split("\n");
  const map = new Array(lines.length);
  let current = "(bundle)";
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:\.\.\/)*(?:node_modules\/((?:@[^/]+\/)?[^/]+)|[\w.-]+\/[\w./-]+))/.exec(
      lines[i] ?? "",
    );
    if (m)
      current =
        m[2] ??
        (m[1] ?? "")
          .replace(/^(\.\.\/)+/, "")
          .split("/")
          .slice(0, 2)
          .join("/");
    map[i] = current;
  }
  return map;
}

function cdp(url) {
  const ws = new WebSocket(url);
  let next = 0;
  const waiting = new Map();
  ws.addEventListener("message", (event) => {
    const msg = JSON.parse(String(event.data));
    if (msg.id !== undefined && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
  });
  const opened = new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  return {
    opened,
    send: (method, params = {}) =>
      new Promise((resolve) => {
        const id = ++next;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Profiles `workerName` while `during()` runs; returns a summary or { error }. */
export async function profileWorker(inspectorUrl, workerName, bundlePath, during) {
  try {
    const base = inspectorUrl.toString().replace(/^ws/, "http").replace(/\/$/, "");
    const targets =
      /** @type {{ id: string, title?: string, url: string, webSocketDebuggerUrl: string }[]} */ (
        await (await fetch(`${base}/json`)).json()
      );
    const target = targets.find((t) => `${t.id} ${t.title} ${t.url}`.includes(workerName));
    if (!target)
      return {
        error: `no inspector target for ${workerName} (targets: ${targets.map((t) => t.title ?? t.id).join(", ")})`,
      };
    const session = cdp(target.webSocketDebuggerUrl);
    await session.opened;
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    await session.send("Profiler.start");
    const result = await during();
    const { result: stopped } = await session.send("Profiler.stop");
    session.close();
    if (process.env.BENCH_PROFILE_DUMP)
      (await import("node:fs")).writeFileSync(
        process.env.BENCH_PROFILE_DUMP,
        JSON.stringify(stopped.profile),
      );
    return { ...summarise(stopped.profile, moduleMap(bundlePath)), load: result };
  } catch (err) {
    return { error: String(err instanceof Error ? err.message : err) };
  }
}

function summarise(profile, lineModule) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byModule = new Map();
  const byFunction = new Map();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const f = node.callFrame;
    if (f.functionName === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    // Frames without a URL are workerd's own (native) code: request body reads, crypto, Response.
    const module =
      f.url.endsWith("index.js") && f.lineNumber >= 0
        ? (lineModule[f.lineNumber] ?? "(bundle)")
        : f.url
          ? f.url
          : f.functionName.startsWith("(")
            ? f.functionName
            : "(runtime)";
    byModule.set(module, (byModule.get(module) ?? 0) + us);
    const fn = `${f.functionName || `(anonymous):${f.lineNumber + 1}`} [${module}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const top = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, pct: (us / total) * 100 }));
  return {
    busyMs: total / 1000,
    idleMs: idle / 1000,
    byModule: top(byModule, 12),
    byFunction: top(byFunction, 15),
  };
}
