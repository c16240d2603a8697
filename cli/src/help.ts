/** Help text, read from the registry (registry.ts); docs/cli.md prints `graycast --help`. */
import type { Output } from "./output";
import {
  COMMANDS,
  type CommandSpec,
  childrenOf,
  GLOBAL_OPTIONS,
  GROUPS,
  type OptionSpec,
  PLANNED,
} from "./registry";

const optionLabel = (name: string, o: OptionSpec) =>
  `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` <${o.placeholder ?? "value"}>` : ""}`;

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(
    ([n, o]) => [optionLabel(n, o), `${o.description}${o.multiple ? " (repeatable)" : ""}`] as const,
  );
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`);
}

export function usageLine(c: CommandSpec): string {
  const pos = (c.positionals ?? []).map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)).join(" ");
  return `graycast ${c.name}${pos ? ` ${pos}` : ""}${c.options && Object.keys(c.options).length ? " [options]" : ""}`;
}

export function commandHelp(c: CommandSpec, out: Output): string {
  const b = (t: string) => out.paint("bold", t);
  const lines = [`${b(`graycast ${c.name}`)} — ${c.summary}`, "", `${b("Usage:")} ${usageLine(c)}`];
  if (c.details) lines.push("", ...c.details.split("\n"));
  if (c.positionals?.length) {
    lines.push("", b("Arguments:"));
    const width = Math.max(...c.positionals.map((p) => p.name.length + 2));
    for (const p of c.positionals) lines.push(`  ${`<${p.name}>`.padEnd(width)}  ${p.description}`);
  }
  if (c.options && Object.keys(c.options).length) lines.push("", b("Options:"), ...optionLines(c.options));
  lines.push("", b("Global options:"), ...optionLines(GLOBAL_OPTIONS));
  if (c.destructive)
    lines.push("", "Asks for confirmation first; --yes skips the question (needed without a terminal).");
  lines.push("", b("Examples:"), ...c.examples.map((e) => `  ${e}`), "");
  return lines.join("\n");
}

function list(commands: CommandSpec[]): string[] {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
}

export function groupHelp(group: string, out: Output): string {
  const b = (t: string) => out.paint("bold", t);
  const children = childrenOf(group);
  return [
    `${b(`graycast ${group}`)} — ${GROUPS[group] ?? ""}`,
    "",
    `${b("Usage:")} graycast ${group} <command> [options]`,
    "",
    b("Commands:"),
    ...list(children),
    "",
    `Run \`graycast ${group} <command> --help\` for a command's options and examples.`,
    "",
  ].join("\n");
}

/** Sections of the top-level help, in order; a command goes to the first section whose words start it. */
const SECTIONS: [string, string[]][] = [
  ["Account", ["login", "logout", "whoami", "profiles", "tokens"]],
  ["Mini programs", ["apps", "bind", "unbind", "bindings", "secret"]],
  ["Signing keys and change log", ["keys", "log"]],
  [
    "Releases",
    [
      "upload",
      "versions",
      "submit",
      "withdraw",
      "wait",
      "audits",
      "approve",
      "reject",
      "publish",
      "rollback",
      "trial",
      "increments",
      "offline",
    ],
  ],
  ["Grayscale", ["gray"]],
  ["Other", []],
];

export function topHelp(out: Output): string {
  const b = (t: string) => out.paint("bold", t);
  const lines = [
    `${b("graycast")} — release mini programs through Graycast's admin API, from a terminal or CI`,
    "",
    `${b("Usage:")} graycast <command> [options]`,
  ];
  const placed = new Set<CommandSpec>();
  for (const [title, heads] of SECTIONS) {
    const members = COMMANDS.filter(
      (c) => !placed.has(c) && (heads.includes(c.name.split(" ")[0]!) || !heads.length),
    );
    if (!members.length) continue;
    for (const m of members) placed.add(m);
    lines.push("", b(`${title}:`), ...list(members));
  }
  lines.push(
    "",
    b("Global options:"),
    ...optionLines(GLOBAL_OPTIONS),
    "",
    b("Environment:"),
    "  GRAYCAST_API_URL   the admin API's URL (overrides the profile's)",
    "  GRAYCAST_TOKEN     an API token (gct_...) used instead of stored credentials, for CI",
    "  GRAYCAST_PROFILE   the profile to use",
    "  GRAYCAST_APP       the App ID for commands that take --app",
    "  NO_COLOR           no colours (colours are only used on a terminal anyway)",
    "",
    b("Exit codes:"),
    "  0 ok   1 refused by the server (its message shown as is)   2 usage error   3 network error",
    "",
    `Not yet available (their APIs are being built): ${PLANNED.join(", ")}.`,
    "Run `graycast <command> --help` for a command's options and examples.",
    "",
  );
  return lines.join("\n");
}
