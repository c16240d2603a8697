/**
 * Workers RPC entrypoint of the edge Worker: signing for the control plane, so the platform's
 * private key (the MANIFEST_SIGNING_KEY secret) lives in this Worker only. The admin Worker
 * reaches it through its `EDGE_SIGNER` service binding (control-plane/wrangler.toml, `entrypoint =
 * "EdgeSigner"`); a named entrypoint has no public route, so nothing on the Internet can call it.
 *
 * Claims are validated strictly (unknown keys refused, ids and hashes by their formats, `iat`
 * near this Worker's clock), so a buggy or compromised caller cannot have anything but a
 * well-formed offline manifest (core/offline.ts) signed, and never a check manifest: the
 * header's `typ` is fixed to `graycast-offline+jwt` here.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { SignJWT } from "jose";
import * as z from "zod/mini";

import { MANIFEST_ISSUER } from "../../core/manifest";
import {
  MAX_APKG_PACKAGE_BYTES,
  OFFLINE_KIND,
  OFFLINE_MANIFEST_TYPE,
  type OfflineManifestClaims,
} from "../../core/offline";
import { isSemver } from "../../core/semver";
import type { EdgeBindings } from "./env";
import { loadSigner } from "./signing";

/** How far `iat` may be from this Worker's clock: the caller stamps it just before calling. */
export const IAT_SKEW_SECONDS = 300;

const Hex64 = z.string().check(z.regex(/^[0-9a-f]{64}$/));

const OfflineClaimsSchema = z.strictObject({
  iss: z.literal(MANIFEST_ISSUER),
  sub: z.string().check(z.regex(/^gc[a-z2-7]{16,40}$/)),
  aud: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  iat: z.int().check(z.nonnegative()),
  version: z.string().check(z.maxLength(20), z.refine(isSemver)),
  package: z.strictObject({
    sha256: Hex64,
    size: z.int().check(z.positive(), z.lte(MAX_APKG_PACKAGE_BYTES)),
    files: z.optional(Hex64),
    signature: z.optional(
      z.strictObject({
        kid: z.string().check(z.minLength(1), z.maxLength(128)),
        alg: z.enum(["EdDSA", "ES256"]),
        sig: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,256}$/)),
      }),
    ),
  }),
  kind: z.literal(OFFLINE_KIND),
});

export class EdgeSigner extends WorkerEntrypoint<EdgeBindings> {
  /**
   * Signs offline manifest claims as a compact JWS (EdDSA, header `typ` and `kid`). Throws a
   * TypeError naming the first bad field when the claims are not exactly `OfflineManifestClaims`.
   */
  async signOfflineManifest(claims: OfflineManifestClaims): Promise<string> {
    const parsed = OfflineClaimsSchema.safeParse(claims);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TypeError(
        `invalid offline manifest claims at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(parsed.data.iat - now) > IAT_SKEW_SECONDS)
      throw new TypeError("invalid offline manifest claims at iat: not within 5 minutes of now");
    const signer = await loadSigner(this.env.MANIFEST_SIGNING_KEY);
    return new SignJWT({ ...parsed.data })
      .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: OFFLINE_MANIFEST_TYPE })
      .sign(signer.key);
  }
}
