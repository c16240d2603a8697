/**
 * A webhook receiver for tests: the docs/messages.md verification recipe as a receiving server
 * runs it, and a stand-in for the network that records each request and answers one status.
 */

/** Verifies `x-graycast-signature` (`sha256=<hex>`) over `${timestamp}.${body}` with the secret. */
export async function verifyWebhook(
  secret: string,
  timestamp: string,
  body: string,
  header: string,
): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const hex = header.replace(/^sha256=/, "");
  const sig = new Uint8Array((hex.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)));
  return crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode(`${timestamp}.${body}`));
}

/** A receiving server: records what it receives and answers `status`. */
export function receiver(status: number) {
  const got: { url: string; headers: Headers; body: string }[] = [];
  const send = async (req: Request) => {
    got.push({ url: req.url, headers: req.headers, body: await req.text() });
    return new Response("ok", { status });
  };
  return { got, send };
}
