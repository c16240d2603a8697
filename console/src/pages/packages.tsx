/**
 * Increments and offline packages (PRODUCT.md D3, D4): the incremental package list with states
 * and share of the full package, the .apkg download of the online version (seed: "Offline
 * Applet", named {miniAppId}_{miniAppVersion}.apkg), and package encryption (PRODUCT.md S3).
 */
import { useState } from "hono/jsx/dom";
import { type ApiError, api, download } from "../api";
import { canWrite, isTeamAdmin } from "../session";
import type { Increment, Me, MiniProgram } from "../types";
import { asApiError, ErrorNote, fmtBytes, fmtDate, Loading, Notice, StatusBadge, useLoad } from "../ui";

export function PackagesPage(props: { me: Me; appId: string; mp: MiniProgram }) {
  const { me, appId, mp } = props;
  const base = `/v1/mini-programs/${appId}`;
  const increments = useLoad(() => api<{ increments: Increment[] }>("GET", `${base}/increments`), [appId]);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [notice, setNotice] = useState("");
  const hostApps = mp.bindings.filter((b) => b.status === "approved");
  return (
    <section>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={error} />
      <h2>Offline package</h2>
      {mp.onlineVersion ? (
        <form
          class="inline"
          aria-label="Download the offline package"
          onSubmit={async (e: Event) => {
            e.preventDefault();
            const hostAppId = String(new FormData(e.target as HTMLFormElement).get("hostAppId") ?? "");
            try {
              const name = await download(
                `${base}/offline-package?hostAppId=${encodeURIComponent(hostAppId)}`,
                `${appId}_${mp.onlineVersion}.apkg`,
              );
              setError(undefined);
              setNotice(`Downloaded ${name}. Keep the file name: the host app looks it up by it.`);
            } catch (err) {
              setError(asApiError(err));
            }
          }}
        >
          <label for="f-apkg-host">Host app that ships it</label>
          <select id="f-apkg-host" name="hostAppId">
            {hostApps.map((h) => (
              <option value={h.hostAppId}>{h.hostAppName}</option>
            ))}
          </select>
          <button type="submit" class="primary">
            Download {appId}_{mp.onlineVersion}.apkg
          </button>
        </form>
      ) : (
        <p>Only an online mini program has an offline package: publish a version first.</p>
      )}
      <p class="hint">
        Offline mini programs follow releases: when the online version differs from the preset, clients pull
        the online one; a delisted mini program's preset cannot be opened.
      </p>
      <h2>Incremental packages</h2>
      {!increments.data ? (
        <Loading error={increments.error} />
      ) : increments.data.increments.length === 0 ? (
        <p>No incremental package yet: they are built when a version is approved or released.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">From → to</th>
                <th scope="col">State</th>
                <th scope="col">Size</th>
                <th scope="col">Share of full</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {increments.data.increments.map((i) => (
                <tr>
                  <td>
                    {i.fromVersion} → {i.toVersion}
                  </td>
                  <td>
                    <StatusBadge status={i.status} />
                    {i.detail ? <small class="block">{i.detail}</small> : null}
                  </td>
                  <td>
                    {fmtBytes(i.size)} of {fmtBytes(i.fullSize)}
                  </td>
                  <td>{i.share == null ? "—" : `${(i.share * 100).toFixed(1)}%`}</td>
                  <td>{fmtDate(i.createdAt)}</td>
                  <td>
                    {i.status === "failed" && canWrite(me, mp.teamId) && (
                      <button
                        type="button"
                        class="small"
                        onClick={async () => {
                          try {
                            await api("POST", `${base}/increments/${i.id}/retry`);
                            increments.reload();
                          } catch (err) {
                            setError(asApiError(err));
                          }
                        }}
                      >
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Encryption appId={appId} admin={isTeamAdmin(me, mp.teamId)} />
    </section>
  );
}

function Encryption(props: { appId: string; admin: boolean }) {
  const state = useLoad(
    () => api<{ enabled: boolean }>("GET", `/v1/mini-programs/${props.appId}/encryption`),
    [props.appId],
  );
  const [error, setError] = useState<ApiError | undefined>(undefined);
  return (
    <>
      <h2>Package encryption</h2>
      {!state.data ? (
        <Loading error={state.error} />
      ) : (
        <div>
          <p>
            New versions are stored and delivered{" "}
            <strong>{state.data.enabled ? "encrypted (AES-256-GCM)" : "unencrypted"}</strong>.
          </p>
          {props.admin && (
            <button
              type="button"
              onClick={async () => {
                try {
                  await api("PUT", `/v1/mini-programs/${props.appId}/encryption`, {
                    enabled: !state.data?.enabled,
                  });
                  setError(undefined);
                  state.reload();
                } catch (err) {
                  setError(asApiError(err));
                }
              }}
            >
              {state.data.enabled ? "Turn encryption off" : "Turn encryption on"}
            </button>
          )}
          <ErrorNote error={error} />
        </div>
      )}
    </>
  );
}
