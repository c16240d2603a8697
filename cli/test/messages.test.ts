/**
 * `graycast messages ...` (issue 14's CLI face) as a user runs it against the real local stack:
 * the public template library, My Template (keyword order kept, the same keyword set refused with
 * the server's 409 message, preview, delete), the host app's push webhook (secret printed once,
 * rotation, removal; managers only) with its dead letters, and a send as the mini program's server
 * (AppSecret -> access token) to a user who subscribed through the edge: a refused value consumes
 * nothing, the one-time subscription allows one message, the next is 43101.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { boundApp, makeRunner, newConfigHome, removeConfigHomes, signIn } from "./support/run";

const home = newConfigHome();
const graycast = makeRunner(home);
const HOST_APP = "ha_demo_superapp";

let appId: string;

/** What this test uses of scripts/lib (plain .mjs, typed here). */
interface LoginLib {
  demoLogin(options: { appId: string; account: string }): Promise<{ openid: string; secret: string }>;
}
interface LocalLib {
  readHostAppKey(): unknown;
  mintUserAssertion(jwk: unknown, claims: { sub: string }): string;
}

beforeAll(async () => {
  await signIn(graycast, [
    ["default", "dev@acme.local", "developer-pass"],
    ["mgr", "manager@superapp.local", "manager-pass"],
  ]);
  appId = await boundApp(graycast, "CLI messages", HOST_APP);
});

afterAll(() => removeConfigHomes());

describe("messages library", () => {
  it("searches by title words and type; pages; lists keywords; refuses an unknown type", async () => {
    const found = await graycast([
      "messages",
      "library",
      "--search",
      "flight",
      "--type",
      "long-term",
      "--json",
    ]);
    expect(found.code, found.output).toBe(0);
    const page = found.json();
    expect(page.templates.map((t: { id: string }) => t.id)).toContain("pt3001");
    expect(page.templates.every((t: { type: string }) => t.type === "long-term")).toBe(true);
    expect(page.templates.every((t: { title: string }) => /flight/i.test(t.title))).toBe(true);
    expect(page.total).toBe(page.templates.length);

    const table = await graycast(["messages", "library", "--search", "flight", "--type", "long-term"]);
    expect(table.code, table.output).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+TITLE\s+CATEGORY\s+TYPE\s+KEYWORDS/m);
    expect(table.stdout).toMatch(
      /pt3001\s+Flight status changed\s+travel\s+long-term\s+character_string1,phrase2/,
    );

    const withKeywords = await graycast(["messages", "library", "--search", "flight status", "--keywords"]);
    expect(withKeywords.code, withKeywords.output).toBe(0);
    expect(withKeywords.stdout).toMatch(/phrase2\s+Status \(phrase\), e\.g\. Late/);

    const first = (await graycast(["messages", "library", "--page-size", "5", "--json"])).json();
    const second = (
      await graycast(["messages", "library", "--page-size", "5", "--page", "2", "--json"])
    ).json();
    expect(first.templates).toHaveLength(5);
    expect(second.page).toBe(2);
    const firstIds = first.templates.map((t: { id: string }) => t.id);
    for (const t of second.templates) expect(firstIds).not.toContain(t.id);

    const orders = (await graycast(["messages", "library", "--category", "orders", "--json"])).json();
    expect(orders.templates.length).toBeGreaterThan(0);
    expect(orders.templates.every((t: { category: string }) => t.category === "orders")).toBe(true);

    const bad = await graycast(["messages", "library", "--type", "weekly"]);
    expect(bad.code, bad.output).toBe(2);
    expect(bad.stderr).toContain("is not a template type");
    const badCategory = await graycast(["messages", "library", "--category", "weather"]);
    expect(badCategory.code, badCategory.output).toBe(1);
  });
});

