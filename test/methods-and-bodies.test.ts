/**
 * Both Workers against odd methods and oversized bodies (issue 10, "smaller defects"): a method
 * no route serves gets 405 with `Allow` in the one error shape, never a 5xx; a body over its
 * limit, or one the answer did not need, is drained (read and dropped, never kept) before the
 * answer goes out. Draining is what makes a refusal reach an HTTP/1.1 client that is still
 * sending: a server that answers and closes with unread bytes makes the client see a reset (or,
 * under `npm start`, wrangler's plain-text 500), so the tests check that the Worker read the
 * body to its end, which is the part the Worker controls.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import adminApp from "../control-plane/src/index";
import edgeWorker from "../edge-worker/src/index";
import {
  adminEnv,
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  makeMiniProgram,
  makeWorld,
  tasksPath,
  type World,
} from "./support/admin";
import { edgeEnv, edgeFetch } from "./support/edge";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A streamed body (no Content-Length) of `total` bytes, repeating `pattern`, that records how
 * far it was read.
 */
function countedBody(total: number, chunk = 64 * KiB, pattern = " ") {
  const state = { pulled: 0, cancelled: false };
  const unit = new TextEncoder().encode(pattern.repeat(Math.ceil(chunk / pattern.length)).slice(0, chunk));
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const size = Math.min(chunk, total - state.pulled);
        state.pulled += size;
        controller.enqueue(unit.slice(0, size));
        if (state.pulled >= total) controller.close();
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json<{ error: { code: string; message: string } }>()).error;
}

describe("methods no route serves", () => {
  it("the edge answers 405 with Allow for TRACE, OPTIONS, PROPFIND, PUT, PATCH and DELETE on every path", async () => {
    for (const method of ["TRACE", "OPTIONS", "PROPFIND", "PUT", "PATCH", "DELETE"]) {
      for (const path of ["/v1/check", "/healthz", `/v1/packages/${"a".repeat(64)}`, "/nope"]) {
        const res = await edgeFetch(path, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        expect(await errorOf(res)).toEqual({
          code: "method_not_allowed",
          message: `${method} is not allowed here; use one of GET, HEAD, POST`,
        });
      }
    }
  });

  it("the admin API answers 405 with Allow for TRACE, OPTIONS and PROPFIND, before authentication", async () => {
    for (const method of ["TRACE", "OPTIONS", "PROPFIND"]) {
      for (const path of ["/v1/teams", "/healthz", "/v1/auth/login", "/nope"]) {
        const res = await callAdmin(method, path);
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get("allow")).toBe("GET, HEAD, POST, PUT, PATCH, DELETE");
        expect((await errorOf(res)).code).toBe("method_not_allowed");
      }
    }
  });

  it("CONNECT: workerd cannot even build such a Request; a request-shaped CONNECT still gets 405 from both Workers", async () => {
    // workerd hands an incoming CONNECT to a `connect()` handler, never to `fetch` (see README,
    // "Local runs"), and refuses to construct a CONNECT Request. The Workers' fetch handlers
    // are still called with one here, as a plain object, so that a runtime that did pass it on
    // would get the 405 too.
    expect(() => new Request("https://edge.test/v1/check", { method: "CONNECT" })).toThrow(TypeError);
    const connect = (url: string) =>
      ({ method: "CONNECT", url, headers: new Headers(), body: null, bodyUsed: false }) as unknown as Request;

    const ctx = createExecutionContext();
    const edge = await edgeWorker.fetch(connect("https://edge.test/v1/check"), edgeEnv, ctx);
    expect(edge.status).toBe(405);
    expect(edge.headers.get("allow")).toBe("GET, HEAD, POST");
    expect((await errorOf(edge)).code).toBe("method_not_allowed");

    const admin = await adminApp.fetch(connect("https://admin.test/v1/teams"), adminEnv(), ctx);
    expect(admin.status).toBe(405);
    expect(admin.headers.get("allow")).toBe("GET, HEAD, POST, PUT, PATCH, DELETE");
    expect((await errorOf(admin)).code).toBe("method_not_allowed");
    await waitOnExecutionContext(ctx);
  });
});

