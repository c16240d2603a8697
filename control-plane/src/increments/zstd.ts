/**
 * zstd with a raw-content dictionary inside workerd, from the WASM build of the reference C
 * library (@bokuweb/zstd-wasm). Workers may not compile WebAssembly from bytes at run time, so
 * the module is imported precompiled (wrangler bundles `.wasm` imports as compiled modules) and
 * handed to the Emscripten glue through its `instantiateWasm` hook. The package's `exports` map
 * only offers an entry that fetches the file, hence the direct paths.
 */
import { Module } from "../../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.js";
import zstdWasm from "../../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm";

interface ZstdModule {
  init(path: string): void;
  instantiateWasm?: (
    imports: WebAssembly.Imports,
    receive: (instance: WebAssembly.Instance) => void,
  ) => WebAssembly.Exports;
  onRuntimeInitialized?: () => void;
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _ZSTD_compressBound(size: number): number;
  _ZSTD_createCCtx(): number;
  _ZSTD_freeCCtx(cctx: number): number;
  _ZSTD_compress_usingDict(
    cctx: number,
    dst: number,
    cap: number,
    src: number,
    srcSize: number,
    dict: number,
    dictSize: number,
    level: number,
  ): number;
  _ZSTD_createDCtx(): number;
  _ZSTD_freeDCtx(dctx: number): number;
  _ZSTD_decompress_usingDict(
    dctx: number,
    dst: number,
    cap: number,
    src: number,
    srcSize: number,
    dict: number,
    dictSize: number,
  ): number;
  _ZSTD_isError(code: number): number;
}

const zstd = Module as ZstdModule;
let ready: Promise<void> | undefined;

function load(): Promise<void> {
  ready ??= new Promise<void>((resolve, reject) => {
    zstd.onRuntimeInitialized = () => resolve();
    zstd.instantiateWasm = (imports, receive) => {
      try {
        const instance = new WebAssembly.Instance(zstdWasm as WebAssembly.Module, imports);
        receive(instance);
        return instance.exports;
      } catch (e) {
        reject(e);
        throw e;
      }
    };
    zstd.init("");
  });
  return ready;
}

/** Copies bytes into the WASM heap; the caller frees. */
function place(bytes: Uint8Array): number {
  const ptr = zstd._malloc(Math.max(1, bytes.byteLength));
  if (ptr === 0) throw new Error("zstd: out of memory");
  zstd.HEAPU8.set(bytes, ptr);
  return ptr;
}

function withBuffers<T>(sizes: number[], inputs: Uint8Array[], run: (ptrs: number[]) => T): T {
  const ptrs: number[] = [];
  try {
    for (const input of inputs) ptrs.push(place(input));
    for (const size of sizes) {
      const ptr = zstd._malloc(Math.max(1, size));
      if (ptr === 0) throw new Error("zstd: out of memory");
      ptrs.push(ptr);
    }
    return run(ptrs);
  } finally {
    for (const ptr of ptrs) zstd._free(ptr);
  }
}

/**
 * Bytes of the WASM module's memory: it grows to the high-water mark of every call and never
 * shrinks (what a build's zstd level costs the isolate; core `incrementLevel`).
 */
export function zstdMemoryBytes(): number {
  return ready === undefined ? 0 : zstd.HEAPU8.buffer.byteLength;
}

/** One zstd frame of `content`, with `dictionary` as raw content (zstd's `--patch-from` model). */
export async function zstdCompress(
  content: Uint8Array,
  dictionary: Uint8Array,
  level: number,
): Promise<Uint8Array> {
  await load();
  const bound = zstd._ZSTD_compressBound(content.byteLength);
  const cctx = zstd._ZSTD_createCCtx();
  try {
    return withBuffers([bound], [content, dictionary], ([src, dict, dst]) => {
      const n = zstd._ZSTD_compress_usingDict(
        cctx,
        dst!,
        bound,
        src!,
        content.byteLength,
        dict!,
        dictionary.byteLength,
        level,
      );
      if (zstd._ZSTD_isError(n)) throw new Error(`zstd: compression failed (${n})`);
      return zstd.HEAPU8.slice(dst!, dst! + n);
    });
  } finally {
    zstd._ZSTD_freeCCtx(cctx);
  }
}

/** Decodes a frame made by `zstdCompress`; `contentSize` bounds the output (never the frame's claim). */
export async function zstdDecompress(
  frame: Uint8Array,
  dictionary: Uint8Array,
  contentSize: number,
): Promise<Uint8Array> {
  await load();
  const dctx = zstd._ZSTD_createDCtx();
  try {
    return withBuffers([contentSize], [frame, dictionary], ([src, dict, dst]) => {
      const n = zstd._ZSTD_decompress_usingDict(
        dctx,
        dst!,
        contentSize,
        src!,
        frame.byteLength,
        dict!,
        dictionary.byteLength,
      );
      if (zstd._ZSTD_isError(n)) throw new Error(`zstd: decompression failed (${n})`);
      return zstd.HEAPU8.slice(dst!, dst! + n);
    });
  } finally {
    zstd._ZSTD_freeDCtx(dctx);
  }
}