describe("messages templates", () => {
  it("add keeps the order given; the same keyword set again is refused (409); list, preview, rm", async () => {
    const added = await graycast([
      "messages",
      "templates",
      "add",
      "pt3001",
      "--keywords",
      "phrase2,character_string1",
      "-k",
      "time3",
      "--app",
      appId,
      "--json",
    ]);
    expect(added.code, added.output).toBe(0);
    const mine = added.json();
    expect(mine.keywords.map((k: { key: string }) => k.key)).toEqual([
      "phrase2",
      "character_string1",
      "time3",
    ]);
    expect(mine.preview).toBe(
      "Flight status changed\nStatus: Late\nFlight: CX889\nNew departure: 2026-12-05 21:40",
    );
    expect(mine.templateId).toMatch(/^mt[a-z2-7]{24}$/);

    const again = await graycast([
      "messages",
      "templates",
      "add",
      "pt3001",
      "--keywords",
      "time3,character_string1,phrase2",
      "--app",
      appId,
    ]);
    expect(again.code, again.output).toBe(1);
    expect(again.stderr).toMatch(/refused: .*keywords cannot be repeated/);
    expect(again.stderr).toContain("HTTP 409");
    const againJson = await graycast([
      "messages",
      "templates",
      "add",
      "pt3001",
      "-k",
      "character_string1,time3,phrase2",
      "--app",
      appId,
      "--json",
    ]);
    expect(againJson.errorJson().error).toMatchObject({ kind: "refused", status: 409 });
    const none = await graycast(["messages", "templates", "add", "pt3001", "--app", appId]);
    expect(none.code, none.output).toBe(2);
    expect(none.stderr).toContain("--keywords");

    // A different set of the same public template is another template, shown in human form.
    const other = await graycast([
      "messages",
      "templates",
      "add",
      "pt3001",
      "-k",
      "character_string1",
      "--app",
      appId,
    ]);
    expect(other.code, other.output).toBe(0);
    expect(other.stdout).toMatch(/template ID\s+mt[a-z2-7]{24}/);
    expect(other.stdout).toContain("  | Flight: CX889");

    for (const words of [["templates"], ["templates", "list"]]) {
      const list = await graycast(["messages", ...words, "--app", appId, "--json"]);
      expect(list.code, list.output).toBe(0);
      expect(list.json().templates.map((t: { templateId: string }) => t.templateId)).toContain(
        mine.templateId,
      );
    }
    const table = await graycast(["messages", "templates", "--app", appId]);
    expect(table.stdout).toMatch(
      new RegExp(
        `${mine.templateId}\\s+Flight status changed\\s+long-term\\s+phrase2,character_string1,time3`,
      ),
    );

    const shown = await graycast(["messages", "templates", "preview", mine.templateId, "--app", appId]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.stdout).toContain("  | Status: Late\n  | Flight: CX889\n");
    const before = await graycast([
      "messages",
      "templates",
      "preview",
      "pt3001",
      "-k",
      "time3,phrase2",
      "--app",
      appId,
      "--json",
    ]);
    expect(before.code, before.output).toBe(0);
    expect(before.json().preview).toBe(
      "Flight status changed\nNew departure: 2026-12-05 21:40\nStatus: Late",
    );
    const unknownKey = await graycast([
      "messages",
      "templates",
      "preview",
      "pt3001",
      "-k",
      "thing99",
      "--app",
      appId,
    ]);
    expect(unknownKey.code, unknownKey.output).toBe(1);

    const asks = await graycast(["messages", "templates", "rm", mine.templateId, "--app", appId]);
    expect(asks.code, asks.output).toBe(2);
    expect(asks.stderr).toContain("--yes");
    const removed = await graycast(["messages", "templates", "rm", mine.templateId, "--app", appId, "--yes"]);
    expect(removed.code, removed.output).toBe(0);
    expect(removed.stdout).toContain(`Deleted the template ${mine.templateId}.`);
    const after = (await graycast(["messages", "templates", "--app", appId, "--json"])).json();
    expect(after.templates.map((t: { templateId: string }) => t.templateId)).not.toContain(mine.templateId);
    // Gone: the same keyword set can be added again.
    const readd = await graycast([
      "messages",
      "templates",
      "add",
      "pt3001",
      "-k",
      "phrase2,character_string1,time3",
      "--app",
      appId,
    ]);
    expect(readd.code, readd.output).toBe(0);
  });
});

