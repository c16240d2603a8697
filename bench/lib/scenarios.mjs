// The edge load scenarios. Each is checked once by hand before any load (right answer, right
// reason, tickets where expected); one the current code cannot serve is "not available" with
// the reason, and the run goes on with the others.
import { APPS, clientBody } from "./fixtures.mjs";
import { jwsClaims } from "./util.mjs";

const JSON_HEADERS = { "content-type": "application/json" };
const RANGE = { start: 65_536, length: 65_536 };
/** A probe that gets no answer in this time counts as "not available", never as a hang. */
const TIMEOUT_MS = 15_000;

const USER_FIELDS = new Set(["guid", "deviceId", "account", "tickets"]);

/**
 * `GET /v1/check?…` for a client body as the reference client sends it: identifiers and tickets
 * (as repeated `ticket`) in the `x-graycast-user` header, everything else in the query.
 */
export function checkGet(body) {
  const query = new URLSearchParams();
  const user = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) {
    const params = USER_FIELDS.has(name) ? user : query;
    if (name === "tickets") for (const t of value) params.append("ticket", t);
    else params.append(name, String(value));
  }
  const header = user.toString();
  /** @type {Record<string, string>} */
  const headers = header ? { "x-graycast-user": header } : {};
  return { path: `/v1/check?${query}`, headers };
}

