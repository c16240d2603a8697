/**
 * The one place the CLI reads a mini program's id from an API answer. The wire field is `appId`
 * (helper-context "Conventions"); some answers still say `id` (MiniProgramSummary) or
 * `miniProgramId` (bindings, audits) until the rename lands. When it does, this becomes
 * `record.appId` and nothing else in the CLI changes.
 */
export function appIdOf(record: object): string {
  const r = record as { appId?: unknown; miniProgramId?: unknown; id?: unknown };
  const value = r.appId ?? r.miniProgramId ?? r.id;
  if (typeof value !== "string") throw new Error("the answer names no App ID");
  return value;
}
