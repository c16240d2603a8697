/**
 * `graycast`: the developers' CLI (PRODUCT.md O3, issue 16). Routes the command line to a
 * registered command, runs it, prints its result (for people, or --json), and exits with
 * 0 ok, 1 refused by the server, 2 usage error, 3 network.
 */
import { parseArgs } from "node:util";
import { adminClient } from "./api/client";
import "./commands/index";
import { CANCELLED } from "./cancel";
import { Config } from "./config";
import { EXIT, exitCodeOf, NetworkError, RefusedError, UsageError } from "./errors";
import { commandHelp, groupHelp, topHelp } from "./help";
import { confirm, Output, type Streams } from "./output";
import {
  type CommandSpec,
  type Context,
  childrenOf,
  GLOBAL_OPTIONS,
  GROUPS,
  route,
  type Values,
} from "./registry";

export const VERSION = "0.1.0";

/** Words before the first option (global options with their values are skipped). */
function commandWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token.startsWith("-")) {
      const name = token.replace(/^--?/, "").split("=")[0]!;
      const spec = Object.entries(GLOBAL_OPTIONS).find(([n, s]) => n === name || s.short === name)?.[1];
      if (spec?.type === "string" && !token.includes("=")) i++;
      if (!spec) break;
      continue;
    }
    words.push(token);
  }
  return words;
}

export async function main(argv: string[], streams: Streams): Promise<number> {
  const wantsJson = argv.includes("--json");
  const out = new Output(streams, wantsJson);
  try {
    return await dispatch(argv, streams, out);
  } catch (error) {
    return report(error, out);
  }
}

async function dispatch(argv: string[], streams: Streams, out: Output): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version") {
    if (out.json) out.jsonOut({ version: VERSION });
    else out.line(VERSION);
    return EXIT.ok;
  }
  if (argv[0] === "__complete") {
    const { completions } = await import("./commands/completion");
    for (const c of completions(argv[1] ?? "", argv.slice(2))) streams.stdout.write(`${c}\n`);
    return EXIT.ok;
  }
  const words = commandWords(argv);
  const { command, prefix } = route(words);
  if (!command) {
    const group = words[0] && (GROUPS[words.slice(0, 2).join(" ")] ? words.slice(0, 2).join(" ") : words[0]);
    if (group && (GROUPS[group] || childrenOf(group).length)) {
      streams.stdout.write(groupHelp(group, out));
      return argv.includes("--help") || argv.includes("-h") ? EXIT.ok : EXIT.usage;
    }
    if (!words.length) {
      streams.stdout.write(topHelp(out));
      return argv.length && !argv.some((a) => a === "--help" || a === "-h") ? EXIT.usage : EXIT.ok;
    }
    throw new UsageError(`unknown command ${JSON.stringify(words.join(" "))}`, "see `graycast --help`");
  }
  // The command's own words are removed; the rest is its options and positionals.
  const rest = [...argv];
  for (const w of prefix) rest.splice(rest.indexOf(w), 1);
  const options = { ...GLOBAL_OPTIONS, ...(command.options ?? {}) };
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(
        Object.entries(options).map(([n, o]) => [
          n,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]!, `see \`graycast ${command.name} --help\``);
  }
  if (parsed.values.help) {
    streams.stdout.write(commandHelp(command, out));
    return EXIT.ok;
  }
  const declared = command.positionals ?? [];
  const missing = declared.filter((p, i) => p.required && parsed.positionals[i] === undefined);
  if (missing.length)
    throw new UsageError(
      `missing ${missing.map((p) => `<${p.name}>`).join(" ")}`,
      `see \`graycast ${command.name} --help\``,
    );
  if (parsed.positionals.length > declared.length)
    throw new UsageError(
      `unexpected argument ${JSON.stringify(parsed.positionals[declared.length])}`,
      `see \`graycast ${command.name} --help\``,
    );
  const ctx = makeContext(command, parsed, streams, out);
  const result = await command.run(ctx);
  if (result === CANCELLED) return EXIT.ok;
  if (out.json) out.jsonOut(result ?? { ok: true });
  else if (result === undefined) return EXIT.ok;
  else if (command.show) command.show(result as never, out);
  else if (result && typeof result === "object") out.fields(Object.entries(result));
  return EXIT.ok;
}

function makeContext(
  command: CommandSpec,
  parsed: { values: Values; positionals: string[] },
  streams: Streams,
  out: Output,
): Context {
  const config = new Config(streams.env);
  const str = (name: string) => {
    const v = parsed.values[name];
    return typeof v === "string" ? v : undefined;
  };
  const profile = config.profileName(str("profile"));
  const apiUrl = config.apiUrl(profile, str("api-url"));
  return {
    values: parsed.values,
    positionals: parsed.positionals,
    out,
    streams,
    config,
    profile,
    apiUrl,
    api(options) {
      const token = streams.env.GRAYCAST_TOKEN || config.credential(profile)?.token;
      if (!token)
        throw new UsageError(
          `not logged in (profile ${profile})`,
          "run `graycast login`, or set GRAYCAST_TOKEN to an API token",
        );
      return adminClient(apiUrl, token, options?.retry ?? true);
    },
    anonymous: () => adminClient(apiUrl),
    async confirm(question) {
      if (parsed.values.yes) return true;
      return confirm(streams, question);
    },
    str,
    need(name, hint) {
      const v = str(name);
      if (v === undefined || v === "")
        throw new UsageError(`--${name} is required`, hint ?? `see \`graycast ${command.name} --help\``);
      return v;
    },
    list(name) {
      const v = parsed.values[name];
      return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
    },
    flag: (name) => parsed.values[name] === true,
  };
}

function report(error: unknown, out: Output): number {
  const code = exitCodeOf(error);
  const err = out.streams.stderr;
  if (out.json) {
    const body =
      error instanceof RefusedError
        ? {
            error: {
              kind: "refused",
              status: error.status,
              code: error.code,
              message: error.message,
              issues: error.issues,
            },
          }
        : error instanceof UsageError
          ? { error: { kind: "usage", message: error.message, hint: error.hint } }
          : error instanceof NetworkError
            ? { error: { kind: "network", message: error.message } }
            : { error: { kind: "error", message: error instanceof Error ? error.message : String(error) } };
    err.write(`${JSON.stringify(body)}\n`);
    return code;
  }
  const label = (text: string) => out.paint("red", text, true);
  if (error instanceof RefusedError) {
    // The server's message exactly as it sent it (the seed rule's wording), then its code.
    err.write(`${label("refused:")} ${error.message}\n`);
    for (const issue of error.issues) err.write(`  ${issue.path || "(body)"}: ${issue.message}\n`);
    err.write(`${out.paint("dim", `(HTTP ${error.status} ${error.code})`, true)}\n`);
    if (error.status === 401) err.write("hint: run `graycast login` (or check GRAYCAST_TOKEN)\n");
  } else if (error instanceof UsageError) {
    err.write(`${label("usage:")} ${error.message}\n`);
    if (error.hint) err.write(`hint: ${error.hint}\n`);
  } else if (error instanceof NetworkError) {
    err.write(`${label("network:")} ${error.message}\n`);
  } else {
    err.write(`${label("error:")} ${error instanceof Error ? error.message : String(error)}\n`);
  }
  return code;
}
