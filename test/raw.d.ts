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
