/** Sign in and the account page (change password, sign out): /v1/auth/login, /password, /logout. */
import { useState } from "hono/jsx/dom";
import { type ApiError, api, setToken } from "../api";
import type { Me } from "../types";
import { asApiError, ErrorNote, Field, formValue, Notice } from "../ui";

interface Session {
  token: string;
  expiresAt: number;
}

export function SignIn(props: { onSignedIn: () => void }) {
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>Graycast console</h1>
      <p>Sign in with your Graycast account.</p>
      <form
        aria-label="Sign in"
        onSubmit={async (e: Event) => {
          e.preventDefault();
          const form = new FormData(e.target as HTMLFormElement);
          setBusy(true);
          try {
            const session = await api<Session>("POST", "/v1/auth/login", {
              email: formValue(form, "email"),
              password: String(form.get("password") ?? ""),
            });
            setToken(session.token);
            setError(undefined);
            props.onSignedIn();
          } catch (err) {
            setError(asApiError(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field name="email" label="Email" type="email" autocomplete="username" required error={error} />
        <Field
          name="password"
          label="Password"
          type="password"
          autocomplete="current-password"
          required
          error={error}
        />
        <ErrorNote error={error} fields={["email", "password"]} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

export function AccountPage(props: { me: Me; onSignOut: () => void }) {
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [done, setDone] = useState(false);
  const { me } = props;
  return (
    <section>
      <h1>Account</h1>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{me.name}</dd>
        <dt>Email</dt>
        <dd>{me.email}</dd>
        <dt>Teams</dt>
        <dd>{me.teams.map((t) => `${t.name} (${t.role})`).join(", ") || "—"}</dd>
        <dt>Host apps</dt>
        <dd>{me.hostApps.map((h) => `${h.name} (${h.role})`).join(", ") || "—"}</dd>
        {me.isPlatformAdmin && (
          <>
            <dt>Platform</dt>
            <dd>platform admin</dd>
          </>
        )}
      </dl>
      <h2>Change password</h2>
      <form
        aria-label="Change password"
        onSubmit={async (e: Event) => {
          e.preventDefault();
          const el = e.target as HTMLFormElement;
          const form = new FormData(el);
          try {
            const session = await api<Session>("POST", "/v1/auth/password", {
              currentPassword: String(form.get("currentPassword") ?? ""),
              newPassword: String(form.get("newPassword") ?? ""),
            });
            // Changing the password ends the other sessions; this one continues with a new token.
            setToken(session.token);
            setError(undefined);
            setDone(true);
            el.reset();
          } catch (err) {
            setDone(false);
            setError(asApiError(err));
          }
        }}
      >
        <Field
          name="currentPassword"
          label="Current password"
          type="password"
          autocomplete="current-password"
          required
          error={error}
        />
        <Field
          name="newPassword"
          label="New password"
          type="password"
          autocomplete="new-password"
          required
          error={error}
        />
        <ErrorNote error={error} fields={["currentPassword", "newPassword"]} />
        {done && <Notice>Password changed. Other sessions were signed out.</Notice>}
        <button type="submit" class="primary">
          Change password
        </button>
      </form>
      <h2>Session</h2>
      <button type="button" onClick={props.onSignOut}>
        Sign out
      </button>
    </section>
  );
}
