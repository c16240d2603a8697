/**
 * The one place the console reads a mini program's id from an API answer: every answer names it
 * `appId` (the wire name, ARCHITECTURE.md; issue 11 retired `id` and `miniProgramId`).
 */
export interface HasAppId {
  appId: string;
}
export const appIdOf = (x: HasAppId): string => x.appId;
