/**
 * Sealing for subscription messages (issue 14): the host app's webhook signing secret (needed in
 * clear to sign, so stored encrypted, never hashed) and the subscriber's host-app account (the
 * webhook tells the host app whom a message is for; never stored in clear). AES-256-GCM under a
 * key derived (HKDF-SHA-256, one `info` per use) from the MESSAGE_WEBHOOK_KEY Worker secret, which
 * the admin Worker (seals) and the builder Worker (opens, to sign pushes) share. The sealed value's
 * context (the host app) is the GCM additional data: a value copied to another row does not open.
 */
import { fromBase64Url, toBase64Url } from "../../../core/encryption";
import { ApiError } from "../../../core/errors";

/** MESSAGE_WEBHOOK_KEY's minimum length. */
export const MIN_MESSAGE_WEBHOOK_KEY_LENGTH = 32;
/** One key per use; "team webhook secret" is a team's notification webhook's (services/team-webhooks.ts). */
export type SealUse = "webhook secret" | "subscriber account" | "team webhook secret";

const keys = new Map<string, Promise<CryptoKey>>();

function keyOf(secret: string | undefined, use: SealUse): Promise<CryptoKey> {
  if (!secret || secret.length < MIN_MESSAGE_WEBHOOK_KEY_LENGTH) {
    console.error("subscription messages not configured: MESSAGE_WEBHOOK_KEY must be set (32+ characters)");
    throw new ApiError("internal", "subscription messages are not configured on this platform");
  }
  const id = `${use}\n${secret}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
        "deriveKey",
      ]);
      return crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: new Uint8Array(0),
          info: new TextEncoder().encode(`graycast ${use} v1`),
        },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    if (keys.size > 8) keys.clear();
    keys.set(id, key);
  }
  return key;
}

export async function seal(secret: string | undefined, use: SealUse, context: string, plain: string) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
      await keyOf(secret, use),
      new TextEncoder().encode(plain),
    ),
  );
  return `${toBase64Url(iv)}.${toBase64Url(sealed)}`;
}

/** The clear text, or undefined when it does not open (other key, other context, edited). */
export async function open(secret: string | undefined, use: SealUse, context: string, text: string) {
  const [iv, body] = text.split(".");
  if (!iv || !body) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: new TextEncoder().encode(context) },
      await keyOf(secret, use),
      fromBase64Url(body),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return undefined;
  }
}
