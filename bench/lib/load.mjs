// One load run with autocannon, in its own process so run.mjs can pin it to the other core
// (`taskset -c 1 node bench/lib/load.mjs spec.json`). Prints one JSON line with the result.
//
// spec: { url, connections, duration (s) | amount, method, path, headers, body,
//         bodies?: string[] (rotated, one per request), paths?: string[] (rotated, one per request),
//         gets?: { path, headers }[] (rotated, one per request),
//         requests?: { path, body }[] (rotated, one per request: the admin bench's writes),
//         newUser?: { template, field, prefix } (a fresh value of `field` per request in the JSON
//         body), { path, field, prefix } (appended to `path` as `&field=value`) or
//         { path, header, field, prefix } (`field=value` as the value of request header `header`),
//         countReasons?: bool (decode each manifest) }
// Latencies are taken from autocannon's per-response event (fractional ms), not from its
// histogram, which rounds to whole milliseconds.
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const specFile = process.argv[2];
if (!specFile) throw new Error("usage: node bench/lib/load.mjs <spec.json>");
const spec = JSON.parse(readFileSync(specFile, "utf8"));

const latencies = [];
const reasons = {};
const taskIds = {};
let next = 0;

function setupRequest(req) {
  if (spec.requests) {
    const r = spec.requests[next++ % spec.requests.length];
    req.path = r.path;
    if (r.body !== undefined) req.body = r.body;
  } else if (spec.bodies) {
    req.body = spec.bodies[next++ % spec.bodies.length];
  } else if (spec.paths) {
    req.path = spec.paths[next++ % spec.paths.length];
  } else if (spec.gets) {
    const get = spec.gets[next++ % spec.gets.length];
    req.path = get.path;
    req.headers = { ...spec.headers, ...get.headers };
  } else if (spec.newUser?.header !== undefined) {
    const { path, header, field, prefix } = spec.newUser;
    req.path = path;
    req.headers = { ...spec.headers, [header]: `${field}=${prefix}${next++}` };
  } else if (spec.newUser?.path !== undefined) {
    const { path, field, prefix } = spec.newUser;
    req.path = `${path}&${field}=${prefix}${next++}`;
  } else if (spec.newUser) {
    const { template, field, prefix } = spec.newUser;
    req.body = JSON.stringify({ ...template, [field]: `${prefix}${next++}` });
  }
  return req;
}

function onResponse(status, body) {
  if (!spec.countReasons) return;
  let reason = `http_${status}`;
  try {
    const manifest = JSON.parse(body).manifest;
    const claims = JSON.parse(Buffer.from(manifest.split(".")[1], "base64url").toString("utf8"));
    reason = claims.reason;
    if (claims.taskId) taskIds[claims.taskId] = (taskIds[claims.taskId] ?? 0) + 1;
  } catch {}
  reasons[reason] = (reasons[reason] ?? 0) + 1;
}

const request = { method: spec.method ?? "GET", path: spec.path ?? "/" };
// Only when bodies vary: with setupRequest autocannon rebuilds every request, which costs client CPU.
if (spec.requests || spec.bodies || spec.paths || spec.gets || spec.newUser)
  request.setupRequest = setupRequest;
if (spec.countReasons) request.onResponse = onResponse;
if (spec.body !== undefined) request.body = spec.body;

const cpuBefore = process.cpuUsage();
const instance = autocannon({
  url: spec.url,
  connections: spec.connections ?? 50,
  pipelining: 1,
  ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration ?? 5 }),
  headers: spec.headers ?? {},
  requests: [request],
  timeout: 10,
});
instance.on("response", (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
const result = await instance;
const cpu = process.cpuUsage(cpuBefore);

const sorted = Float64Array.from(latencies).sort();
const pct = (p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;
const seconds = result.duration;
const ok = result["2xx"];
process.stdout.write(
  `${JSON.stringify({
    seconds,
    requests: result.requests.total,
    ok,
    rps: ok / seconds,
    p50: pct(50),
    p99: pct(99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: result.statusCodeStats,
    bytesPerSec: result.throughput.average,
    clientCpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    ...(spec.countReasons ? { reasons, taskIds } : {}),
  })}\n`,
);
