/**
 * The reference client: what a mobile SDK does to ask the edge which version of a mini program
 * to run, download it, prove it is exactly what the platform signed, and switch to it
 * atomically. Runtime-agnostic: fetch, storage, zstd and the clock are injected (Node bindings in
 * client/src/node.ts; the workerd end-to-end test binds fetch to the edge Worker).
 *
 * Trust comes only from the pinned platform keys in the config. The edge, the package URLs and
 * the network are untrusted: every byte is checked against a signed hash and size before it is
 * used, and any refusal leaves the trusted state (client/src/store.ts) unchanged.
 */
import { applyIncrement, IncrementError } from "../../core/increment";
import {
  MANIFEST_TYPE,
  type ManifestClaims,
  type ManifestIncrement,
  type ManifestPackage,
} from "../../core/manifest";
import { compareVersions } from "../../core/semver";
import { readCapped, sha256Hex } from "./bytes";
import { assertionFrom, CHECK_USER_HEADER, type CheckBody, checkRequestFor } from "./check-request";
import { type DownloadTarget, download } from "./download";
import { ClientError, type ClientErrorCode } from "./errors";
import { Logger, type LoggerDeps, type LoggerOptions } from "./logger";
import { checkManifestClaims, PinnedKeys } from "./manifest";
import {
  checkDeveloperSignature,
  type DeveloperSignatureCheck,
  decryptVerified,
  isSafePath,
  type UnpackedFiles,
  unpackPackage,
} from "./package";
import { verifyPreset } from "./preset";
import { emptyState, type InstalledVersion, type TrustedState } from "./store";
import { isSendableTicket, MAX_TICKETS, mergeTickets, refusesTickets } from "./tickets";
import type {
  CheckResult,
  ClientConfig,
  ClientDeps,
  LoginResult,
  OpenedVersion,
  Plan,
  PresetResult,
  UpdateResult,
} from "./types";

const MAX_CHECK_ANSWER_BYTES = 64 * 1024;
/** A login answer is a code of at most 1 KiB and a number; anything much larger is not one. */
const MAX_LOGIN_ANSWER_BYTES = 16 * 1024;

/** A check answer as parsed, before anything of it is trusted. */
type CheckAnswer = {
  manifest?: unknown;
  tickets?: unknown;
  error?: { message?: unknown; issues?: unknown };
} | null;

interface Traffic {
  transferred: number;
  resumed: number;
}

export class GraycastClient {
  readonly #config: ClientConfig;
  readonly #deps: ClientDeps;
  readonly #keys: PinnedKeys;

  constructor(config: ClientConfig, deps: ClientDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#keys = new PinnedKeys(config.platformKeys);
  }

