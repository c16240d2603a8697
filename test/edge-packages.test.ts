import { beforeAll, describe, expect, it } from "vitest";
import { edgeFetch, putPackage } from "./support/edge";

/** 1000 bytes whose value is the index mod 256, so any slice is easy to predict. */
const BYTES = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
let sha = "";
let url = "";

beforeAll(async () => {
  sha = (await putPackage(BYTES)).sha256;
  url = `/v1/packages/${sha}`;
});

async function bytesOf(res: Response): Promise<number[]> {
  return Array.from(new Uint8Array(await res.arrayBuffer()));
}

function get(headers: Record<string, string> = {}, method = "GET") {
  return edgeFetch(url, { method, headers });
}

function expectPackageHeaders(res: Response) {
  expect(res.headers.get("etag")).toBe(`"${sha}"`);
  expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  expect(res.headers.get("accept-ranges")).toBe("bytes");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("content-type")).toBe("application/zip");
}

describe("GET /v1/packages/{sha256}", () => {
  it("serves the whole package with a strong ETag and immutable caching", async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expectPackageHeaders(res);
    expect(res.headers.get("content-length")).toBe("1000");
    expect(await bytesOf(res)).toEqual(Array.from(BYTES));
  });

  it("answers 304 with no body when If-None-Match names the ETag", async () => {
    for (const tag of [`"${sha}"`, `W/"${sha}"`, `"other", "${sha}"`, "*"]) {
      const res = await get({ "if-none-match": tag });
      expect(res.status, tag).toBe(304);
      expect(res.headers.get("etag")).toBe(`"${sha}"`);
      expect(await res.text()).toBe("");
    }
    expect((await get({ "if-none-match": '"something-else"' })).status).toBe(200);
  });

  it("serves bytes=a-b as 206 with Content-Range", async () => {
    const res = await get({ range: "bytes=10-19" });
    expect(res.status).toBe(206);
    expectPackageHeaders(res);
    expect(res.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(res.headers.get("content-length")).toBe("10");
    expect(await bytesOf(res)).toEqual(Array.from(BYTES.slice(10, 20)));
  });

  it("clamps a range whose end is past the last byte", async () => {
    const res = await get({ range: "bytes=990-5000" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect(await bytesOf(res)).toEqual(Array.from(BYTES.slice(990)));
  });

  it("serves bytes=a- (resume) as 206", async () => {
    const res = await get({ range: "bytes=900-" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 900-999/1000");
    expect(await bytesOf(res)).toEqual(Array.from(BYTES.slice(900)));
  });

  it("serves bytes=-n (suffix) as 206, and a suffix longer than the body as all of it", async () => {
    const res = await get({ range: "bytes=-5" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 995-999/1000");
    expect(await bytesOf(res)).toEqual(Array.from(BYTES.slice(995)));

    const all = await get({ range: "bytes=-5000" });
    expect(all.status).toBe(206);
    expect(all.headers.get("content-range")).toBe("bytes 0-999/1000");
    expect((await bytesOf(all)).length).toBe(1000);
  });

  it("answers 416 with the size for unsatisfiable ranges", async () => {
    for (const range of ["bytes=1000-", "bytes=1000-1005", "bytes=5000-", "bytes=-0"]) {
      const res = await get({ range });
      expect(res.status, range).toBe(416);
      expect(res.headers.get("content-range")).toBe("bytes */1000");
      expect(await res.json()).toMatchObject({ error: { code: "range_not_satisfiable" } });
    }
  });

  it("ignores malformed, multi-part and stale If-Range ranges and sends everything", async () => {
    const headersList: Record<string, string>[] = [
      { range: "bytes=20-10" },
      { range: "bytes=0-1,5-6" },
      { range: "items=0-1" },
      { range: "bytes=0-1", "if-range": '"not-this-one"' },
    ];
    for (const headers of headersList) {
      const res = await get(headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect((await bytesOf(res)).length).toBe(1000);
    }
    const matching = await get({ range: "bytes=0-1", "if-range": `"${sha}"` });
    expect(matching.status).toBe(206);
    expect(await bytesOf(matching)).toEqual([0, 1]);
  });

  it("answers HEAD with the headers and length but no body", async () => {
    const res = await get({}, "HEAD");
    expect(res.status).toBe(200);
    expectPackageHeaders(res);
    expect(res.headers.get("content-length")).toBe("1000");
    expect(await res.text()).toBe("");
    expect((await get({ "if-none-match": `"${sha}"` }, "HEAD")).status).toBe(304);
  });

  it("answers 404 in the error shape for a hash that is not stored", async () => {
    const missing = `/v1/packages/${"0".repeat(64)}`;
    const inits: RequestInit[] = [
      {},
      { method: "HEAD" },
      { headers: { range: "bytes=0-1" } },
      { headers: { "if-none-match": `"${"0".repeat(64)}"` } },
    ];
    for (const init of inits) {
      const res = await edgeFetch(missing, init);
      expect(res.status, JSON.stringify(init)).toBe(404);
      if (init.method !== "HEAD")
        expect(await res.json()).toEqual({ error: { code: "not_found", message: "package not found" } });
    }
  });

  it("answers 400 for anything but 64 lowercase hex characters", async () => {
    for (const bad of ["abc", sha.toUpperCase(), `${sha}0`, "g".repeat(64)]) {
      const res = await edgeFetch(`/v1/packages/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { code: "bad_request", issues: [{ path: "sha256" }] },
      });
    }
  });
});
