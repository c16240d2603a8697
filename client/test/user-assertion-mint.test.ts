/**
 * The host app's side of docs/trust.md: an assertion minted with node:crypto alone, as the
 * README and scripts/lib/local.mjs do, verifies with the edge's own verifier (core/assertion.ts);
 * a token minted for another host app or past its life does not.
 */
import { describe, expect, it } from "vitest";
import { verifyUserAssertion } from "../../core/assertion";
import { mintUserAssertion, newHostAppKey } from "../../scripts/lib/local.mjs";

describe("minting a user assertion with node:crypto", () => {
  it("verifies with the edge's verifier, naming the account and device", async () => {
    const jwk = { ...newHostAppKey(), kid: "hk_demo" };
    const keys = [{ kid: "hk_demo", x: jwk.x as string }];
    const token: string = mintUserAssertion(jwk, {
      iss: "ha_demo_superapp",
      sub: "tester-001",
      did: "device-1",
    });
    expect(await verifyUserAssertion(token, "ha_demo_superapp", keys, Date.now())).toMatchObject({
      ok: true,
      account: "tester-001",
      deviceId: "device-1",
      kid: "hk_demo",
    });
    expect(await verifyUserAssertion(token, "ha_other", keys, Date.now())).toEqual({
      ok: false,
      reason: "wrong_issuer",
    });
    expect(await verifyUserAssertion(token, "ha_demo_superapp", keys, Date.now() + 3 * 3_600_000)).toEqual({
      ok: false,
      reason: "expired",
    });
    expect(
      await verifyUserAssertion(
        token,
        "ha_demo_superapp",
        [{ kid: "hk_demo", x: jwk.x as string, notAfter: Date.now() - 1 }],
        Date.now(),
      ),
    ).toEqual({ ok: false, reason: "unknown_key" });
    const tooLong: string = mintUserAssertion(jwk, {
      iss: "ha_demo_superapp",
      sub: "tester-001",
      lifetimeSeconds: 3601,
    });
    expect(await verifyUserAssertion(tooLong, "ha_demo_superapp", keys, Date.now())).toEqual({
      ok: false,
      reason: "lifetime_too_long",
    });
  });
});
