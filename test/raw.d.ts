// Vite imports a file as text with `?raw` (test/admin-increments.test.ts reads the Workers' configurations).
declare module "*?raw" {
  const text: string;
  export default text;
}

// Vite's `import.meta.glob`, in the one form the tests use (test/core-module-state.test.ts reads core's sources as text).
interface ImportMeta {
  glob<T>(
    patterns: string | string[],
    options: { query: "?raw"; import: "default"; eager: true },
  ): Record<string, T>;
}

// node:zlib (workerd, `nodejs_compat`), in the one form the tests use: test/admin-increments.test.ts
// shows that its zstd drops a dictionary. The workerd project has no Node types.
declare module "node:zlib" {
  export function zstdCompressSync(data: Uint8Array, options?: { dictionary?: Uint8Array }): Uint8Array;
  export function zstdDecompressSync(data: Uint8Array, options?: { dictionary?: Uint8Array }): Uint8Array;
}
