/**
 * The command registry. Every command is one entry: its words ("gray whitelist upload"), options,
 * help text with examples, and what it does. Help, routing, completion and docs/cli.md are all
 * read from here, so a later feature (`secret`, `domains`, `switches`, `privacy`, `config`, ...)
 * adds its command by registering one more entry in its own module (commands/index.ts).
 */
import type { AdminClient } from "./api/client";
import type { Config } from "./config";
import type { Output, Streams } from "./output";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Shown in help as `--name <placeholder>`. */
  placeholder?: string;
  description: string;
}

export interface PositionalSpec {
  name: string;
  required?: boolean;
  description: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Context {
  values: Values;
  positionals: string[];
  out: Output;
  streams: Streams;
  config: Config;
  profile: string;
  apiUrl: string;
  /** The client with the profile's (or GRAYCAST_TOKEN's) credentials; a usage error when there are none. */
  api(options?: { retry?: boolean }): AdminClient;
  /** A client without credentials (login). */
  anonymous(): AdminClient;
  /** Asks unless --yes; false when the user says no. */
  confirm(question: string): Promise<boolean>;
  str(name: string): string | undefined;
  need(name: string, hint?: string): string;
  list(name: string): string[];
  flag(name: string): boolean;
}

export interface CommandSpec {
  /** The words that name it, e.g. "gray whitelist upload". */
  name: string;
  summary: string;
  positionals?: PositionalSpec[];
  options?: Record<string, OptionSpec>;
  examples: string[];
  /** More text for --help. */
  details?: string;
  /** Asks before acting unless --yes. */
  destructive?: boolean;
  /** Runs without credentials (login, profiles, completion). */
  noAuth?: boolean;
  /** Does the work; its result is what --json prints. */
  run(ctx: Context): Promise<unknown>;
  /** Prints the result for people; without it, a plain summary. */
  show?(result: never, out: Output): void;
}

/** Group summaries, for `graycast <group> --help` and the top-level list. */
export const GROUPS: Record<string, string> = {};

export const COMMANDS: CommandSpec[] = [];

export function register(...specs: CommandSpec[]): void {
  for (const spec of specs) {
    if (COMMANDS.some((c) => c.name === spec.name)) throw new Error(`command ${spec.name} registered twice`);
    COMMANDS.push(spec);
  }
}

export function group(name: string, summary: string): void {
  GROUPS[name] = summary;
}

/** The command named by the longest prefix of `words`, and the words left over. */
export function route(words: string[]): { command?: CommandSpec; rest: string[]; prefix: string[] } {
  for (let n = Math.min(words.length, 4); n > 0; n--) {
    const name = words.slice(0, n).join(" ");
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: words.slice(n), prefix: words.slice(0, n) };
  }
  return { rest: words, prefix: [] };
}

/** Commands directly under a group ("gray" -> "gray list", "gray whitelist upload", ...). */
export function childrenOf(prefix: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${prefix} `));
}

/** Commands that still need their API (issue 12, on other branches); listed in help as planned. */
export const PLANNED = ["domains", "switches", "privacy", "config"];

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean", description: "print the result as JSON on stdout (errors as JSON on stderr)" },
  yes: { type: "boolean", short: "y", description: "do not ask before destructive actions" },
  profile: {
    type: "string",
    placeholder: "name",
    description: "use this profile (default: the current one, or GRAYCAST_PROFILE)",
  },
  "api-url": {
    type: "string",
    placeholder: "url",
    description: "the admin API's URL (default: GRAYCAST_API_URL, else the profile's)",
  },
  help: { type: "boolean", short: "h", description: "show help" },
};
