/**
 * A clock the test moves (edge-worker/src/admission-leases.ts `LeaseClock`): time stands still
 * until the test advances it, so "four admissions within one second", "the lease is still
 * usable" and "the report waits 250 ms" hold however slow the machine is, and nothing polls.
 * It starts at the wall clock's time, so what the Durable Object stamps with its own clock
 * (a lease's end) agrees with it.
 */
import type { LeaseClock } from "../../edge-worker/src/admission-leases";

interface Timer {
  at: number;
  resolve: () => void;
}

export class ManualClock implements LeaseClock {
  #now = Date.now();
  #timers: Timer[] = [];
  #onTimer: (() => void)[] = [];

  now = (): number => this.#now;

  sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#timers.push({ at: this.#now + ms, resolve });
      for (const wake of this.#onTimer.splice(0)) wake();
    });

  /** Timers waiting (the lease ends, report delays and back-offs the code is sleeping on). */
  get pending(): number {
    return this.#timers.length;
  }

  /** Resolves once some code sleeps on this clock (at once if some already does): an event, not a poll. */
  sleeping(): Promise<void> {
    if (this.#timers.length > 0) return Promise.resolve();
    return this.#newTimer();
  }

  /** Resolves when some code next starts to sleep on this clock. */
  #newTimer(): Promise<void> {
    return new Promise<void>((resolve) => this.#onTimer.push(resolve));
  }

  /** Moves time by `ms`, waking every sleeper whose time came, earliest first. */
  advance(ms: number): void {
    this.#now += ms;
    this.#timers.sort((a, b) => a.at - b.at);
    while (this.#timers.length > 0 && this.#timers[0]!.at <= this.#now) this.#timers.shift()!.resolve();
  }

  /**
   * Lets `work` (background work handed to `waitUntil`) run to its end, moving time forward
   * whenever it sleeps on this clock, up to `until` at most: the earliest timer due by then fires,
   * the woken code runs, and so on. Real I/O (Durable Object calls) runs meanwhile at its own
   * pace. The work must end by `until` (a sleep past it waits for the test to move time).
   */
  async runUntilSettled(work: Promise<unknown>, until = Number.POSITIVE_INFINITY): Promise<void> {
    let settled = false;
    const done = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      // Code woken by the previous timer runs first (its continuation is queued already).
      await Promise.resolve();
      if (settled) return;
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next !== undefined && next.at <= until) {
        this.advance(Math.max(0, next.at - this.#now));
        continue;
      }
      // Nothing due: the work does I/O, or sleeps past `until`. Wait for it to end or to sleep again.
      await Promise.race([done, this.#newTimer()]);
    }
  }
}
