/**
 * The reference client's runtime config (issue 12): verified like a manifest against pinned keys,
 * never unsigned or older, task-aware switches, the domain and API rules, and privacy acceptance.
 * The "edge" is an injected fetch answering configs this test signs.
 */
import { createHash } from "node:crypto";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { CONFIG_TYPE, type ConfigClaims } from "../../core/runtime-config";
import { ClientError } from "../src/errors";
import { RuntimeConfigClient } from "../src/runtime-config";
import { type SigningKey, signingKey } from "./support/edge";
import { APP_ID, HOST_APP } from "./support/fixtures";

const NOW = 1_800_000_000_000;
const iat = Math.floor(NOW / 1000);

function claims(extra: Partial<ConfigClaims> = {}): ConfigClaims {
  return {
    iss: "graycast",
    sub: APP_ID,
    aud: HOST_APP,
    iat,
    exp: iat + 3600,
    revision: 10,
    configRevision: 4,
    domains: {
      request: ["api.example.com"],
      uploadFile: ["up.example.com:8443"],
      downloadFile: [],
      socket: ["ws.example.com"],
      business: [],
    },
    skipDomainCheck: false,
    apis: ["getLocation"],
    privacy: { version: 2, sha256: "a".repeat(64), url: "https://edge.test/v1/privacy/aaaa" },
    trialPagePath: null,
    switches: { banner: { type: "string", value: "hi" }, newCheckout: { type: "boolean", value: false } },
    ...extra,
  };
}

async function sign(key: SigningKey, body: Record<string, unknown>, typ = CONFIG_TYPE): Promise<string> {
  return new SignJWT(body).setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ }).sign(key.privateKey);
}

/** A client whose "edge" answers the next queued JWS and records the manifest header it got. */
async function setup() {
  const pinned = await signingKey("k1");
  const answers: string[] = [];
  const seen: (string | null)[] = [];
  const client = new RuntimeConfigClient({
    edgeUrl: "https://edge.test",
    appId: APP_ID,
    hostAppId: HOST_APP,
    jwks: { keys: [pinned.publicJwk as never] },
    now: () => NOW,
    fetch: async (url, init) => {
      expect(url).toBe(`https://edge.test/v1/config?appId=${APP_ID}&hostAppId=${HOST_APP}`);
      seen.push(new Headers(init?.headers).get("x-graycast-manifest"));
      const next = answers.shift();
      return next === undefined
        ? new Response("{}", { status: 404 })
        : new Response(JSON.stringify({ config: next }), { headers: { "content-type": "application/json" } });
    },
  });
  return { pinned, answers, seen, client };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ClientError) return e.code;
    throw e;
  }
  return "accepted";
};

