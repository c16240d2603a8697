/**
 * The CLI's exit codes (issue 16): 0 ok, 1 refused by the server (its message shown as is),
 * 2 usage error, 3 network. Every failure a command reports is one of these errors.
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, network: 3 } as const;

/** The server answered with an error: its code and message, shown exactly as sent. */
export class RefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = "RefusedError";
  }
}

/** The command line is wrong (unknown option, missing argument, bad value), or nothing to act on. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** The server could not be reached, or the connection broke and retries did not help. */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkError";
  }
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof RefusedError) return EXIT.refused;
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof NetworkError) return EXIT.network;
  return EXIT.refused;
}
