/**
 * Custom signature verification (PRODUCT.md S2, seed: "a custom signature verification process
 * is used to ensure the correctness of the script source"). A developer signs, with a key the
 * team registered, the statement below; it names the mini program, the version and the digest
 * of the files (core/increment.ts `filesDigest`), so a signature can neither be moved to another
 * mini program or version nor survive a changed file, and a client can check it after applying
 * an increment as well as after a full download.
 */
export const PACKAGE_SIGNATURE_CONTEXT = "graycast-package-signature/1";

/** The exact bytes a developer signs (UTF-8 of four lines, each ended by "\n"). */
export function packageSigningInput(appId: string, version: string, filesSha256: string): Uint8Array {
  return new TextEncoder().encode(`${PACKAGE_SIGNATURE_CONTEXT}\n${appId}\n${version}\n${filesSha256}\n`);
}