/** One check, `GET` (query) by default or `POST` (JSON body); never throws. */
export async function check(edgeUrl, body, method = "GET") {
  try {
    const get = checkGet(body);
    const init =
      method === "GET"
        ? { headers: get.headers }
        : { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) };
    const res = await fetch(`${edgeUrl}${method === "GET" ? get.path : "/v1/check"}`, {
      ...init,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {}
    return {
      status: res.status,
      json,
      text,
      claims: jwsClaims(json?.manifest),
      tickets: Array.isArray(json?.tickets) ? json.tickets : [],
    };
  } catch (err) {
    return { status: 0, text: String(err), tickets: [] };
  }
}

const brief = (r) =>
  `HTTP ${r.status} ${r.claims ? `reason=${r.claims.reason} version=${r.claims.version ?? "-"} task=${r.claims.taskId ?? "-"}` : String(r.text).slice(0, 160)}`;

class Unavailable extends Error {}
const expect = (ok, message) => {
  if (!ok) throw new Unavailable(message);
};

/** Runs `fn` with at most `limit` in flight. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

/**
 * The scenarios, in report order. `spec(round)` gives the load.mjs spec of one run (admission
 * scenarios need fresh users every run). `prepare()` validates and may build pools; it returns
 * a note, or throws Unavailable.
 */
export function edgeScenarios({ urls, world, options }) {
  const edge = urls.edge;
  const hello = urls.hello;
  const base = { connections: options.connections, duration: options.duration };
  const checkSpec = (extra) => ({ ...base, url: edge, method: "GET", ...extra });
  const postSpec = (extra) => ({
    ...base,
    url: edge,
    method: "POST",
    path: "/v1/check",
    headers: JSON_HEADERS,
    ...extra,
  });
  // The online pool: distinct users (GUIDs) of one host app on one installed version.
  const onlineUsers = () =>
    world.nonMembers.slice(0, options.poolSize).map((guid) => clientBody(APPS.online, { guid }));
  const state = {};

  return [
    {
      id: "hello",
      label: "hello-world Worker (baseline)",
      baseline: true,
      prepare: async () => {
        const r = await fetch(hello, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        expect(r.ok, `hello-world answered ${r.status}`);
        return 'GET / -> 200 "hello world"';
      },
      spec: () => ({ ...base, url: hello, method: "GET", path: "/" }),
    },
    {
      id: "online",
      label: "check, online path",
      goal: { ratio: 0.85 },
      prepare: async () => {
        const r = await check(edge, clientBody(APPS.online, { guid: world.nonMembers[0] }));
        expect(
          r.status === 200 && r.claims?.reason === "online" && r.claims?.version === "2.0.0",
          `expected reason=online version=2.0.0, got ${brief(r)}`,
        );
        return `GET /v1/check?… with the guid in x-graycast-user (the reference client's form); ${options.poolSize} distinct users in rotation, snapshot with no tasks; answer: online 2.0.0, signed`;
      },
      spec: () => checkSpec({ gets: onlineUsers().map(checkGet) }),
    },
    {
      id: "onlinepost",
      label: "check, online path, POST with a JSON body",
      prepare: async () => {
        const r = await check(edge, clientBody(APPS.online, { guid: world.nonMembers[0] }), "POST");
        expect(
          r.status === 200 && r.claims?.reason === "online" && r.claims?.version === "2.0.0",
          `expected reason=online version=2.0.0, got ${brief(r)}`,
        );
        return "the same users and answers as the row above, the client context sent as a JSON body";
      },
      spec: () => postSpec({ bodies: onlineUsers().map((b) => JSON.stringify(b)) }),
    },
    {
      id: "tasks",
      label: "check, 5 delivering tasks + 1,000,000-entry whitelist",
      goal: { ratio: 0.8 },
      prepare: async () => {
        const members = world.members;
        const poolSize = options.poolSize;
        const bodies = [];
        // Half whitelisted users (spread over the whole list, so over all shards), half not.
        const share = options.memberShare;
        // Members spread over the whole list (so over all shards), interleaved with non-members.
        let acc = 0;
        for (let i = 0; i < poolSize; i++) {
          acc += share;
          const isMember = acc >= 1;
          if (isMember) acc -= 1;
          const guid = isMember
            ? members[Math.floor((i / poolSize) * members.length) + 7]
            : world.nonMembers[i];
          bodies.push(checkGet(clientBody(APPS.tasks, { guid })));
        }
        const probe = clientBody(APPS.tasks, { guid: members[7] });
        const member = await check(edge, probe);
        expect(
          member.status === 200 &&
            member.claims?.reason === "grayscale" &&
            member.claims?.taskId === world.tasks.list,
          `whitelisted user: expected grayscale from ${world.tasks.list}, got ${brief(member)}`,
        );
        const other = await check(edge, clientBody(APPS.tasks, { guid: world.nonMembers[0] }));
        expect(
          other.status === 200 && other.claims?.reason === "online",
          `user not in the whitelist: expected online, got ${brief(other)}`,
        );
        state.taskBodies = bodies;
        return `${poolSize} distinct users in rotation, ${Math.round(share * 100)}% of them in the whitelist (grayscale 2.1.0 from the 5th task), the rest not (online); four higher tasks each fail on one rule`;
      },
      spec: () => checkSpec({ gets: state.taskBodies }),
    },
    {
      id: "admit",
      label: "check, first admission to a capped task (new user every request)",
      goal: { ratio: 0.5 },
      admissions: world.tasks.admit,
      prepare: async () => {
        const r = await check(edge, clientBody(APPS.admit, { guid: `probe-${Date.now()}` }));
        expect(
          r.status === 200 && r.claims?.reason === "grayscale" && r.claims?.taskId === world.tasks.admit,
          `new user: expected grayscale from ${world.tasks.admit}, got ${brief(r)}`,
        );
        expect(r.tickets.length > 0, "admitted, but the answer carries no admission ticket");
        return `cap ${world.admitCap.toLocaleString("en-US")} (never reached); every request a new GUID: a first admission, from the isolate's admission lease (ADMISSION_LEASE_SIZE slots, wrangler.toml) settled in batches, or one GrayscaleCounter.admit while it holds none`;
      },
      spec: (round) =>
        checkSpec({
          newUser: {
            path: checkGet(clientBody(APPS.admit)).path,
            header: "x-graycast-user",
            field: "guid",
            prefix: `r${round}-${Date.now()}-`,
          },
        }),
    },
    {
      id: "repeat",
      label: "check, repeat check of admitted users (tickets)",
      goal: { ratio: 0.8 },
      prepare: async () => {
        const users = Array.from({ length: options.poolSize }, (_, i) => `pool-${i}-${Date.now()}`);
        const answers = await pool(users, 16, (guid) => check(edge, clientBody(APPS.admit, { guid })));
        const bad = answers.find(
          (r) => r.status !== 200 || r.claims?.reason !== "grayscale" || r.tickets.length === 0,
        );
        expect(!bad, `admitting the pool: expected grayscale with a ticket, got ${bad && brief(bad)}`);
        const replays = users.map((guid, i) =>
          clientBody(APPS.admit, { guid, installedVersion: "2.1.0", tickets: answers[i].tickets }),
        );
        state.repeatPaths = replays.map(checkGet);
        const again = await check(edge, replays[0]);
        expect(
          again.status === 200 && again.claims?.reason === "grayscale",
          `replay with the ticket: expected grayscale, got ${brief(again)}`,
        );
        return `${options.poolSize} users admitted first, then their checks replayed with their tickets (no counter call expected)`;
      },
      spec: () => checkSpec({ gets: state.repeatPaths }),
    },
    {
      id: "range",
      label: "package download, Range (64 KiB of a 1 MiB package)",
      prepare: async () => {
        const res = await fetch(`${edge}/v1/packages/${world.packageSha}`, {
          headers: { range: rangeHeader() },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const body = Buffer.from(await res.arrayBuffer());
        const want = world.packageBytes.subarray(RANGE.start, RANGE.start + RANGE.length);
        expect(
          res.status === 206 && body.equals(want),
          `expected 206 with the requested bytes, got HTTP ${res.status}, ${body.length} bytes`,
        );
        return `GET /v1/packages/{sha256} with "Range: ${rangeHeader()}" -> 206, 64 KiB from R2`;
      },
      spec: () => ({
        ...base,
        url: edge,
        method: "GET",
        path: `/v1/packages/${world.packageSha}`,
        headers: { range: rangeHeader() },
      }),
    },
    {
      id: "r2floor",
      label: "(reference) the same Range read by a bare Worker: one bucket.get",
      prepare: async () => {
        expect(urls.r2floor, "no reference Worker");
        const res = await fetch(`${urls.r2floor}/packages/${world.packageSha}`, {
          headers: { range: rangeHeader() },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const body = Buffer.from(await res.arrayBuffer());
        expect(
          res.status === 206 && body.length === RANGE.length,
          `expected 206 with ${RANGE.length} bytes, got HTTP ${res.status}, ${body.length} bytes`,
        );
        return "bench-only Worker on the same bucket: what the local R2 simulator costs for this read";
      },
      spec: () => ({
        ...base,
        url: urls.r2floor,
        method: "GET",
        path: `/packages/${world.packageSha}`,
        headers: { range: rangeHeader() },
      }),
    },
    {
      id: "getfloor",
      label:
        "(reference) a bare Worker answering the check's GET: the same queries, ~1 KB already encoded, the same headers",
      prepare: async () => {
        expect(urls.r2floor, "no reference Worker");
        const first = checkGet(onlineUsers()[0]);
        const res = await fetch(`${urls.r2floor}${first.path}`, {
          headers: first.headers,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        expect(
          res.status === 200 && res.headers.get("cache-control") === "no-store",
          `expected 200 with the check's headers, got HTTP ${res.status}`,
        );
        return "bench-only Worker: what the runtime charges for the check's GET exchange itself, with none of Graycast's work";
      },
      spec: () => ({ ...base, url: urls.r2floor, method: "GET", gets: onlineUsers().map(checkGet) }),
    },
    {
      id: "jsonfloor",
      label:
        "(reference) a bare Worker answering the check's POST: read the body, JSON.parse, the same answer",
      prepare: async () => {
        expect(urls.r2floor, "no reference Worker");
        const res = await fetch(`${urls.r2floor}/v1/check`, {
          method: "POST",
          headers: JSON_HEADERS,
          body: JSON.stringify(onlineUsers()[0]),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        expect(res.status === 200, `expected 200, got HTTP ${res.status}`);
        return "bench-only Worker: what reading and parsing a POST body and answering costs in this runtime, with none of Graycast's work";
      },
      spec: () => ({
        ...base,
        url: urls.r2floor,
        method: "POST",
        path: "/v1/check",
        headers: JSON_HEADERS,
        bodies: onlineUsers().map((b) => JSON.stringify(b)),
      }),
    },
  ];
}

function rangeHeader() {
  return `bytes=${RANGE.start}-${RANGE.start + RANGE.length - 1}`;
}

export { brief, pool, Unavailable };
