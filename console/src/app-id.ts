/**
 * The one place the console reads a mini program's id from an API answer. Most answers already
 * say `appId` (the wire name, ARCHITECTURE.md); some older ones still say `id` or `miniProgramId`.
 * When every answer says `appId`, this becomes `x.appId`.
 */
export interface HasAppId {
  appId?: string;
  id?: string;
  miniProgramId?: string;
}
export const appIdOf = (x: HasAppId): string => x.appId ?? x.miniProgramId ?? x.id ?? "";
