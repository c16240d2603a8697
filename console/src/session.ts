/** Who is signed in (GET /v1/auth/me) and the team the mini program list is filtered by. */
import type { Me } from "./types";

const TEAM_KEY = "graycast.team";
export const getTeamFilter = (): string => sessionStorage.getItem(TEAM_KEY) ?? "";
export const setTeamFilter = (teamId: string): void => {
  if (teamId) sessionStorage.setItem(TEAM_KEY, teamId);
  else sessionStorage.removeItem(TEAM_KEY);
};

/** Roles that may change a team's mini programs (PRODUCT.md M1: admin and developer). */
export const canWrite = (me: Me, teamId: string): boolean =>
  me.isPlatformAdmin ||
  me.teams.some((t) => t.id === teamId && (t.role === "admin" || t.role === "developer"));
export const isTeamAdmin = (me: Me, teamId: string): boolean =>
  me.isPlatformAdmin || me.teams.some((t) => t.id === teamId && t.role === "admin");