describe("oversized and unread bodies are drained before the answer", () => {
  let world: World;
  beforeAll(async () => {
    world = await makeWorld();
  });

  it("the edge check: a 1 MiB streamed body gets 413 after the whole body was read, none of it kept", async () => {
    const { stream, state } = countedBody(1 * MiB, 4 * KiB);
    const res = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expect(state.pulled).toBe(1 * MiB);
    expect(state.cancelled).toBe(false);
  });

  it("the edge: a body sent to a route that reads none is drained too (404, 405)", async () => {
    for (const [method, path, status] of [
      ["POST", "/nope", 404],
      ["PUT", "/v1/check", 405],
    ] as const) {
      const { stream, state } = countedBody(512 * KiB);
      const res = await edgeFetch(path, { method, body: stream });
      expect(res.status).toBe(status);
      expect(state.pulled, `${method} ${path}`).toBe(512 * KiB);
    }
  });

  it("a package upload over 32 MiB without Content-Length gets 413 after the whole body was read", async () => {
    const appId = await makeMiniProgram(world);
    const { stream, state } = countedBody(33 * MiB);
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: world.devA.token,
        body: stream,
        headers: { "content-type": "application/zip" },
      }),
      413,
      "payload_too_large",
    );
    expect(state.pulled).toBe(33 * MiB);
    expect(state.cancelled).toBe(false);
  });

  it("an upload refused before its body is read (401, 403, 415) is drained after the answer", async () => {
    const appId = await makeMiniProgram(world);
    const cases = [
      { token: undefined, type: "application/zip", status: 401, code: "unauthenticated" },
      { token: world.viewerA.token, type: "application/zip", status: 403, code: "forbidden" },
      { token: world.devA.token, type: "image/png", status: 415, code: "unsupported_media_type" },
    ];
    for (const c of cases) {
      const { stream, state } = countedBody(2 * MiB);
      const res = callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: c.token,
        body: stream,
        headers: { "content-type": c.type },
      });
      await expectError(res, c.status, c.code);
      expect(state.pulled, c.code).toBe(2 * MiB);
    }
  });

  it("a JSON body over 256 KiB without Content-Length gets 413 after the whole body was read", async () => {
    const { stream, state } = countedBody(1 * MiB);
    await expectError(
      callAdmin("POST", "/v1/mini-programs", {
        token: world.devA.token,
        body: stream,
        headers: { "content-type": "application/json" },
      }),
      413,
      "payload_too_large",
    );
    expect(state.pulled).toBe(1 * MiB);
  });

  it("a whitelist over 64 MiB, or one refused halfway (too many lines), is drained before the 413", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + 3_600_000 });
    const put = (body: ReadableStream<Uint8Array>) =>
      callAdmin("PUT", tasksPath(appId, `/${task.id}/whitelists/guid`), {
        token: world.devA.token,
        body,
        headers: { "content-type": "text/plain" },
      });

    const big = countedBody(65 * MiB, 256 * KiB, "\n");
    expect(await expectError(put(big.stream), 413, "payload_too_large")).toBe(
      "the body is limited to 67108864 bytes",
    );
    expect(big.state.pulled).toBe(65 * MiB);
    expect(big.state.cancelled).toBe(false);

    // 2,097,152 lines: refused at line 1,000,001, about halfway through the body.
    const long = countedBody(4 * MiB, 64 * KiB, "a\n");
    expect(await expectError(put(long.stream), 413, "payload_too_large")).toMatch(/1000000 lines/);
    expect(long.state.pulled).toBe(4 * MiB);
    expect(long.state.cancelled).toBe(false);
  }, 60_000);
});
