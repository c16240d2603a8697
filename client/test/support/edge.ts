/**
 * A stand-in for the edge that the Node tests control completely, TUF-conformance style: a local
 * `node:http` server answering `GET /v1/check?…` and `POST /v1/check` with manifests the test signs (with its own
 * Ed25519 keys, pinned or not) and serving objects under `/v1/packages|increments/{sha256}` the
 * way the real edge does (strong ETag, Range, If-Range), or misbehaving on purpose: substituted
 * bytes, a connection cut mid-body, an endless body. It records every request.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from "jose";
import { CheckRequestSchema } from "../../../core/contracts/check";
import {
  MANIFEST_ISSUER,
  MANIFEST_TYPE,
  type ManifestClaims,
  type ManifestIncrement,
  type ManifestPackage,
} from "../../../core/manifest";
import { sha256Hex } from "../../src/bytes";
import { APP_ID, type BuiltVersion, HOST_APP } from "./fixtures";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  return {
    kid,
    privateKey: privateKey as CryptoKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" },
  };
}

/** How an object is served. */
export type Behaviour =
  | { kind: "normal" }
  /**
   * The first request without Range gets `after` bytes, then the connection is destroyed. The
   * resumption is honoured, answered with the wrong range, or answered in full with 200.
   */
  | { kind: "cut"; after: number; resume?: "honour" | "wrong_range" | "full" }
  /** 200 without Content-Length and bytes until the client goes away (or `limit`) */
  | { kind: "endless"; limit: number }
  /** The first request without Range gets `after` bytes, then nothing more (the connection stays open); resumptions are honoured. */
  | { kind: "stall"; after: number };

export interface RecordedRequest {
  method: string;
  path: string;
  /** the raw query string, without `?` ("" when there is none) */
  query: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** for a check, the request as the edge reads it: from the query (GET) or the JSON body (POST) */
  check?: Record<string, unknown>;
}

interface Hosted {
  bytes: Uint8Array;
  behaviour: Behaviour;
  cutDone?: boolean;
}

export interface FakeEdge {
  url: string;
  key: SigningKey;
  /** the JWKS an App built against this edge pins */
  pinned: JSONWebKeySet;
  requests: RecordedRequest[];
  /** bytes written for endless bodies, by path */
  endlessWritten: Map<string, number>;
  /** by path: settles when the server stopped writing an endless body (the client hung up, or the limit) */
  endlessStopped: Map<string, Promise<void>>;
  /** admission tickets the next check answers carry (anything: answers are not signed around them) */
  tickets: unknown[];
  /** refuse checks carrying these tickets with 400 (as an edge with other limits would) */
  refuseTickets?: (tickets: string[]) => boolean;
  /** the next check answer: claims (signed with `key`) or a ready JWS */
  answer(next: ManifestClaims | string | ((body: Record<string, unknown>) => ManifestClaims | string)): void;
  /** serves `bytes` at the content address of `sha256` (of other bytes, for a substitution) */
  host(
    kind: "packages" | "increments",
    bytes: Uint8Array,
    options?: { sha256?: string; behaviour?: Behaviour },
  ): Promise<{ url: string; sha256: string; size: number }>;
  sign(claims: object, options?: { key?: SigningKey; kid?: string; typ?: string }): Promise<string>;
  /** ok-claims for a version, its package hosted here; `revision` grows with every call */
  claims(version: BuiltVersion, extra?: Partial<ManifestClaims>): Promise<ManifestClaims>;
  /** an increment descriptor for claims, the bytes hosted here */
  increment(
    bytes: Uint8Array,
    from: BuiltVersion,
    options?: { sha256?: string; behaviour?: Behaviour },
  ): Promise<ManifestIncrement>;
  close(): Promise<void>;
}

