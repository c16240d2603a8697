// The local object store's busy failure ("put: Unspecified error (0)", seen when the builder and
// the admin Worker write at once under npm start) is retried for buffered puts and reads, never
// for a streamed put (its body is gone after the first try). control-plane/src/db/busy-retry.ts.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { retryBusyBucket } from "../control-plane/src/db/busy-retry";

/** The real bucket, with its first `failures` calls of `method` failing the way the local store does. */
function flaky(bucket: R2Bucket, method: string, failures: number) {
  let left = failures;
  let calls = 0;
  const proxy = new Proxy(bucket, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === method) {
          calls++;
          if (left-- > 0) return Promise.reject(new Error(`${method}: Unspecified error (0)`));
        }
        return value.apply(target, args);
      };
    },
  });
  return { bucket: proxy, calls: () => calls };
}

describe("R2 busy retry", () => {
  it("a buffered put that meets the busy store is stored on a later try", async () => {
    const f = flaky(env.PACKAGES, "put", 2);
    await retryBusyBucket(f.bucket).put("busy/buffered", new TextEncoder().encode("bytes"));
    expect(f.calls()).toBe(3);
    expect(await (await env.PACKAGES.get("busy/buffered"))?.text()).toBe("bytes");
  });

  it("a read is retried too", async () => {
    await env.PACKAGES.put("busy/read", "x");
    const f = flaky(env.PACKAGES, "head", 1);
    expect((await retryBusyBucket(f.bucket).head("busy/read"))?.size).toBe(1);
    expect(f.calls()).toBe(2);
  });

  it("a streamed put is not retried", async () => {
    const f = flaky(env.PACKAGES, "put", 1);
    const body = new Blob(["stream"]).stream();
    await expect(retryBusyBucket(f.bucket).put("busy/stream", body)).rejects.toThrow(/Unspecified error/);
    expect(f.calls()).toBe(1);
  });

  it("other errors are not retried", async () => {
    const bucket = new Proxy(env.PACKAGES, {
      get(target, prop) {
        if (prop === "get") return () => Promise.reject(new Error("get: object too large"));
        return Reflect.get(target, prop, target);
      },
    });
    await expect(retryBusyBucket(bucket).get("busy/x")).rejects.toThrow(/too large/);
  });
});
