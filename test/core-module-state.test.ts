/**
 * core/ keeps no module-global mutable state (issue 11): caches and memos belong to their caller
 * (the edge keeps one per isolate, the control plane its own) and reach core through its
 * arguments and ports (RuleMemo, BoundedMemo, KeyEncryptionKeys, ImportedKeys, the decide plans).
 * Every core source file is read as text (Vite's `?raw` glob) and its top-level statements
 * (Biome formats them at column 0) are checked: no `let` or `var`, no constant holding a new
 * Map, Set, WeakMap, WeakSet or array to write into, no static field that is not readonly.
 */
import { describe, expect, it } from "vitest";

const sources = import.meta.glob<string>(["../core/**/*.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
});

/** The module-level declarations of `text` that hold mutable state, as "line: text". */
function moduleState(text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, i) => {
    const bad =
      /^(export\s+)?(let|var)\s/.test(line) ||
      /^(export\s+)?const\s+[\w$]+\s*(:[^=]+)?=\s*new\s+(Weak)?(Map|Set)\b/.test(line) ||
      // a scratch buffer: a constant array or typed array the module writes into
      /^(export\s+)?const\s+[\w$]+\s*:\s*[\w$]+\[\]\s*=/.test(line) ||
      /^\s+static\s+(?!readonly\b)[#\w$]+\s*[:=]/.test(line);
    if (bad) found.push(`${i + 1}: ${line.trim()}`);
  });
  return found;
}

describe("core keeps no module-global mutable state", () => {
  it("reads every core source file", () => {
    const names = Object.keys(sources);
    expect(names).toContain("../core/decide.ts");
    expect(names).toContain("../core/semver.ts");
    expect(names.length).toBeGreaterThan(20);
  });

  it.each(Object.keys(sources))("%s declares no mutable state at module level", (name) => {
    expect(moduleState(sources[name] as string)).toEqual([]);
  });

  it("the check finds each kind of module state it names", () => {
    expect(moduleState("let cache: Map<string, number> | undefined;")).toHaveLength(1);
    expect(moduleState("export var n = 0;")).toHaveLength(1);
    expect(moduleState("const parsed = new Map<string, number>();")).toHaveLength(1);
    expect(moduleState("export const seen: WeakMap<object, string> = new WeakMap();")).toHaveLength(1);
    expect(moduleState("const NAMES = new Set([1]);")).toHaveLength(1);
    expect(moduleState("const SCRATCH: number[] = [0, 0, 0];")).toHaveLength(1);
    expect(moduleState("class A {\n  static cache = new Map();\n}")).toHaveLength(1);
    // what is fine: constants, functions, instance fields, readonly statics, indented locals
    expect(
      moduleState(
        [
          'const KINDS: readonly string[] = ["a"];',
          "const f = () => {\n  let x = 0;\n  const m = new Map();\n  return [x, m];\n};",
          "class B {\n  readonly #m = new Map();\n  static readonly EMPTY = 0;\n}",
        ].join("\n"),
      ),
    ).toEqual([]);
  });
});
