/**
 * The one place the CLI reads a mini program's id from an API answer: the wire field is `appId`
 * everywhere (helper-context "Conventions"; the rename of `id` / `miniProgramId` has landed).
 */
export function appIdOf(record: { appId: string }): string {
  return record.appId;
}
