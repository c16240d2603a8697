/** What a command returns when the user answered no to its question: nothing printed, exit 0. */
export const CANCELLED = Symbol("cancelled");
