/**
 * Node bindings of the reference client: a Store on the filesystem, zstd from `node:zlib`, and
 * `createNodeClient` wiring them with the global fetch and clock (used by client/cli.mjs). It is
 * the Node entry point, so it re-exports the runtime-agnostic core (./index.ts) too.
 *
 * Layout of one mini program's store directory:
 *
 *   current.json            { "dir": "versions/<version>-<random>" | null, "state": TrustedState }
 *   versions/<name>/...     the installed files of the version `dir` names
 *
 * `current.json` is the only mutable entry point: it is replaced by writing `current.json.tmp`,
 * syncing it and renaming it over the old one (atomic on POSIX). A new version is written into a
 * fresh directory first, so until the rename the previous version is complete and current; only
 * after it are directories nothing points at removed.
 */
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { zstdDecompressSync } from "node:zlib";
import { GraycastClient } from "./client";
import type { Store, TrustedState } from "./store";
import type { ClientConfig } from "./types";

export * from "./index";

const POINTER = "current.json";
const VERSIONS = "versions";

interface Pointer {
  dir: string | null;
  state: TrustedState;
}

export class FsStore implements Store {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async load(): Promise<TrustedState | null> {
    return (await this.#pointer())?.state ?? null;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const pointer = await this.#pointer();
    if (!pointer?.dir) throw new Error("nothing is installed");
    return new Uint8Array(await readFile(this.#inside(pointer.dir, path)));
  }

  async save(state: TrustedState): Promise<void> {
    const pointer = await this.#pointer();
    await this.#swap({ dir: pointer?.dir ?? null, state });
  }

  async activate(state: TrustedState, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    if (!state.installed) throw new Error("activate needs the installed version in the state");
    const dir = `${VERSIONS}/${state.installed.version}-${crypto.randomUUID().slice(0, 8)}`;
    for (const [path, bytes] of files) {
      const target = this.#inside(dir, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
    await this.#swap({ dir, state });
    await this.#removeAllBut(dir);
  }

  async #pointer(): Promise<Pointer | null> {
    let text: string;
    try {
      text = await readFile(join(this.root, POINTER), "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as Pointer;
  }

  async #swap(pointer: Pointer): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const temp = join(this.root, `${POINTER}.tmp`);
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(JSON.stringify(pointer, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(this.root, POINTER));
  }

  /** Removes version directories other than `keep` (the replaced one, leftovers of a crash). */
  async #removeAllBut(keep: string): Promise<void> {
    for (const name of await readdir(join(this.root, VERSIONS))) {
      if (`${VERSIONS}/${name}` !== keep)
        await rm(join(this.root, VERSIONS, name), { recursive: true, force: true });
    }
  }

  /** The absolute path of `path` inside `dir`, refusing anything that would leave it. */
  #inside(dir: string, path: string): string {
    const base = resolve(this.root, dir);
    const target = resolve(base, path);
    const rel = relative(base, target);
    if (rel === "" || isAbsolute(rel) || rel.split(/[\\/]/)[0] === "..")
      throw new Error(`${JSON.stringify(path)} leaves the install directory`);
    return target;
  }
}

/** core/increment.ts `Decompress` on Node's zstd; `contentSize` caps the output. */
export function nodeDecompress(frame: Uint8Array, dictionary: Uint8Array, contentSize: number): Uint8Array {
  const out = zstdDecompressSync(frame, { dictionary, maxOutputLength: Math.max(1, contentSize) });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A client for one mini program whose store is `<dir>/<appId>/`. */
export function createNodeClient(config: ClientConfig, dir: string): GraycastClient {
  return new GraycastClient(config, {
    fetch: (url, init) => fetch(url, init),
    store: new FsStore(join(dir, config.appId)),
    decompress: nodeDecompress,
    now: () => Date.now(),
  });
}