describe("messages webhook and dead letters", () => {
  it("set prints the secret once, alone on stdout; show never does; rotate makes a new one; rm; developers are refused", async () => {
    const set = await graycast([
      "messages",
      "webhook",
      "set",
      "--url",
      "http://127.0.0.1:9/graycast/messages",
      "--host-app",
      HOST_APP,
      "--rotate-secret",
      "--profile",
      "mgr",
    ]);
    expect(set.code, set.output).toBe(0);
    const secret = set.stdout.trim();
    expect(secret).toMatch(/^whsec_\S{20,}$/);
    expect(set.stderr).toContain("shown once");

    const shown = await graycast(["messages", "webhook", "show", "--host-app", HOST_APP, "--profile", "mgr"]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.stdout).toMatch(/URL\s+http:\/\/127\.0\.0\.1:9\/graycast\/messages/);
    expect(shown.output).not.toContain(secret);

    const moved = await graycast([
      "messages",
      "webhook",
      "set",
      "--url",
      "https://push.superapp.example/graycast",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(moved.code, moved.output).toBe(0);
    expect(moved.json().url).toBe("https://push.superapp.example/graycast");
    expect(moved.json().secret).toBeUndefined();

    const rotated = await graycast([
      "messages",
      "webhook",
      "rotate",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--yes",
      "--json",
    ]);
    expect(rotated.code, rotated.output).toBe(0);
    expect(rotated.json()).toMatchObject({ url: "https://push.superapp.example/graycast" });
    expect(rotated.json().secret).toMatch(/^whsec_/);
    expect(rotated.json().secret).not.toBe(secret);

    const plain = await graycast([
      "messages",
      "webhook",
      "set",
      "--url",
      "ftp://push.superapp.example",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
    ]);
    expect(plain.code, plain.output).toBe(1);
    expect(plain.stderr).toContain("must be an https URL");

    const developer = await graycast([
      "messages",
      "webhook",
      "set",
      "--url",
      "https://evil.example/hook",
      "--host-app",
      HOST_APP,
      "--json",
    ]);
    expect(developer.code, developer.output).toBe(1);
    expect(developer.errorJson().error.status).toBe(403);

    const letters = await graycast([
      "messages",
      "dead-letters",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(letters.code, letters.output).toBe(0);
    expect(Array.isArray(letters.json().deadLetters)).toBe(true);
    const lettersTable = await graycast([
      "messages",
      "dead-letters",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
    ]);
    expect(lettersTable.code, lettersTable.output).toBe(0);
    expect(lettersTable.stdout).toMatch(/^WHEN\s+MESSAGE\s+APP ID|\(none\)/m);
    const badLimit = await graycast([
      "messages",
      "dead-letters",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--limit",
      "1000",
    ]);
    expect(badLimit.code, badLimit.output).toBe(1);

    const asks = await graycast(["messages", "webhook", "rm", "--host-app", HOST_APP, "--profile", "mgr"]);
    expect(asks.code, asks.output).toBe(2);
    const removed = await graycast([
      "messages",
      "webhook",
      "rm",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--yes",
    ]);
    expect(removed.code, removed.output).toBe(0);
    const gone = await graycast([
      "messages",
      "webhook",
      "show",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(gone.code, gone.output).toBe(1);
    expect(gone.errorJson().error.status).toBe(404);
  });
});

describe("messages send", () => {
  it("as the server with its AppSecret: a refused value consumes nothing; one message per one-time accept; then 43101", async () => {
    const stack = inject("stack");
    // scripts/lib reads the stack's folder and ports when it is first imported.
    process.env.GRAYCAST_LOCAL_DIR = stack.localDir;
    process.env.EDGE_PORT = new URL(stack.edgeUrl).port;
    process.env.ADMIN_PORT = new URL(stack.adminUrl).port;
    const { demoLogin } = (await import(
      new URL("../../scripts/lib/demo-login.mjs", import.meta.url).href
    )) as LoginLib;
    const { mintUserAssertion, readHostAppKey } = (await import(
      new URL("../../scripts/lib/local.mjs", import.meta.url).href
    )) as LocalLib;

    const made = await graycast([
      "messages",
      "templates",
      "add",
      "pt1001",
      "-k",
      "character_string1,thing2",
      "--app",
      appId,
      "--json",
    ]);
    expect(made.code, made.output).toBe(0);
    const templateId: string = made.json().templateId;

    const account = `cli-msg-${Date.now().toString(36)}`;
    const session = await demoLogin({ appId, account });
    const assertion = mintUserAssertion(readHostAppKey(), { sub: account });
    const started = Date.now();
    let subscribed: Response;
    for (;;) {
      subscribed = await fetch(`${stack.edgeUrl}/v1/messages/subscribe`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-graycast-user": new URLSearchParams({ assertion }).toString(),
        },
        body: JSON.stringify({ appId, hostAppId: HOST_APP, choices: [{ templateId, decision: "accept" }] }),
      });
      if (subscribed.status === 200 || Date.now() - started > 15_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(subscribed.status).toBe(200);
    expect(((await subscribed.json()) as { results: unknown }).results).toEqual({ [templateId]: "accept" });

    const env = { GRAYCAST_APP_SECRET: session.secret, XDG_CONFIG_HOME: newConfigHome() };
    const send = (item: string, extra: string[] = [], options = { env }) =>
      graycast(
        [
          "messages",
          "send",
          "--app",
          appId,
          "--to",
          session.openid,
          "--template",
          templateId,
          "-d",
          "character_string1=SO20261205-0042",
          "-d",
          `thing2=${item}`,
          ...extra,
        ],
        options,
      );

    const noSecret = await send("Earbuds", [], { env: { ...env, GRAYCAST_APP_SECRET: undefined } as never });
    expect(noSecret.code, noSecret.output).toBe(2);
    expect(noSecret.stderr).toContain("GRAYCAST_APP_SECRET");
    const wrongSecret = await send("Earbuds", [], { env: { ...env, GRAYCAST_APP_SECRET: "0".repeat(32) } });
    expect(wrongSecret.code, wrongSecret.output).toBe(1);
    expect(wrongSecret.stderr).toMatch(/errcode \d+/);

    const tooLong = await send("A thing name far longer than twenty characters", ["--json"]);
    expect(tooLong.code, tooLong.output).toBe(1);
    expect(tooLong.errorJson().error.code).toBe("errcode 47003");

    const sent = await send("Wireless earbuds", ["--page", "pages/order/index?id=42"]);
    expect(sent.code, sent.output).toBe(0);
    expect(sent.stdout).toMatch(/^Sent: message \S+\.$/m);

    const inbox = await fetch(`${stack.edgeUrl}/v1/messages/inbox?appId=${appId}&hostAppId=${HOST_APP}`, {
      headers: { "x-graycast-user": new URLSearchParams({ assertion }).toString() },
    });
    expect(inbox.status).toBe(200);
    const { messages } = (await inbox.json()) as { messages: { lines: { key: string; value: string }[] }[] };
    expect(messages).toHaveLength(1);
    expect(messages[0]!.lines.map((l) => l.value)).toEqual(["SO20261205-0042", "Wireless earbuds"]);

    const second = await send("Wireless earbuds", ["--json"]);
    expect(second.code, second.output).toBe(1);
    expect(second.errorJson().error.code).toBe("errcode 43101");

    const secretStdin = await graycast(
      [
        "messages",
        "send",
        "--app",
        appId,
        "--to",
        session.openid,
        "--template",
        templateId,
        "-d",
        "character_string1",
        "--secret-stdin",
      ],
      { env, input: `${session.secret}\n` },
    );
    expect(secretStdin.code, secretStdin.output).toBe(2);
    expect(secretStdin.stderr).toContain("is not key=value");
  });
});
