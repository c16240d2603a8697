/**
 * What a command prints. Colours only when the stream is a terminal and NO_COLOR is unset
 * (https://no-color.org); machine output (--json) is one JSON document on stdout.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { UsageError } from "./errors";

export interface Streams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

/** GRAYCAST_FORCE_TTY=1 makes the CLI behave as on a terminal (its tests, and `script`-less CI logs). */
export function isTty(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return env.GRAYCAST_FORCE_TTY === "1" || stream.isTTY === true;
}

export function colorsOn(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return isTty(stream, env) && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};
export type Style = keyof typeof CODES;

export class Output {
  readonly color: boolean;
  readonly errColor: boolean;
  constructor(
    readonly streams: Streams,
    readonly json: boolean,
  ) {
    this.color = colorsOn(streams.stdout, streams.env);
    this.errColor = colorsOn(streams.stderr, streams.env);
  }

  paint(style: Style, text: string, onErr = false): string {
    if (!(onErr ? this.errColor : this.color)) return text;
    const [on, off] = CODES[style];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  /** A line for people; nothing in --json mode (stdout then carries only the JSON). */
  line(text = ""): void {
    if (!this.json) this.streams.stdout.write(`${text}\n`);
  }

  /** Progress and notes: stderr, so stdout stays clean for pipes. */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  jsonOut(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Key/value lines, aligned. */
  fields(rows: [string, unknown][]): void {
    const width = Math.max(0, ...rows.map(([k]) => k.length));
    for (const [k, v] of rows) this.line(`${this.paint("dim", `${k.padEnd(width)}`)}  ${show(v)}`);
  }

  /** A table with a header; cells are strings. */
  table(headers: string[], rows: unknown[][]): void {
    if (!rows.length) {
      this.line(this.paint("dim", "(none)"));
      return;
    }
    const cells = rows.map((r) => r.map(show));
    const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    this.line(this.paint("bold", fmt(headers)));
    for (const r of cells) this.line(fmt(r));
  }
}

export function show(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number" && v > 1_000_000_000_000 && v < 10_000_000_000_000) return isoTime(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export const isoTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * Asks a yes/no question on the terminal. Without a terminal there is nobody to answer: the
 * action is refused as a usage error that names --yes.
 */
export async function confirm(streams: Streams, question: string): Promise<boolean> {
  if (!isTty(streams.stdin, streams.env))
    throw new UsageError(`${question} — refusing without a terminal to ask on`, "pass --yes to confirm");
  const rl = createInterface({ input: streams.stdin, output: streams.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Reads a secret from the terminal without echoing it. */
export async function askSecret(streams: Streams, question: string): Promise<string> {
  if (!isTty(streams.stdin, streams.env))
    throw new UsageError(
      "no password given and no terminal to ask on",
      "use --password-stdin or GRAYCAST_PASSWORD",
    );
  streams.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: streams.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question("", resolve));
  } finally {
    rl.close();
    streams.stderr.write("\n");
  }
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}
