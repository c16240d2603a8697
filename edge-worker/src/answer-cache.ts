/**
 * Whole check answers shared between clients (ARCHITECTURE.md "The hot path"). A manifest never
 * names the user: two clients with the same decision, host app and installed version in the same
 * signing window get the same signed bytes. So an isolate builds the claims, signs them and
 * encodes the JSON answer once per distinct answer and window; every other client with that
 * answer costs a Map lookup, and the response is made from bytes already encoded.
 *
 * An entry belongs to the snapshot object it was decided from (a new snapshot, i.e. a publish,
 * finds none), its signing window and the signing key.
 */
import type { ClientContext, Decision } from "../../core/decide";
import type { Snapshot } from "../../core/snapshot";

export interface Answer {
  /** the compact JWS */
  manifest: string;
  /** `{"manifest": ...}` as UTF-8: the answer when no ticket is handed back */
  body: Uint8Array;
}

interface Entry {
  answer: Answer;
  /** the snapshot object it was decided from (a republish is a new object); weak, so entries never keep old snapshots alive */
  snapshot: WeakRef<Snapshot>;
  secret: string;
}

/**
 * Distinct answers kept by the isolate, all mini programs together (host apps x installed
 * versions x decisions x windows), oldest dropped first: made-up host apps or versions cannot
 * grow it, and entries of past windows are the oldest.
 */
const MAX_ANSWERS = 4_096;
const answers = new Map<string, Entry>();
const encoder = new TextEncoder();

/**
 * Everything the claims depend on besides the snapshot, the window and the key: the decision
 * (its reason fixes the status; with the version and task it fixes the package, its increments
 * and its encryption key; with the installed version it fixes `rollback`), the client's host
 * app and installed version (`aud`, `installedVersion`, the increment offered), the manifest TTL
 * and the origin the package URLs are built on.
 */
export function answerKey(
  decision: Decision,
  client: ClientContext,
  ttlSeconds: number,
  origin: string,
): string {
  const d =
    decision.status === "ok"
      ? `${decision.reason}\n${decision.version}\n${decision.taskId ?? ""}\n${decision.pagePath ?? ""}`
      : decision.reason;
  return `${client.hostAppId}\n${client.installedVersion ?? ""}\n${ttlSeconds}\n${origin}\n${d}`;
}

/**
 * The answer with admission tickets: `{"manifest": ..., "tickets": [...]}`, from the encoded
 * manifest part and the tickets alone (a ticket is ~150 bytes; the manifest ~1 KB is not encoded again).
 */
export function bodyWithTickets(answer: Answer, tickets: readonly string[]): Uint8Array {
  const head = answer.body.subarray(0, answer.body.length - 1); // without the closing brace
  const tail = encoder.encode(`,"tickets":${JSON.stringify(tickets)}}`);
  const body = new Uint8Array(head.length + tail.length);
  body.set(head);
  body.set(tail, head.length);
  return body;
}

/** The answer already built for `key` from this snapshot, in this window, with this key. */
export function cachedAnswer(
  snapshot: Snapshot,
  key: string,
  windowStart: number,
  secret: string,
): Answer | undefined {
  const entry = answers.get(`${windowStart}\n${snapshot.appId}\n${snapshot.revision}\n${key}`);
  return entry !== undefined && entry.snapshot.deref() === snapshot && entry.secret === secret
    ? entry.answer
    : undefined;
}

/** Keeps the signed `manifest` as the answer for `key`; returns it with its encoded body. */
export function rememberAnswer(
  snapshot: Snapshot,
  key: string,
  windowStart: number,
  secret: string,
  manifest: string,
): Answer {
  const answer: Answer = { manifest, body: encoder.encode(JSON.stringify({ manifest })) };
  const full = `${windowStart}\n${snapshot.appId}\n${snapshot.revision}\n${key}`;
  answers.delete(full);
  if (answers.size >= MAX_ANSWERS) answers.delete(answers.keys().next().value as string);
  answers.set(full, { answer, snapshot: new WeakRef(snapshot), secret });
  return answer;
}
