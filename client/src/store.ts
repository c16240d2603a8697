/**
 * The trusted state a client keeps for one mini program, and the storage interface each runtime
 * implements (client/src/node.ts: files on disk; `MemoryStore` below: tests and embedding).
 *
 * The state is the client's memory of what it has verified: the installed version with its
 * signed file list, the newest manifest it accepted (`iat`, snapshot revision: a replayed older
 * answer is refused), a signed delisting, and grayscale admission tickets. It changes only
 * through `save` (after an accepted check) and `activate` (after a package verified completely),
 * so a refused update leaves it byte-for-byte as it was (TUF: "the trusted version is unchanged").
 */
import type { FileEntry } from "../../core/increment";

export const STATE_FORMAT = "graycast-client-state/1";

export interface InstalledVersion {
  version: string;
  /** `filesDigest` of `list` (core/increment.ts): what increments start from */
  files: string;
  /** every file, sorted by path */
  list: FileEntry[];
  /** SHA-256 of the package it came from (the bytes downloaded, ciphertext when encrypted) */
  package: string;
  /** how it got here: an online check or an offline preset bundled with the App */
  source: "check" | "preset";
}

export interface TrustedState {
  format: typeof STATE_FORMAT;
  appId: string;
  installed: InstalledVersion | null;
  /** highest `iat` of an accepted check manifest, seconds */
  highestIat: number;
  /** highest snapshot `revision` of an accepted check manifest */
  highestRevision: number;
  /**
   * Set by a signed "delisted" answer, cleared by a later signed "ok": while set, the installed
   * version and any preset must not run (seed: "When a mini program is removed from the shelves,
   * the corresponding offline mini program preset in the App cannot be used normally").
   */
  delisted: { iat: number } | null;
  /** grayscale admission tickets to send back, oldest first (at most 8) */
  tickets: string[];
}

export function emptyState(appId: string): TrustedState {
  return {
    format: STATE_FORMAT,
    appId,
    installed: null,
    highestIat: 0,
    highestRevision: 0,
    delisted: null,
    tickets: [],
  };
}

/** Where one mini program's trusted state and installed files live. */
export interface Store {
  /** the state, or null before the first save */
  load(): Promise<TrustedState | null>;
  /** the bytes of one installed file */
  readFile(path: string): Promise<Uint8Array>;
  /** replaces the state, keeping the installed files (`state.installed` must be unchanged) */
  save(state: TrustedState): Promise<void>;
  /**
   * Installs `files` as `state.installed` and replaces the state in one step: until it returns,
   * the previous state and files are what `load` and `readFile` see, and if it fails they stay.
   */
  activate(state: TrustedState, files: ReadonlyMap<string, Uint8Array>): Promise<void>;
}

/** A Store in memory. The state is kept as JSON text, so callers never share objects with it. */
export class MemoryStore implements Store {
  #state: string | null = null;
  #files = new Map<string, Uint8Array>();

  async load(): Promise<TrustedState | null> {
    return this.#state === null ? null : (JSON.parse(this.#state) as TrustedState);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const bytes = this.#files.get(path);
    if (bytes === undefined) throw new Error(`${JSON.stringify(path)} is not installed`);
    return bytes.slice();
  }

  async save(state: TrustedState): Promise<void> {
    this.#state = JSON.stringify(state);
  }

  async activate(state: TrustedState, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const copy = new Map<string, Uint8Array>();
    for (const [path, bytes] of files) copy.set(path, bytes.slice());
    this.#state = JSON.stringify(state);
    this.#files = copy;
  }
}