describe("RuntimeConfigClient", () => {
  it("denies everything before a config; then answers domains, APIs, switches and privacy from the verified config", async () => {
    const { pinned, answers, client } = await setup();
    expect(client.isRequestAllowed("https://api.example.com/x", "request")).toBe(false);
    expect(client.isApiAllowed("getLocation")).toBe(false);
    expect(client.switch("banner")).toBeUndefined();
    expect(() => client.mustAccept(1)).toThrow(ClientError);
    expect(client.isStale(0)).toBe(true);

    answers.push(await sign(pinned, { ...claims() }));
    await client.refresh();
    expect(client.isRequestAllowed("https://api.example.com/v1/items?q=1", "request")).toBe(true);
    expect(client.isRequestAllowed("https://API.example.com:443/", "request")).toBe(true);
    expect(client.isRequestAllowed("http://api.example.com/", "request")).toBe(false);
    expect(client.isRequestAllowed("https://evil.example.com/", "request")).toBe(false);
    expect(client.isRequestAllowed("https://api.example.com.evil.com/", "request")).toBe(false);
    expect(client.isRequestAllowed("https://api.example.com/", "downloadFile")).toBe(false);
    expect(client.isRequestAllowed("https://up.example.com:8443/f", "uploadFile")).toBe(true);
    expect(client.isRequestAllowed("https://up.example.com/f", "uploadFile")).toBe(false);
    expect(client.isRequestAllowed("wss://ws.example.com/chat", "socket")).toBe(true);
    expect(client.isRequestAllowed("https://ws.example.com/chat", "socket")).toBe(false);
    expect(client.isRequestAllowed("not a url", "request")).toBe(false);
    expect(client.isApiAllowed("getLocation")).toBe(true);
    expect(client.isApiAllowed("scanCode")).toBe(false);
    expect(client.switch("banner")).toBe("hi");
    expect(client.switch("newCheckout")).toBe(false);
    expect(client.switch("missing")).toBeUndefined();
    expect(client.switch("__proto__")).toBeUndefined();
    expect(client.mustAccept(null)).toBe(true);
    expect(client.mustAccept(1)).toBe(true);
    expect(client.mustAccept(2)).toBe(false);
    expect(client.highest).toEqual({ configRevision: 4, revision: 10 });
    // A check manifest of a newer snapshot says the config may have changed.
    expect(client.isStale(10)).toBe(false);
    expect(client.isStale(11)).toBe(true);
  });

  it("skip-domain-check allows any host with the kind's scheme, never another scheme", async () => {
    const { pinned, answers, client } = await setup();
    answers.push(await sign(pinned, { ...claims({ skipDomainCheck: true }) }));
    await client.refresh();
    expect(client.isRequestAllowed("https://anything.example.org/a", "request")).toBe(true);
    expect(client.isRequestAllowed("http://anything.example.org/a", "request")).toBe(false);
    expect(client.isRequestAllowed("wss://anything.example.org/a", "socket")).toBe(true);
  });

  it("never uses an unsigned, foreign-signed, other-typed, other-app, expired or older config; the one in use stays", async () => {
    const { pinned, answers, client } = await setup();
    const stranger = await signingKey("k1");
    answers.push(await sign(pinned, { ...claims() }));
    await client.refresh();

    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: CONFIG_TYPE })).toString("base64url")}.${Buffer.from(
      JSON.stringify(claims({ configRevision: 9 })),
    ).toString("base64url")}.`;
    answers.push(unsigned);
    expect(await code(client.refresh())).toBe("bad_signature");
    answers.push(await sign(stranger, { ...claims({ configRevision: 9 }) }));
    expect(await code(client.refresh())).toBe("bad_signature");
    answers.push(await sign(pinned, { ...claims({ configRevision: 9 }) }, "graycast-manifest+jwt"));
    expect(await code(client.refresh())).toBe("mix_and_match");
    answers.push(await sign(pinned, { ...claims({ configRevision: 9, aud: "ha_other" }) }));
    expect(await code(client.refresh())).toBe("mix_and_match");
    answers.push(await sign(pinned, { ...claims({ configRevision: 9, sub: "gcotherappaaaabbbbcccc" }) }));
    expect(await code(client.refresh())).toBe("mix_and_match");
    answers.push(await sign(pinned, { ...claims({ configRevision: 9, exp: iat - 3600 }) }));
    expect(await code(client.refresh())).toBe("expired");
    answers.push(await sign(pinned, { ...claims({ configRevision: 3, revision: 50 }) }));
    expect(await code(client.refresh())).toBe("replayed");
    answers.push(await sign(pinned, { ...claims({ configRevision: 4, revision: 9 }) }));
    expect(await code(client.refresh())).toBe("replayed");
    answers.push(
      await sign(pinned, {
        ...claims({ configRevision: 9, switches: { x: { type: "number", value: "1" } } as never }),
      }),
    );
    expect(await code(client.refresh())).toBe("bad_manifest");
    expect(await code(client.refresh())).toBe("check_failed");
    // Every refusal left the accepted config in use.
    expect(client.highest).toEqual({ configRevision: 4, revision: 10 });
    expect(client.switch("banner")).toBe("hi");
    // Same revision again, and a newer one, are accepted.
    answers.push(await sign(pinned, { ...claims() }));
    expect(await code(client.refresh())).toBe("accepted");
    answers.push(await sign(pinned, { ...claims({ configRevision: 5, revision: 11, apis: [] }) }));
    await client.refresh();
    expect(client.isApiAllowed("getLocation")).toBe(false);
  });

  it("a restarted client with a persisted highest config refuses an older one", async () => {
    const pinned = await signingKey("k1");
    const client = new RuntimeConfigClient({
      edgeUrl: "https://edge.test",
      appId: APP_ID,
      hostAppId: HOST_APP,
      jwks: { keys: [pinned.publicJwk as never] },
      now: () => NOW,
      highest: { configRevision: 7, revision: 20 },
      fetch: async () => new Response(JSON.stringify({ config: await sign(pinned, { ...claims() }) })),
    });
    expect(await code(client.refresh())).toBe("replayed");
    expect(client.config).toBeUndefined();
  });

  it("task-aware switches: the manifest goes to the edge; a task's config only with a manifest naming that task", async () => {
    const { pinned, answers, seen, client } = await setup();
    const manifestKey = await signingKey("k1");
    const manifest = await sign(
      manifestKey,
      {
        iss: "graycast",
        sub: APP_ID,
        aud: HOST_APP,
        reason: "grayscale",
        taskId: "gt_beta",
        iat,
        exp: iat + 60,
        revision: 10,
        status: "ok",
      },
      "graycast-manifest+jwt",
    );
    const inTask = claims({ taskId: "gt_beta", switches: { newCheckout: { type: "boolean", value: true } } });
    answers.push(await sign(pinned, { ...inTask }));
    await client.refresh({ manifest });
    expect(seen.at(-1)).toBe(manifest);
    expect(client.switch("newCheckout")).toBe(true);
    expect(client.config?.taskId).toBe("gt_beta");
    // Without a manifest (or with another task's), a config naming a task is refused.
    answers.push(await sign(pinned, { ...inTask, revision: 11 }));
    expect(await code(client.refresh())).toBe("mix_and_match");
    const other = await sign(
      manifestKey,
      { ...decodeJwt(manifest), taskId: "gt_other" },
      "graycast-manifest+jwt",
    );
    answers.push(await sign(pinned, { ...inTask, revision: 11 }));
    expect(await code(client.refresh({ manifest: other }))).toBe("mix_and_match");
    // Leaving the task: the base values come back.
    answers.push(await sign(pinned, { ...claims({ revision: 12 }) }));
    await client.refresh();
    expect(client.switch("newCheckout")).toBe(false);
  });

  it("privacyText() returns the text only when its sha256 is the signed one", async () => {
    const pinned = await signingKey("k1");
    const text = "Privacy Agreement of Shop\n";
    const sha = createHash("sha256").update(text).digest("hex");
    let served = text;
    const client = new RuntimeConfigClient({
      edgeUrl: "https://edge.test",
      appId: APP_ID,
      hostAppId: HOST_APP,
      jwks: { keys: [pinned.publicJwk as never] },
      now: () => NOW,
      fetch: async (url) =>
        url.includes("/v1/config")
          ? new Response(
              JSON.stringify({
                config: await sign(pinned, {
                  ...claims({ privacy: { version: 1, sha256: sha, url: "https://edge.test/v1/privacy/x" } }),
                }),
              }),
            )
          : new Response(served),
    });
    await expect(client.privacyText()).rejects.toThrow(ClientError);
    await client.refresh();
    expect(await client.privacyText()).toBe(text);
    served = "Privacy Agreement of Shop (altered)\n";
    expect(await code(client.privacyText())).toBe("hash_mismatch");
    served = "x".repeat(300 * 1024);
    expect(await code(client.privacyText())).toBe("too_large");
  });
});
