/**
 * Subscription messages in the reference client (PRODUCT.md T3, T5; issue 14; docs/messages.md):
 * what a host app's SDK does behind `requestSubscribeMessage` and the message inbox. The user is
 * the host app's signed-in user (the `userAssertion` of the client's config, sent in the
 * `x-graycast-user` header, never the URL); the edge verifies it. Every refusal, unreachable edge
 * or malformed answer is a ClientError `messages_failed` naming the edge's error code.
 */
import { readCapped } from "./bytes";
import { assertionFrom, CHECK_USER_HEADER } from "./check-request";
import type { Fetch } from "./download";
import { ClientError } from "./errors";

/** The seed: "A maximum of 3 messages can be subscribed in one call." */
export const SUBSCRIBE_MAX_TEMPLATES = 3;
const MAX_ANSWER_BYTES = 256 * 1024;

export interface MessagesOptions {
  edge: string;
  appId: string;
  hostAppId: string;
  userAssertion?: () => Promise<string | undefined>;
  timeoutMs?: number;
}

export interface InboxMessage {
  id: string;
  templateId: string;
  title: string;
  page: string | null;
  lines: { key: string; name: string; value: string }[];
  createdAt: number;
  readAt: number | null;
}

export class SubscriptionMessages {
  readonly #o: MessagesOptions;
  readonly #fetch: Fetch;

  constructor(options: MessagesOptions, deps: { fetch: Fetch }) {
    this.#o = options;
    this.#fetch = deps.fetch;
  }

  /**
   * Records the user's choice per template id in the host app's pop-up; answers
   * `{ [templateId]: "accept" | "reject" | "filter" }` as WeChat's requestSubscribeMessage does.
   * At most 3 ids, all one-time or all long-term (the edge refuses otherwise).
   */
  async requestSubscribeMessage(
    choices: Readonly<Record<string, "accept" | "reject">>,
  ): Promise<Record<string, "accept" | "reject" | "filter">> {
    const entries = Object.entries(choices);
    if (entries.length === 0 || entries.length > SUBSCRIBE_MAX_TEMPLATES)
      throw new ClientError("messages_failed", "subscribe to 1 to 3 templates per call");
    const body = await this.#call("POST", "/v1/messages/subscribe", {
      appId: this.#o.appId,
      hostAppId: this.#o.hostAppId,
      choices: entries.map(([templateId, decision]) => ({ templateId, decision })),
    });
    const results = (body as { results?: unknown }).results;
    if (typeof results !== "object" || results === null)
      throw new ClientError("messages_failed", "the subscribe answer has no results");
    return results as Record<string, "accept" | "reject" | "filter">;
  }

  /** A page of the user's messages, newest first; pass `nextCursor` for the next page. */
  async inbox(options: { cursor?: string; limit?: number } = {}): Promise<{
    messages: InboxMessage[];
    nextCursor: string | null;
  }> {
    const q = new URLSearchParams({ appId: this.#o.appId, hostAppId: this.#o.hostAppId });
    if (options.limit !== undefined) q.set("limit", String(options.limit));
    if (options.cursor !== undefined) q.set("cursor", options.cursor);
    const body = (await this.#call("GET", `/v1/messages/inbox?${q}`)) as {
      messages?: unknown;
      nextCursor?: unknown;
    };
    if (!Array.isArray(body.messages))
      throw new ClientError("messages_failed", "the inbox answer has no messages");
    return {
      messages: body.messages as InboxMessage[],
      nextCursor: typeof body.nextCursor === "string" ? body.nextCursor : null,
    };
  }

  /** Marks the user's messages read; answers how many were unread. */
  async markRead(ids: readonly string[]): Promise<number> {
    const body = (await this.#call("POST", "/v1/messages/inbox/read", {
      appId: this.#o.appId,
      hostAppId: this.#o.hostAppId,
      ids,
    })) as { marked?: unknown };
    if (typeof body.marked !== "number") throw new ClientError("messages_failed", "the answer has no count");
    return body.marked;
  }

  async #call(method: "GET" | "POST", path: string, json?: unknown): Promise<unknown> {
    const assertion = await assertionFrom(this.#o.userAssertion);
    if (assertion === undefined)
      throw new ClientError(
        "messages_failed",
        "the host app supplied no user assertion: messages need its signed-in user",
      );
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(`${this.#o.edge.replace(/\/+$/, "")}${path}`, {
        method,
        headers: {
          ...(json === undefined ? {} : { "content-type": "application/json" }),
          [CHECK_USER_HEADER]: new URLSearchParams({ assertion }).toString(),
        },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000),
      });
      text = new TextDecoder().decode(
        await readCapped(res, MAX_ANSWER_BYTES, "messages_failed", "the answer"),
      );
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw new ClientError(
        "messages_failed",
        `the edge cannot be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    let body: { error?: { code?: unknown; message?: unknown } } | null;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ClientError("messages_failed", `the answer (HTTP ${res.status}) is not JSON`);
    }
    if (res.status !== 200 || typeof body !== "object" || body === null)
      throw new ClientError(
        "messages_failed",
        `the edge refused (HTTP ${res.status} ${String(body?.error?.code ?? "")}): ${String(body?.error?.message ?? "")}`,
      );
    return body;
  }
}