export async function startFakeEdge(): Promise<FakeEdge> {
  const key = await signingKey("platform-1");
  const objects = new Map<string, Hosted>();
  const requests: RecordedRequest[] = [];
  const endlessWritten = new Map<string, number>();
  const endlessStopped = new Map<string, Promise<void>>();
  let next: ((body: Record<string, unknown>) => ManifestClaims | string) | undefined;
  let revision = 1;

  const sign = (claims: object, options: { key?: SigningKey; kid?: string; typ?: string } = {}) => {
    const k = options.key ?? key;
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "EdDSA", kid: options.kid ?? k.kid, typ: options.typ ?? MANIFEST_TYPE })
      .sign(k.privateKey);
  };

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = new URL(req.url ?? "/", "http://x");
    const path = target.pathname;
    const body = Buffer.concat(chunks).toString("utf8");
    const user = req.headers["x-graycast-user"];
    const check =
      path !== "/v1/check"
        ? undefined
        : req.method === "GET"
          ? checkFromQuery(
              target.searchParams,
              typeof user === "string" ? new URLSearchParams(user) : undefined,
            )
          : req.method === "POST"
            ? (JSON.parse(body) as Record<string, unknown>)
            : undefined;
    requests.push({
      method: req.method ?? "",
      path,
      query: target.search.slice(1),
      headers: req.headers,
      body,
      ...(check ? { check } : {}),
    });
    if (check) {
      // Like the real edge: malformed tickets, or more than 8, get 400 naming them (core/contracts/check.ts).
      const tickets = check.tickets as string[] | undefined;
      if (tickets !== undefined) {
        const parsed = CheckRequestSchema.shape.tickets.safeParse(tickets);
        const refused = !parsed.success
          ? parsed.error.issues.map((i) => ({ path: ["tickets", ...i.path].join("."), message: i.message }))
          : fake.refuseTickets?.(tickets)
            ? [{ path: "tickets.0", message: "refused by this edge" }]
            : [];
        if (refused.length > 0)
          return json(res, 400, {
            error: { code: "bad_request", message: "the request is invalid", issues: refused },
          });
      }
      if (!next) return json(res, 404, { error: { code: "not_found", message: "no answer prepared" } });
      const request = check;
      const made = next(request);
      // Like the real edge, the answer names the installed version it was computed for (a test
      // may still set installedVersion itself, to forge one made for another device).
      const echo =
        typeof request.installedVersion === "string" ? { installedVersion: request.installedVersion } : {};
      const manifest = typeof made === "string" ? made : await sign({ ...echo, ...made });
      return json(res, 200, fake.tickets.length > 0 ? { manifest, tickets: fake.tickets } : { manifest });
    }
    const hosted = objects.get(path);
    if (req.method !== "GET" || !hosted)
      return json(res, 404, { error: { code: "not_found", message: "no such object" } });
    await serveObject(path, hosted, req, res, endlessWritten, endlessStopped);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const host: FakeEdge["host"] = async (kind, bytes, options = {}) => {
    const sha256 = options.sha256 ?? (await sha256Hex(bytes));
    objects.set(`/v1/${kind}/${sha256}`, { bytes, behaviour: options.behaviour ?? { kind: "normal" } });
    return { url: `${url}/v1/${kind}/${sha256}`, sha256, size: bytes.byteLength };
  };

  const fake: FakeEdge = {
    url,
    key,
    pinned: { keys: [key.publicJwk] },
    requests,
    endlessWritten,
    endlessStopped,
    tickets: [],
    answer(answer) {
      next = typeof answer === "function" ? answer : () => answer;
    },
    host,
    sign,
    async claims(version, extra = {}) {
      const hosted = objects.get(`/v1/packages/${version.sha256}`)
        ? { url: `${url}/v1/packages/${version.sha256}` }
        : await host("packages", version.zip);
      const iat = Math.floor(Date.now() / 1000);
      const pkg: ManifestPackage = {
        url: hosted.url,
        size: version.zip.byteLength,
        sha256: version.sha256,
        files: version.digest,
      };
      return {
        iss: MANIFEST_ISSUER,
        sub: APP_ID,
        aud: HOST_APP,
        iat,
        exp: iat + 3600,
        status: "ok",
        reason: "online",
        version: version.version,
        package: pkg,
        rollback: false,
        revision: revision++,
        ...extra,
      };
    },
    async increment(bytes, from, options = {}) {
      const hosted = await host("increments", bytes, options);
      return {
        url: hosted.url,
        size: bytes.byteLength,
        sha256: hosted.sha256,
        fromVersion: from.version,
        from: from.digest,
      };
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return fake;
}

/**
 * The check fields of a GET query and its `x-graycast-user` header, as the real edge reads them:
 * `ticket` repeated, `trial` a boolean.
 */
function checkFromQuery(params: URLSearchParams, user?: URLSearchParams): Record<string, unknown> {
  const check: Record<string, unknown> = {};
  for (const [name, value] of [...params, ...(user ?? [])]) {
    if (name === "ticket") ((check.tickets ??= []) as string[]).push(value);
    else check[name] = name === "trial" ? value === "true" : value;
  }
  return check;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Writes `A`s until the client hangs up (or `limit` bytes), reporting the running total. */
async function writeEndless(
  res: ServerResponse,
  etag: string,
  limit: number,
  report: (written: number) => void,
): Promise<void> {
  res.writeHead(200, { etag, "content-type": "application/octet-stream" });
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  let written = 0;
  const closed = once(res, "close").then(() => true);
  while (written < limit) {
    written += chunk.byteLength;
    report(written);
    if (
      !res.write(chunk) &&
      (await Promise.race([closed, new Promise<false>((resolve) => res.once("drain", () => resolve(false)))]))
    )
      return;
  }
  res.end();
}

async function serveObject(
  path: string,
  hosted: Hosted,
  req: IncomingMessage,
  res: ServerResponse,
  endlessWritten: Map<string, number>,
  endlessStopped: Map<string, Promise<void>>,
): Promise<void> {
  const { bytes, behaviour } = hosted;
  const etag = `"${path.slice(path.lastIndexOf("/") + 1)}"`;
  if (behaviour.kind === "endless") {
    const writing = writeEndless(res, etag, behaviour.limit, (written) => endlessWritten.set(path, written));
    endlessStopped.set(path, writing);
    return writing;
  }
  const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ""));
  const ifRange = req.headers["if-range"];
  const resume = behaviour.kind === "cut" ? (behaviour.resume ?? "honour") : "honour";
  if (m && (ifRange === undefined || ifRange === etag) && resume !== "full") {
    const start = resume === "wrong_range" ? 0 : Number(m[1]);
    res.writeHead(206, {
      etag,
      "content-range": `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`,
      "content-length": String(bytes.byteLength - start),
    });
    res.end(bytes.subarray(start));
    return;
  }
  res.writeHead(200, { etag, "content-length": String(bytes.byteLength), "accept-ranges": "bytes" });
  if (behaviour.kind === "stall" && !hosted.cutDone) {
    hosted.cutDone = true;
    res.write(bytes.subarray(0, behaviour.after));
    return;
  }
  if (behaviour.kind === "cut" && !hosted.cutDone) {
    hosted.cutDone = true;
    // Flush the first part, give the client time to read it, then break the connection.
    res.write(bytes.subarray(0, behaviour.after), () => setTimeout(() => res.socket?.destroy(), 50));
    return;
  }
  res.end(bytes);
}
