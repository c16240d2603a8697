import { describe, expect, it } from "vitest";
import { client, edgeFetch, newAppId, online, packageRef, postCheck, putSnapshot } from "./support/edge";

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = await res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body;
}

function issuePaths(body: ErrorBody): string[] {
  return (body.error.issues ?? []).map((i) => i.path);
}

describe("POST /v1/check validation", () => {
  // A real app, so a request that slipped through validation would get 200, not 404.
  const appId = newAppId();
  const ready = putSnapshot({ appId, online: online("1.0.0", packageRef("a")) });

  it("accepts a full, valid client context", async () => {
    await ready;
    const res = await postCheck(
      client(appId, {
        guid: "0b7c-guid",
        deviceId: "dev-1",
        account: "user@example.com",
        network: "wifi",
        brand: "Xiaomi",
        model: "Redmi Note 12",
        installedVersion: "0.9.0",
        baseLibraryVersion: "3.4.1",
        trial: false,
      }),
    );
    expect(res.status).toBe(200);
  });

  it("names a missing required field", async () => {
    await ready;
    const { platform: _dropped, ...rest } = client(appId);
    const body = await expectError(await postCheck(rest), 400, "bad_request");
    expect(issuePaths(body)).toEqual(["platform"]);
  });

  it("refuses an unknown platform", async () => {
    await ready;
    const body = await expectError(
      await postCheck(client(appId, { platform: "windows" })),
      400,
      "bad_request",
    );
    expect(issuePaths(body)).toEqual(["platform"]);
  });

  it("refuses unknown keys instead of ignoring them", async () => {
    await ready;
    const body = await expectError(
      await postCheck(client(appId, { installedVersoin: "1.0.0" })),
      400,
      "bad_request",
    );
    expect(JSON.stringify(body.error.issues)).toContain("installedVersoin");
  });

  it("refuses malformed versions, ids and over-long strings", async () => {
    await ready;
    const cases: [Record<string, unknown>, string][] = [
      [{ installedVersion: "1.0" }, "installedVersion"],
      [{ osVersion: "fourteen" }, "osVersion"],
      [{ appId: "not-an-app-id" }, "appId"],
      [{ hostAppId: "ha/../x" }, "hostAppId"],
      [{ account: "x".repeat(129) }, "account"],
      [{ model: "bad\u0000model" }, "model"],
      [{ network: "6g" }, "network"],
      [{ trial: "yes" }, "trial"],
    ];
    for (const [override, path] of cases) {
      const body = await expectError(await postCheck(client(appId, override)), 400, "bad_request");
      expect(issuePaths(body), JSON.stringify(override)).toContain(path);
    }
  });

  it("answers malformed JSON with 400", async () => {
    const res = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"appId": ',
    });
    await expectError(res, 400, "bad_request");
  });

  it("answers a non-JSON or missing content type with 415", async () => {
    const json = JSON.stringify(client(appId));
    const wrong = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: json,
    });
    await expectError(wrong, 415, "unsupported_media_type");

    const missing = await edgeFetch("/v1/check", { method: "POST", body: new TextEncoder().encode(json) });
    await expectError(missing, 415, "unsupported_media_type");
  });

  it("answers an empty body with 400, not a check of `{}`", async () => {
    const res = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    await expectError(res, 400, "bad_request");
    const none = await edgeFetch("/v1/check", { method: "POST" });
    await expectError(none, 400, "bad_request");
  });

  it("answers bodies over 16 KiB with 413, with or without a content-length", async () => {
    const big = JSON.stringify(client(appId, { model: "m".repeat(17 * 1024) }));
    const sized = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    await expectError(sized, 413, "payload_too_large");

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096));
        controller.close();
      },
    });
    const chunked = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
    });
    await expectError(chunked, 413, "payload_too_large");
  });

  it("answers unknown routes and wrong methods with 4xx in the error shape", async () => {
    await expectError(await edgeFetch("/v1/nope"), 404, "not_found");
    // The edge serves no PUT anywhere: 405 with the methods it does serve.
    const put = await edgeFetch("/v1/check", { method: "PUT", body: "{}" });
    await expectError(put, 405, "method_not_allowed");
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    // GET is the query form of the check: without a query it is a check missing every field.
    const get = await expectError(await edgeFetch("/v1/check"), 400, "bad_request");
    expect(issuePaths(get)).toEqual(expect.arrayContaining(["appId", "hostAppId", "platform"]));
  });
});