  /**
   * A logger for the installed version (client/src/logger.ts): the config's edge, ids and device
   * facts, the installed version as the client version, the client's fetch and clock. `options`
   * tunes it (caps, flush triggers, backoff). After an update activates, call its
   * `setClientVersion`. Throws `not_installed` when nothing is installed (nothing runs to log).
   */
  async logger(
    options: Partial<Omit<LoggerOptions, "edge" | "appId" | "hostAppId" | "device">> = {},
    deps: Partial<LoggerDeps> = {},
  ): Promise<Logger> {
    const installed = (await this.trustedState()).installed;
    if (installed === null)
      throw new ClientError("not_installed", `no version of ${this.#config.appId} is installed`);
    const { edge, appId, hostAppId, device } = this.#config;
    return new Logger(
      { edge, appId, hostAppId, device, clientVersion: installed.version, ...options },
      { fetch: this.#deps.fetch, now: this.#deps.now, ...deps },
    );
  }

  /** The trusted state as stored (an empty one before the first accepted answer). */
  async trustedState(): Promise<TrustedState> {
    const state = await this.#deps.store.load();
    if (state !== null && state.appId !== this.#config.appId)
      throw new Error(`this store belongs to ${state.appId}, not ${this.#config.appId}`);
    return state ?? emptyState(this.#config.appId);
  }

  /**
   * A one-time login code for the host app's signed-in user (PRODUCT.md X6; `wx.login()` in
   * WeChat): `POST /v1/login` with the user assertion from `userAssertion` in the
   * `x-graycast-user` header (never the URL), the mini program and host app in the body. The
   * mini program sends the code to its own server, which exchanges it with the platform's
   * `GET /sns/jscode2session` for the user's openid within 5 minutes, once (docs/server-api.md).
   * Throws `login_failed` when the host app supplies no usable assertion, the edge refuses
   * (the message names its error code and, for an assertion it did not accept, why), or the edge
   * cannot be reached. Changes no trusted state.
   */
  async login(): Promise<LoginResult> {
    const { appId, hostAppId, edge } = this.#config;
    const assertion = await assertionFrom(this.#config.userAssertion);
    if (assertion === undefined)
      throw new ClientError(
        "login_failed",
        "the host app supplied no user assertion (userAssertion returned nothing usable): a login needs the host app's signed-in user",
      );
    const signal = AbortSignal.timeout(this.#config.idleTimeoutMs ?? 30_000);
    let res: Response;
    let text: string;
    try {
      res = await this.#deps.fetch(`${edge.replace(/\/+$/, "")}/v1/login`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [CHECK_USER_HEADER]: new URLSearchParams({ assertion }).toString(),
        },
        body: JSON.stringify({ appId, hostAppId }),
        signal,
      });
      text = new TextDecoder().decode(
        await readCapped(res, MAX_LOGIN_ANSWER_BYTES, "login_failed", "the login answer"),
      );
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw new ClientError(
        "login_failed",
        `the edge cannot be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    let body: { code?: unknown; expiresIn?: unknown; error?: { code?: unknown; message?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new ClientError("login_failed", `the login answer (HTTP ${res.status}) is not JSON`);
    }
    if (res.status !== 200) {
      const why = res.headers.get("x-graycast-assertion");
      throw new ClientError(
        "login_failed",
        `the edge refused the login (HTTP ${res.status} ${String(body.error?.code ?? "")}${why && why !== "verified" ? `, assertion ${why}` : ""}): ${String(body.error?.message ?? "")}`,
      );
    }
    if (
      typeof body.code !== "string" ||
      !/^[A-Za-z0-9_-]{1,1024}$/.test(body.code) ||
      typeof body.expiresIn !== "number" ||
      !(body.expiresIn > 0)
    )
      throw new ClientError("login_failed", "the login answer has no valid code");
    return { code: body.code, expiresAt: this.#deps.now() + body.expiresIn * 1000 };
  }

  /** Asks the edge, verifies the answer and records it (freshness, tickets, delisting). */
  async check(): Promise<CheckResult> {
    const state = await this.trustedState();
    const { result, next } = await this.#ask(state);
    await this.#deps.store.save(next);
    return result;
  }

  /** `check`, then installs the version it names when that is a change, atomically. */
  async update(): Promise<UpdateResult> {
    const state = await this.trustedState();
    const { result, next } = await this.#ask(state);
    const traffic: Traffic = { transferred: 0, resumed: 0 };
    if (result.plan !== "install" && result.plan !== "update" && result.plan !== "rollback") {
      await this.#deps.store.save(next);
      return { ...result, activated: false, ...traffic };
    }
    const { claims } = result;
    const version = claims.version!;
    const pkg = claims.package!;
    const got = await this.#obtain(pkg, claims, state.installed, traffic);
    const developerSignature = await this.#checkDeveloperSignature(version, got.files.digest, pkg);
    const installed: InstalledVersion = {
      version,
      files: got.files.digest,
      list: got.files.list,
      package: pkg.sha256,
      source: "check",
    };
    await this.#deps.store.activate({ ...next, installed }, got.files.bytes);
    return {
      ...result,
      activated: true,
      via: got.via,
      ...("incrementFormat" in got ? { incrementFormat: got.incrementFormat } : {}),
      ...(got.fallback ? { fallback: got.fallback } : {}),
      developerSignature,
      ...traffic,
    };
  }

  /**
   * Installs an offline preset (core/offline.ts) as a first-run baseline: never while a signed
   * delisting stands, never once a check answer was accepted, and never over the same or a newer
   * preset.
   */
  async installPreset(apkg: Uint8Array, fileName?: string): Promise<PresetResult> {
    const state = await this.trustedState();
    if (state.delisted)
      throw new ClientError("delisted", `${this.#config.appId} was delisted: its preset must not be used`);
    const { appId, hostAppId } = this.#config;
    const { claims, packageZip } = await verifyPreset(apkg, this.#keys, {
      appId,
      hostAppId,
      ...(fileName !== undefined ? { fileName } : {}),
    });
    // A preset is a first-run baseline: once a check answer was accepted (the platform may have
    // rolled back since the App was built), only checks move the installed version.
    if (
      state.installed &&
      (state.installed.source !== "preset" ||
        state.highestRevision > 0 ||
        compareVersions(claims.version, state.installed.version) <= 0)
    ) {
      return { installed: false, version: state.installed.version };
    }
    const files = await unpackPackage(packageZip);
    if (claims.package.files !== undefined && files.digest !== claims.package.files)
      throw new ClientError("hash_mismatch", "the preset's files differ from the signed file list");
    const developerSignature = await this.#checkDeveloperSignature(
      claims.version,
      files.digest,
      claims.package,
    );
    const installed: InstalledVersion = {
      version: claims.version,
      files: files.digest,
      list: files.list,
      package: claims.package.sha256,
      source: "preset",
    };
    await this.#deps.store.activate({ ...state, installed }, files.bytes);
    return { installed: true, version: claims.version, developerSignature };
  }

  /** The installed version, for running it; refused while delisted or when nothing is installed. */
  async open(): Promise<OpenedVersion> {
    const state = await this.trustedState();
    if (state.delisted)
      throw new ClientError("delisted", `${this.#config.appId} was delisted and must not run`);
    if (!state.installed)
      throw new ClientError("not_installed", `no version of ${this.#config.appId} is installed`);
    const { version, list } = state.installed;
    const byPath = new Map(list.map((f) => [f.path, f]));
    const store = this.#deps.store;
    return {
      version,
      files: list,
      async read(path) {
        const entry = byPath.get(path);
        if (!entry)
          throw new ClientError("not_installed", `${JSON.stringify(path)} is not a file of ${version}`);
        const bytes = await store.readFile(path);
        if (bytes.byteLength !== entry.size || (await sha256Hex(bytes)) !== entry.sha256)
          throw new ClientError(
            "hash_mismatch",
            `${JSON.stringify(path)} changed on disk since it was verified`,
          );
        return bytes;
      },
    };
  }

  /**
   * The check (GET by default, client/src/check-request.ts), verification of the answer, and the
   * state to keep if it is acted on. Only tickets the edge would accept are sent; if the edge
   * still refuses the check for its tickets (400 naming them), they are dropped and the check is
   * asked once more without them, so one bad answer cannot break every later check.
   */
  async #ask(state: TrustedState): Promise<{ result: CheckResult; next: TrustedState }> {
    let tickets = state.tickets.filter(isSendableTicket).slice(-MAX_TICKETS);
    let exchange = await this.#exchange(state, tickets);
    if (exchange.res.status === 400 && tickets.length > 0 && refusesTickets(exchange.answer)) {
      tickets = [];
      exchange = await this.#exchange(state, tickets);
    }
    const { res, answer } = exchange;
    if (res.status !== 200)
      throw new ClientError(
        "check_failed",
        `the edge answered HTTP ${res.status}: ${String(answer?.error?.message ?? "no message")}`,
      );
    if (typeof answer?.manifest !== "string")
      throw new ClientError("bad_manifest", "the check answer carries no manifest");
    const { appId, hostAppId } = this.#config;
    const claims = checkManifestClaims(await this.#keys.verify(answer.manifest, MANIFEST_TYPE), {
      appId,
      hostAppId,
      now: Math.floor(this.#deps.now() / 1000),
      clockSkewSeconds: this.#config.clockSkewSeconds ?? 60,
      highestIat: state.highestIat,
      highestRevision: state.highestRevision,
      installedVersion: state.installed?.version,
    });
    const plan = planFor(claims, state.installed);
    const next: TrustedState = {
      ...state,
      highestIat: Math.max(state.highestIat, claims.iat),
      highestRevision: Math.max(state.highestRevision, claims.revision),
      delisted:
        claims.status === "delisted" ? { iat: claims.iat } : claims.status === "ok" ? null : state.delisted,
      // Unsigned: only tickets the edge would accept are stored (client/src/tickets.ts).
      tickets: mergeTickets(tickets, answer.tickets),
    };
    const result: CheckResult = {
      plan,
      status: claims.status,
      reason: claims.reason,
      ...(claims.version !== undefined ? { version: claims.version } : {}),
      installed: state.installed?.version ?? null,
      claims,
    };
    return { result, next };
  }

  /** One check request and its answer, parsed (any status); refusals of the transport throw. */
  async #exchange(state: TrustedState, tickets: string[]): Promise<{ res: Response; answer: CheckAnswer }> {
    const { appId, hostAppId, device } = this.#config;
    const assertion = await assertionFrom(this.#config.userAssertion);
    const body: CheckBody = {
      ...device,
      appId,
      hostAppId,
      ...(state.installed ? { installedVersion: state.installed.version } : {}),
      ...(tickets.length > 0 ? { tickets } : {}),
      ...(assertion !== undefined ? { assertion } : {}),
    };
    const { url, init } = checkRequestFor(this.#config.edge, body, this.#config.checkMethod ?? "GET");
    // The whole exchange within the idle timeout: a stalled edge never hangs the App.
    const signal = AbortSignal.timeout(this.#config.idleTimeoutMs ?? 30_000);
    let res: Response;
    let text: string;
    try {
      res = await this.#deps.fetch(url, { ...init, signal });
      text = new TextDecoder().decode(
        await readCapped(res, MAX_CHECK_ANSWER_BYTES, "check_failed", "the check answer"),
      );
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw new ClientError(
        "check_failed",
        `the edge cannot be reached: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    try {
      return { res, answer: JSON.parse(text) as CheckAnswer };
    } catch {
      throw new ClientError("check_failed", `the check answer (HTTP ${res.status}) is not JSON`);
    }
  }

  /**
   * The new version's files: through an increment when one is offered for exactly the installed
   * files, else (or after ANY failure of the increment path) the full package. Format 4 (the
   * manifest's `incrementDelta`, smaller) is tried first, then format 3 (`increment`).
   */
  async #obtain(
    pkg: ManifestPackage,
    claims: Pick<ManifestClaims, "increment" | "incrementDelta">,
    installed: InstalledVersion | null,
    traffic: Traffic,
  ) {
    let fallback: { code: ClientErrorCode; message: string } | undefined;
    const offers: [ManifestIncrement | undefined, 3 | 4][] = [
      [claims.incrementDelta, 4],
      [claims.increment, 3],
    ];
    for (const [increment, format] of offers) {
      if (!increment || !installed || pkg.files === undefined) continue;
      if (increment.fromVersion !== installed.version || increment.from !== installed.files) {
        fallback = {
          code: "wrong_base",
          message: `the increment starts from ${increment.fromVersion} (${increment.from}), the installed files are ${installed.version} (${installed.files})`,
        };
        continue;
      }
      try {
        return {
          files: await this.#viaIncrement(increment, pkg.files, installed, traffic),
          via: "increment" as const,
          incrementFormat: format,
          fallback,
        };
      } catch (error) {
        fallback = asFallback(error);
      }
    }
    let bytes = await this.#download(pkg, traffic);
    if (pkg.encryption) bytes = await decryptVerified(bytes, pkg.encryption, "the package");
    const files = await unpackPackage(bytes);
    if (pkg.files !== undefined && files.digest !== pkg.files)
      throw new ClientError("hash_mismatch", "the package's files differ from the signed file list");
    return { files, via: "full" as const, fallback };
  }

  async #viaIncrement(
    increment: ManifestIncrement,
    target: string,
    installed: InstalledVersion,
    traffic: Traffic,
  ): Promise<UnpackedFiles> {
    let bytes = await this.#download(increment, traffic);
    if (increment.encryption) bytes = await decryptVerified(bytes, increment.encryption, "the increment");
    const base = new Map<string, Uint8Array>();
    for (const f of installed.list) base.set(f.path, await this.#deps.store.readFile(f.path));
    const result = await applyIncrement({
      increment: bytes,
      base: installed.list,
      // applyIncrement reads installed paths only; an empty file would fail its size check.
      bytesOf: (path) => base.get(path) ?? new Uint8Array(0),
      expect: { from: installed.files, to: target },
      decompress: this.#deps.decompress,
      sha256: sha256Hex,
    });
    const unsafe = result.files.find((f) => !isSafePath(f.path));
    if (unsafe)
      throw new ClientError(
        "bad_package",
        `the increment produces an unsafe path ${JSON.stringify(unsafe.path)}`,
      );
    return { list: result.files, bytes: result.bytes, digest: target };
  }

  async #download(target: DownloadTarget, traffic: Traffic): Promise<Uint8Array> {
    const got = await download(this.#deps.fetch, target, {
      attempts: this.#config.downloadAttempts ?? 3,
      maxBytes: this.#config.maxPackageBytes ?? 64 * 1024 * 1024,
      idleTimeoutMs: this.#config.idleTimeoutMs ?? 30_000,
    });
    traffic.transferred += got.transferred;
    traffic.resumed += got.resumed;
    return got.bytes;
  }

  #checkDeveloperSignature(
    version: string,
    files: string,
    pkg: Pick<ManifestPackage, "signature">,
  ): Promise<DeveloperSignatureCheck> {
    return checkDeveloperSignature(
      { appId: this.#config.appId, version, files, signature: pkg.signature },
      { keys: this.#config.developerKeys ?? {}, required: this.#config.requireDeveloperSignature ?? false },
    );
  }
}

/** What a verified answer asks of this device; an unordered downgrade is refused. */
function planFor(claims: ManifestClaims, installed: InstalledVersion | null): Plan {
  if (claims.status === "delisted") return "delisted";
  if (claims.status !== "ok") return "unavailable";
  if (!installed) return "install";
  const order = compareVersions(claims.version!, installed.version);
  if (order > 0) return "update";
  if (order === 0) return "none";
  if (claims.rollback === true) return "rollback";
  throw new ClientError(
    "rollback",
    `the manifest offers ${claims.version}, older than the installed ${installed.version}, without a signed rollback order`,
  );
}

function asFallback(error: unknown): { code: ClientErrorCode; message: string } {
  if (error instanceof ClientError) return { code: error.code, message: error.message };
  if (error instanceof IncrementError) {
    const code: ClientErrorCode =
      error.reason === "wrong_base"
        ? "wrong_base"
        : error.reason === "corrupt"
          ? "hash_mismatch"
          : "bad_package";
    return { code, message: error.message };
  }
  return { code: "bad_package", message: error instanceof Error ? error.message : String(error) };
}
