/**
 * Transfer progress on stderr. On a terminal: one redrawn line with a bar, bytes, rate and time
 * left. Otherwise (CI logs, pipes): a plain line at every 10 %, and one at the end.
 */
import { formatBytes, isTty, type Streams } from "./output";

const BAR = 24;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const mm = String(m % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastStep = -1;
  private done = 0;
  private finished = false;

  constructor(
    private readonly streams: Streams,
    private readonly label: string,
    private readonly total: number,
    /** What is counted ("bytes" or "lines"). */
    private readonly unit: "bytes" | "lines" = "bytes",
    private readonly now: () => number = Date.now,
  ) {
    this.tty = isTty(streams.stderr, streams.env);
  }

  private amount(n: number): string {
    return this.unit === "bytes" ? formatBytes(n) : n.toLocaleString("en-US");
  }

  /** Rate and time left from the average since the start (steady enough for uploads). */
  private stats() {
    const elapsed = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = this.done / elapsed;
    const left = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    return { rate, left, elapsed };
  }

  update(done: number): void {
    this.done = Math.min(done, this.total);
    const pct = this.total ? Math.floor((this.done / this.total) * 100) : 100;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < 80 && this.done < this.total) return;
      this.lastDraw = t;
      const { rate, left } = this.stats();
      const filled = Math.round((pct / 100) * BAR);
      const bar = `${"█".repeat(filled)}${"░".repeat(BAR - filled)}`;
      const rateText =
        this.unit === "bytes"
          ? `${formatBytes(Math.round(rate))}/s`
          : `${Math.round(rate).toLocaleString("en-US")} lines/s`;
      this.streams.stderr.write(
        `\r\u001b[2K${this.label} ${bar} ${String(pct).padStart(3)}% ${this.amount(this.done)}/${this.amount(this.total)} ${rateText} ETA ${formatDuration(left)}`,
      );
      return;
    }
    const step = Math.floor(pct / 10);
    if (step > this.lastStep && this.done < this.total) {
      this.lastStep = step;
      this.streams.stderr.write(
        `${this.label}: ${pct}% (${this.amount(this.done)} of ${this.amount(this.total)})\n`,
      );
    }
  }

  /** Sent: the server is now checking and storing. */
  finish(note = "sent"): void {
    if (this.finished) return;
    this.finished = true;
    this.update(this.total);
    const { rate, elapsed } = this.stats();
    const rateText =
      this.unit === "bytes"
        ? `${formatBytes(Math.round(rate))}/s`
        : `${Math.round(rate).toLocaleString("en-US")} lines/s`;
    const summary = `${this.label}: 100% ${this.amount(this.total)} ${note} in ${elapsed.toFixed(1)} s (${rateText})`;
    this.streams.stderr.write(this.tty ? `\r\u001b[2K${summary}\n` : `${summary}\n`);
  }

  /** A retry: the count starts again. */
  reset(reason: string): void {
    this.done = 0;
    this.lastStep = -1;
    this.streams.stderr.write(`${this.tty ? "\r\u001b[2K" : ""}${this.label}: ${reason}\n`);
  }
}

/** A body that reports how much of `bytes` the connection has taken, in 64 KiB pieces. */
export function countingStream(
  bytes: Uint8Array,
  onProgress: (sent: number) => void,
): ReadableStream<Uint8Array> {
  const CHUNK = 64 * 1024;
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= bytes.byteLength) {
          controller.close();
          return;
        }
        const end = Math.min(offset + CHUNK, bytes.byteLength);
        controller.enqueue(bytes.subarray(offset, end));
        offset = end;
        onProgress(offset);
      },
    },
    { highWaterMark: 0 },
  );
}
