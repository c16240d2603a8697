/**
 * `graycast team webhook` (issue 15: the team's notification webhook) as a team admin runs it
 * against the real local stack: set prints the new secret once (alone on stdout), show never has
 * it, rotate asks and prints a new one, an http URL is refused with the server's message, a
 * developer is refused, rm asks, dead-letters lists, and usage errors exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRunner, newConfigHome, removeConfigHomes, signIn } from "./support/run";

const home = newConfigHome();
const graycast = makeRunner(home);
const URL_ = "https://ops.acme.example/graycast/events";

beforeAll(async () => {
  await signIn(graycast, [
    ["default", "lead@acme.local", "team-admin-pass"],
    ["dev", "dev@acme.local", "developer-pass"],
  ]);
});

afterAll(() => removeConfigHomes());

describe("team webhook", () => {
  it("set, show, rotate, dead-letters, rm; refusals with the server's message; usage errors", async () => {
    const set = await graycast(["team", "webhook", "set", "--url", URL_]);
    expect(set.code, set.output).toBe(0);
    const secret = set.stdout.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9]+$/);

    const shown = await graycast(["team", "webhook", "show", "--json"]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.json()).toMatchObject({ url: URL_, events: ["grayscale.guardrail_tripped"] });
    expect(shown.output).not.toContain("whsec_");

    const rotated = await graycast(["team", "webhook", "rotate", "--yes", "--json"]);
    expect(rotated.code, rotated.output).toBe(0);
    expect(rotated.json().secret).toMatch(/^whsec_/);
    expect(rotated.json().secret).not.toBe(secret);
    expect(rotated.json().url).toBe(URL_);

    const http = await graycast(["team", "webhook", "set", "--url", "http://ops.acme.example/x"]);
    expect(http.code, http.output).toBe(1);
    expect(http.stderr).toContain("must be an https URL");
    const dev = await graycast(["team", "webhook", "show", "--profile", "dev"]);
    expect(dev.code, dev.output).toBe(1);
    expect(dev.stderr).toContain("admin");
    const badEvents = await graycast(["team", "webhook", "set", "--url", URL_, "--events", "nope"]);
    expect(badEvents.code, badEvents.output).toBe(2);
    const noUrl = await graycast(["team", "webhook", "set"]);
    expect(noUrl.code, noUrl.output).toBe(2);

    const dead = await graycast(["team", "webhook", "dead-letters", "--json"]);
    expect(dead.code, dead.output).toBe(0);
    expect(dead.json()).toEqual({ deadLetters: [], nextCursor: null });

    const rm = await graycast(["team", "webhook", "rm", "--yes"]);
    expect(rm.code, rm.output).toBe(0);
    const gone = await graycast(["team", "webhook", "show"]);
    expect(gone.code, gone.output).toBe(1);
  });
});
