/**
 * Teams and the platform (PRODUCT.md M1): a team admin manages the team's members and roles; a
 * platform admin bootstraps users, teams and host apps (what `npm start` seeds locally and a
 * fresh deployment needs first).
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import { isTeamAdmin } from "../session";
import type { HostApp, Me } from "../types";
import {
  asApiError,
  ErrorNote,
  Field,
  fmtDate,
  formValue,
  Loading,
  Notice,
  StatusBadge,
  useLoad,
} from "../ui";
import { TeamWebhookSection } from "./team-webhook";

interface TeamMember {
  userId: string;
  email: string;
  name: string;
  role: string;
  since: number;
}
interface User {
  id: string;
  email: string;
  name: string;
  isPlatformAdmin: boolean;
  disabledAt?: number | null;
}
interface Team {
  id: string;
  name: string;
  createdAt: number;
}

export function TeamPage(props: { me: Me; teamId: string }) {
  const { me } = props;
  const teamId = props.teamId || me.teams[0]?.id || "";
  const team = me.teams.find((t) => t.id === teamId);
  const base = `/v1/teams/${teamId}/members`;
  const members = useLoad(
    () => (teamId ? api<{ members: TeamMember[] }>("GET", base) : Promise.resolve({ members: [] })),
    [teamId],
  );
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const admin = isTeamAdmin(me, teamId);
  const save = async (email: string, role: string) => {
    try {
      await api("POST", base, { email, role });
      setError(undefined);
      members.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  };
  return (
    <section>
      <h1>Team{team ? ` ${team.name}` : ""}</h1>
      <p class="hint">
        Admins can do everything (signing keys, encryption, members); developers create, upload, submit,
        publish and run grayscale releases; viewers read.
      </p>
      <ErrorNote error={error} fields={["email"]} />
      {!members.data ? (
        <Loading error={members.error} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Role</th>
                <th scope="col">Since</th>
                {admin && (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.data.members.map((m) => (
                <tr>
                  <td>
                    {m.name} <small>&lt;{m.email}&gt;</small>
                  </td>
                  <td>
                    {admin ? (
                      <select
                        aria-label={`Role of ${m.name}`}
                        onChange={(e: Event) => save(m.email, (e.target as HTMLSelectElement).value)}
                      >
                        {["admin", "developer", "viewer"].map((r) => (
                          <option value={r} selected={r === m.role}>
                            {r}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <StatusBadge status={m.role} />
                    )}
                  </td>
                  <td>{fmtDate(m.since)}</td>
                  {admin && (
                    <td>
                      {m.userId !== me.id && (
                        <button
                          type="button"
                          class="small danger"
                          onClick={async () => {
                            try {
                              await api("DELETE", `${base}/${m.userId}`);
                              members.reload();
                            } catch (err) {
                              setError(asApiError(err));
                            }
                          }}
                        >
                          Remove {m.name}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin && (
        <form
          class="inline"
          aria-label="Add a team member"
          onSubmit={(e: Event) => {
            e.preventDefault();
            const form = new FormData(e.target as HTMLFormElement);
            save(formValue(form, "email"), formValue(form, "role"));
          }}
        >
          <Field
            id="team-member-email"
            name="email"
            label="Email of an existing user"
            type="email"
            required
          />
          <div class="field">
            <label for="team-member-role">Role</label>
            <select id="team-member-role" name="role">
              <option value="developer">developer</option>
              <option value="viewer">viewer</option>
              <option value="admin">admin</option>
            </select>
          </div>
          <button type="submit">Add member</button>
        </form>
      )}
      {admin && teamId && <TeamWebhookSection teamId={teamId} />}
    </section>
  );
}

export function PlatformPage() {
  const users = useLoad(() => api<{ users: User[] }>("GET", "/v1/users"), []);
  const teams = useLoad(() => api<{ teams: Team[] }>("GET", "/v1/teams"), []);
  const hostApps = useLoad(() => api<{ hostApps: HostApp[] }>("GET", "/v1/host-apps"), []);
  const [userError, setUserError] = useState<ApiError | undefined>(undefined);
  const [teamError, setTeamError] = useState<ApiError | undefined>(undefined);
  const [hostError, setHostError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const submit =
    (
      path: string,
      body: (f: FormData) => unknown,
      onError: (e: ApiError | undefined) => void,
      done: () => void,
    ) =>
    async (e: Event) => {
      e.preventDefault();
      const el = e.target as HTMLFormElement;
      try {
        await api("POST", path, body(new FormData(el)));
        onError(undefined);
        el.reset();
        done();
      } catch (err) {
        onError(asApiError(err));
      }
    };
  return (
    <section>
      <h1>Platform</h1>
      {notice && <Notice>{notice}</Notice>}
      <h2>Users</h2>
      {!users.data ? (
        <Loading error={users.error} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => (
                <tr>
                  <td>
                    {u.name} {u.isPlatformAdmin && <StatusBadge status="platform admin" />}
                  </td>
                  <td>{u.email}</td>
                  <td>
                    <StatusBadge status={u.disabledAt ? "disabled" : "active"} />
                  </td>
                  <td>
                    <button
                      type="button"
                      class="small"
                      onClick={async () => {
                        try {
                          await api("POST", `/v1/users/${u.id}/${u.disabledAt ? "enable" : "disable"}`);
                          users.reload();
                        } catch (err) {
                          setUserError(asApiError(err));
                        }
                      }}
                    >
                      {u.disabledAt ? `Enable ${u.name}` : `Disable ${u.name}`}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form
        class="card"
        aria-label="Create a user"
        onSubmit={submit(
          "/v1/users",
          (f) => ({
            email: formValue(f, "email"),
            name: formValue(f, "name"),
            password: String(f.get("password") ?? ""),
            isPlatformAdmin: f.get("isPlatformAdmin") === "on",
          }),
          setUserError,
          () => (users.reload(), setNotice("User created.")),
        )}
      >
        <h3>New user</h3>
        <div class="row">
          <Field id="user-email" name="email" label="Email" type="email" required error={userError} />
          <Field id="user-name" name="name" label="Name" required error={userError} />
          <Field
            id="user-password"
            name="password"
            label="Initial password"
            type="password"
            autocomplete="new-password"
            hint="At least 10 characters; the user changes it on the Account page."
            required
            error={userError}
          />
        </div>
        <label class="check">
          <input type="checkbox" name="isPlatformAdmin" /> Platform admin
        </label>
        <ErrorNote error={userError} fields={["email", "name", "password"]} />
        <button type="submit" class="primary">
          Create user
        </button>
      </form>
      <h2>Teams</h2>
      {teams.data ? (
        <ul class="plain">
          {teams.data.teams.map((t) => (
            <li>
              {t.name} <code>{t.id}</code> <small>{fmtDate(t.createdAt)}</small>
            </li>
          ))}
        </ul>
      ) : (
        <Loading error={teams.error} />
      )}
      <form
        class="inline"
        aria-label="Create a team"
        onSubmit={submit(
          "/v1/teams",
          (f) => ({
            name: formValue(f, "name"),
            ...(formValue(f, "adminEmail") ? { adminEmail: formValue(f, "adminEmail") } : {}),
          }),
          setTeamError,
          () => (teams.reload(), setNotice("Team created.")),
        )}
      >
        <Field id="team-name" name="name" label="Team name" required error={teamError} />
        <Field
          id="team-admin"
          name="adminEmail"
          label="Its first admin (email)"
          type="email"
          error={teamError}
        />
        <button type="submit">Create team</button>
        <ErrorNote error={teamError} fields={["name", "adminEmail"]} />
      </form>
      <h2>Host apps</h2>
      {hostApps.data ? (
        <ul class="plain">
          {hostApps.data.hostApps.map((h) => (
            <li>
              {h.name} <code>{h.id}</code> <small>{fmtDate(h.createdAt)}</small>
            </li>
          ))}
        </ul>
      ) : (
        <Loading error={hostApps.error} />
      )}
      <form
        class="inline"
        aria-label="Create a host app"
        onSubmit={submit(
          "/v1/host-apps",
          (f) => ({ name: formValue(f, "name") }),
          setHostError,
          () => (hostApps.reload(), setNotice("Host app created: add its manager on the Host apps page.")),
        )}
      >
        <Field id="host-name" name="name" label="Host app name" required error={hostError} />
        <button type="submit">Create host app</button>
        <ErrorNote error={hostError} fields={["name"]} />
      </form>
    </section>
  );
}
