/**
 * The development-management commands (issue 12's routes, issue 16's CLI) as a user runs them
 * against the real local stack: domains, sensitive API applications and their decisions,
 * skip-domain, switches, the privacy agreement and the runtime-config preview. Each group's success
 * and a refusal with the server's message as sent (exit 1), usage errors (exit 2), --json that parses.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boundApp, makeRunner, newConfigHome, removeConfigHomes, signIn } from "./support/run";

const home = newConfigHome();
const graycast = makeRunner(home);
const work = mkdtempSync(join(tmpdir(), "graycast-cli-devmgmt-"));
const HOST_APP = "ha_demo_superapp";
// A name no other test declares in the shared host app.
const API = `cliApi${Date.now().toString(36)}`;

let appId: string;

beforeAll(async () => {
  await signIn(graycast, [
    ["default", "dev@acme.local", "developer-pass"],
    ["mgr", "manager@superapp.local", "manager-pass"],
  ]);
  appId = await boundApp(graycast, "CLI devmgmt", HOST_APP);
});

describe("domains", () => {
  it("add per kind; http:// for a request domain is refused with the server's message; business verify by proof; remove asks", async () => {
    const added = await graycast([
      "domains",
      "add",
      "request",
      "https://API.example.com",
      "--app",
      appId,
      "--json",
    ]);
    expect(added.code, added.output).toBe(0);
    expect(added.json()).toMatchObject({ kind: "request", domain: "api.example.com" });

    const http = await graycast(["domains", "add", "request", "http://plain.example.com", "--app", appId]);
    expect(http.code, http.output).toBe(1);
    expect(http.stderr).toContain("refused: the request is invalid");
    expect(http.stderr).toContain("domain: a request domain must start with https://");
    const httpJson = await graycast([
      "domains",
      "add",
      "request",
      "http://plain.example.com",
      "--app",
      appId,
      "--json",
    ]);
    expect(httpJson.errorJson().error).toMatchObject({ kind: "refused", status: 400 });
    const dup = await graycast(["domains", "add", "request", "https://api.example.com", "--app", appId]);
    expect(dup.code, dup.output).toBe(1);
    expect((await graycast(["domains", "add", "ftp", "x", "--app", appId])).code).toBe(2);

    expect(
      (await graycast(["domains", "add", "socket", "wss://live.example.com", "--app", appId])).code,
    ).toBe(0);
    const biz = await graycast([
      "domains",
      "add",
      "business",
      "https://m.example.com",
      "--app",
      appId,
      "--json",
    ]);
    const token = biz.json().verification.token as string;
    expect(biz.json().verification).toMatchObject({ state: "pending" });
    expect(token.length).toBeGreaterThan(8);
    // The list shows the token people must serve.
    expect((await graycast(["domains", "list", "--app", appId])).stdout).toContain(token);

    const wrong = await graycast(["domains", "verify", "m.example.com", "--app", appId, "--proof", "nope"]);
    expect(wrong.code, wrong.output).toBe(1);
    expect(wrong.stderr).toMatch(/refused: .+/);
    const verified = await graycast([
      "domains",
      "verify",
      "https://m.example.com",
      "--app",
      appId,
      "--proof",
      token,
      "--json",
    ]);
    expect(verified.code, verified.output).toBe(0);
    expect(verified.json()).toMatchObject({ method: "proof", verification: { state: "verified" } });

    const asked = await graycast(["domains", "remove", "request", "https://api.example.com", "--app", appId]);
    expect(asked.code, asked.output).toBe(2);
    expect(asked.stderr).toContain("--yes");
    const removed = await graycast([
      "domains",
      "remove",
      "request",
      "api.example.com",
      "--app",
      appId,
      "--yes",
      "--json",
    ]);
    expect(removed.json()).toMatchObject({ kind: "request", domain: "api.example.com", removed: true });
    const list = await graycast(["domains", "list", "--app", appId, "--json"]);
    expect(list.json().domains.request).toEqual([]);
    expect(list.json().domains.socket).toEqual([expect.objectContaining({ domain: "live.example.com" })]);
  });
});

describe("sensitive APIs and skip-domain", () => {
  it("the manager declares an API, the developer applies, the manager approves then revokes; a developer cannot decide", async () => {
    const declared = await graycast([
      "host-app",
      "apis",
      "declare",
      API,
      "--description",
      "A test API",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(declared.code, declared.output).toBe(0);
    expect(declared.json()).toMatchObject({ hostAppId: HOST_APP, name: API });
    const listed = await graycast([
      "host-app",
      "apis",
      "list",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(listed.json().apis.map((a: { name: string }) => a.name)).toContain(API);

    expect((await graycast(["apis", "apply", API, "--app", appId, "--host-app", HOST_APP])).code).toBe(2);
    const unknown = await graycast([
      "apis",
      "apply",
      "notDeclaredHere",
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "--reason",
      "x",
    ]);
    expect(unknown.code, unknown.output).toBe(1);
    const applied = await graycast([
      "apis",
      "apply",
      API,
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "--reason",
      "Find the nearest store",
      "--json",
    ]);
    expect(applied.code, applied.output).toBe(0);
    const id = applied.json().id as string;
    expect(applied.json()).toMatchObject({
      apiName: API,
      status: "pending",
      reason: "Find the nearest store",
    });

    const pending = await graycast([
      "host-app",
      "applications",
      "list",
      "--status",
      "pending",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(pending.json().applications.map((a: { id: string }) => a.id)).toContain(id);
    const byDeveloper = await graycast(["host-app", "applications", "approve", id, "--host-app", HOST_APP]);
    expect(byDeveloper.code, byDeveloper.output).toBe(1);
    const approved = await graycast([
      "host-app",
      "applications",
      "approve",
      id,
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(approved.json()).toMatchObject({ id, status: "approved" });
    const config = await graycast(["config", "--app", appId, "--host-app", HOST_APP, "--json"]);
    expect(config.json().apis).toContain(API);

    const noReason = await graycast([
      "host-app",
      "applications",
      "revoke",
      id,
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--yes",
    ]);
    expect(noReason.code, noReason.output).toBe(1);
    expect(noReason.stderr).toContain("reason: a reason is required to revoke");
    const asked = await graycast([
      "host-app",
      "applications",
      "revoke",
      id,
      "--reason",
      "No longer needed",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
    ]);
    expect(asked.code, asked.output).toBe(2);
    const revoked = await graycast([
      "host-app",
      "applications",
      "revoke",
      id,
      "--reason",
      "No longer needed",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--yes",
      "--json",
    ]);
    expect(revoked.json()).toMatchObject({ status: "revoked", decisionReason: "No longer needed" });
    const mine = await graycast(["apis", "list", "--app", appId, "--json"]);
    expect(mine.json().applications).toEqual([expect.objectContaining({ id, status: "revoked" })]);
  });

  it("skip-domain: apply, twice is refused, the manager rejects with a reason, a new application is approved", async () => {
    const apply = () =>
      graycast([
        "skip-domain",
        "apply",
        "--app",
        appId,
        "--host-app",
        HOST_APP,
        "--reason",
        "Internal test build",
        "--json",
      ]);
    const first = await apply();
    expect(first.code, first.output).toBe(0);
    expect(first.json()).toMatchObject({ status: "pending", hostAppId: HOST_APP });
    const twice = await apply();
    expect(twice.code, twice.output).toBe(1);
    expect(twice.errorJson().error).toMatchObject({ kind: "refused", status: 409 });
    const rejected = await graycast([
      "host-app",
      "skip-domain",
      "reject",
      first.json().id,
      "--reason",
      "Use the listed domains",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(rejected.json()).toMatchObject({ status: "rejected", decisionReason: "Use the listed domains" });
    const second = await apply();
    expect(second.code, second.output).toBe(0);
    const list = await graycast([
      "host-app",
      "skip-domain",
      "list",
      "--status",
      "pending",
      "--host-app",
      HOST_APP,
      "--profile",
      "mgr",
      "--json",
    ]);
    expect(list.json().applications.map((a: { id: string }) => a.id)).toContain(second.json().id);
    expect(
      (
        await graycast([
          "host-app",
          "skip-domain",
          "approve",
          second.json().id,
          "--host-app",
          HOST_APP,
          "--profile",
          "mgr",
        ])
      ).code,
    ).toBe(0);
    expect(
      (await graycast(["config", "--app", appId, "--host-app", HOST_APP, "--json"])).json().skipDomainCheck,
    ).toBe(true);
    expect(
      (await graycast(["skip-domain", "list", "--app", appId, "--json"])).json().applications,
    ).toHaveLength(2);
  });
});

describe("switches and the runtime-config preview", () => {
  it("set typed values, per host app; a type clash is refused; the preview resolves them; unset asks", async () => {
    const set = await graycast([
      "switches",
      "set",
      "banner",
      "Winter sale",
      "--type",
      "string",
      "--app",
      appId,
      "--json",
    ]);
    expect(set.code, set.output).toBe(0);
    expect(set.json()).toMatchObject({
      key: "banner",
      type: "string",
      value: "Winter sale",
      hostAppId: null,
    });
    expect(
      (
        await graycast([
          "switches",
          "set",
          "banner",
          "Host sale",
          "--type",
          "string",
          "--host-app",
          HOST_APP,
          "--app",
          appId,
        ])
      ).code,
    ).toBe(0);
    expect(
      (await graycast(["switches", "set", "theme", '{"dark":true}', "--type", "json", "--app", appId])).code,
    ).toBe(0);
    expect(
      (await graycast(["switches", "set", "max", "lots", "--type", "number", "--app", appId])).code,
    ).toBe(2);
    expect((await graycast(["switches", "set", "max", "3", "--app", appId])).code).toBe(2);
    const clash = await graycast([
      "switches",
      "set",
      "banner",
      "5",
      "--type",
      "number",
      "--app",
      appId,
      "--json",
    ]);
    expect(clash.code, clash.output).toBe(1);
    expect(clash.errorJson().error).toMatchObject({ kind: "refused", status: 409 });

    const list = await graycast(["switches", "list", "--app", appId, "--json"]);
    expect(list.json().switches).toHaveLength(3);
    const config = await graycast(["config", "--app", appId, "--host-app", HOST_APP, "--json"]);
    expect(config.code, config.output).toBe(0);
    expect(config.json().switches).toEqual({
      banner: { type: "string", value: "Host sale" },
      theme: { type: "json", value: { dark: true } },
    });
    expect(config.json().domains.business).toEqual(["m.example.com"]);
    expect((await graycast(["config", "--app", appId, "--host-app", HOST_APP])).stdout).toContain(
      "Host sale",
    );
    const unbound = await graycast(["config", "--app", appId, "--host-app", "ha_not_bound_here"]);
    expect(unbound.code, unbound.output).toBe(1);

    expect(
      (await graycast(["switches", "unset", "banner", "--host-app", HOST_APP, "--app", appId])).code,
    ).toBe(2);
    const unset = await graycast([
      "switches",
      "unset",
      "banner",
      "--host-app",
      HOST_APP,
      "--app",
      appId,
      "--yes",
      "--json",
    ]);
    expect(unset.json()).toMatchObject({ key: "banner", hostAppId: HOST_APP, removed: true });
    expect(
      (await graycast(["config", "--app", appId, "--host-app", HOST_APP, "--json"])).json().switches.banner,
    ).toEqual({ type: "string", value: "Winter sale" });
  });
});

describe("privacy agreement", () => {
  it("template, a draft from YAML, preview, publish version 1; publishing it again is refused; versions", async () => {
    const template = await graycast(["privacy", "template", "--app", appId, "--json"]);
    expect(template.code, template.output).toBe(0);
    expect(template.json().placeholders.length).toBeGreaterThan(3);

    const bad = join(work, "bad.json");
    writeFileSync(bad, JSON.stringify({ developerName: "Acme Ltd" }));
    const refused = await graycast(["privacy", "draft", "--file", bad, "--app", appId]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.stderr).toMatch(/refused: .+/);
    expect(
      (await graycast(["privacy", "draft", "--file", join(work, "missing.yaml"), "--app", appId])).code,
    ).toBe(2);

    const file = join(work, "privacy.yaml");
    writeFileSync(
      file,
      [
        "developerName: Acme Ltd",
        "contact: privacy@acme.example",
        "dataCollected: [location]",
        "purposes: [Find the nearest store]",
        "thirdParties: []",
        "retention: 30 days",
        "",
      ].join("\n"),
    );
    const draft = await graycast(["privacy", "draft", "--file", file, "--app", appId, "--json"]);
    expect(draft.code, draft.output).toBe(0);
    expect(draft.json().fields).toMatchObject({ developerName: "Acme Ltd", dataCollected: ["location"] });
    const preview = await graycast(["privacy", "preview", "--app", appId]);
    expect(preview.code, preview.output).toBe(0);
    expect(preview.stdout).toContain("Acme Ltd");
    expect(preview.stdout).toContain("privacy@acme.example");

    const published = await graycast(["privacy", "publish", "--app", appId, "--json"]);
    expect(published.code, published.output).toBe(0);
    expect(published.json()).toMatchObject({ version: 1 });
    const again = await graycast(["privacy", "publish", "--app", appId, "--json"]);
    expect(again.code, again.output).toBe(1);
    expect(again.errorJson().error).toMatchObject({ kind: "refused", status: 409 });

    expect((await graycast(["privacy", "versions", "--app", appId, "--json"])).json().versions).toEqual([
      expect.objectContaining({ version: 1, sha256: published.json().sha256 }),
    ]);
    const one = await graycast(["privacy", "versions", "1", "--app", appId]);
    expect(one.stdout).toContain("Acme Ltd");
    expect((await graycast(["privacy", "versions", "9", "--app", appId])).code).toBe(1);
    expect(
      (await graycast(["config", "--app", appId, "--host-app", HOST_APP, "--json"])).json().privacy,
    ).toMatchObject({ version: 1, sha256: published.json().sha256 });
  });
});

afterAll(() => {
  removeConfigHomes();
  rmSync(work, { recursive: true, force: true });
});
