/**
 * The Graycast web console (PRODUCT.md O4; seed: the console chapters): a small single-page app
 * on Hono's JSX for the DOM, bundled by scripts/build-console.mjs and served by the admin Worker
 * as static assets. It talks only to the public admin API.
 */
import { render, useEffect, useState } from "hono/jsx/dom";
import { api, getToken, setToken, whenSignedOut } from "./api";
import { APP_TABS, type AppTab, PAGES, type PageContext } from "./pages";
import { SignIn } from "./pages/auth";
import { currentRoute, match, navigate } from "./router";
import { getTeamFilter, setTeamFilter } from "./session";
import type { Me, MiniProgram } from "./types";
import { Loading, StatusBadge, useLoad } from "./ui";

function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [teamId, setTeam] = useState(getTeamFilter());
  const route = useRoute();
  const loadMe = () => {
    if (!getToken()) return setMe(null);
    api<Me>("GET", "/v1/auth/me").then(setMe, () => setMe(null));
  };
  useEffect(() => {
    whenSignedOut(() => setMe(null));
    loadMe();
  }, []);
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={loadMe} />;
  const signOut = async () => {
    try {
      await api("POST", "/v1/auth/logout");
    } catch {}
    setToken(null);
    setMe(null);
    navigate("/");
  };
  const ctx: PageContext = { me, teamId, params: {}, query: route.query, signOut };
  const appPath = /^\/apps\/([^/]+)(?:\/(.*))?$/.exec(route.path);
  let content: unknown;
  let title = "Graycast";
  if (appPath) {
    content = <MiniProgramShell ctx={ctx} appId={decodeURIComponent(appPath[1]!)} rest={appPath[2] ?? ""} />;
  } else {
    const page = PAGES.find((p) => match(p.path, route.path) && (!p.visible || p.visible(me)));
    title = page?.title ?? "Not found";
    content = page ? (
      page.render({ ...ctx, params: match(page.path, route.path) ?? {} })
    ) : (
      <p>
        No such page. <a href="#/">Back to the mini programs</a>
      </p>
    );
  }
  document.title = `${title} · Graycast console`;
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href="#/">
          Graycast
        </a>
        <nav aria-label="Main">
          {PAGES.filter((p) => p.nav && (!p.visible || p.visible(me))).map((p) => (
            <a href={`#${p.path}`} aria-current={route.path === p.path ? "page" : undefined}>
              {p.nav}
            </a>
          ))}
        </nav>
        <div class="who">
          {me.teams.length > 0 && (
            <>
              <label for="team-switcher">Team</label>
              <select
                id="team-switcher"
                onChange={(e: Event) => {
                  const v = (e.target as HTMLSelectElement).value;
                  setTeamFilter(v);
                  setTeam(v);
                }}
              >
                <option value="" selected={teamId === ""}>
                  All my teams
                </option>
                {me.teams.map((t) => (
                  <option value={t.id} selected={teamId === t.id}>
                    {t.name}
                  </option>
                ))}
              </select>
            </>
          )}
          <span class="name">{me.name}</span>
          <button type="button" class="small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabindex={-1}>
        {content}
      </main>
    </>
  );
}

function tabFor(rest: string): { tab: AppTab; params: Record<string, string> } | undefined {
  for (const tab of APP_TABS)
    for (const p of tab.paths) {
      const params = p === "" ? (rest === "" ? {} : undefined) : match(p, rest);
      if (params) return { tab, params: p === "grayscale/new" ? { sub: "new" } : params };
    }
  return undefined;
}

function MiniProgramShell(props: { ctx: PageContext; appId: string; rest: string }) {
  const { ctx, appId } = props;
  const mp = useLoad(() => api<MiniProgram>("GET", `/v1/mini-programs/${appId}`), [appId]);
  const found = tabFor(props.rest.replace(/\/$/, ""));
  if (!mp.data) return <Loading error={mp.error} />;
  return (
    <section>
      <p class="crumbs">
        <a href="#/">Mini programs</a> /
      </p>
      <h1>
        {mp.data.name} <StatusBadge status={mp.data.listed ? "listed" : "delisted"} />
      </h1>
      <nav class="tabs" aria-label="Mini program">
        {APP_TABS.map((t) => (
          <a
            href={`#/apps/${appId}${t.paths[0] ? `/${t.paths[0]}` : ""}`}
            aria-current={found?.tab.id === t.id ? "page" : undefined}
          >
            {t.label}
          </a>
        ))}
      </nav>
      {found ? (
        found.tab.render({ ...ctx, params: found.params, appId, mp: mp.data, reload: mp.reload })
      ) : (
        <p>No such page.</p>
      )}
    </section>
  );
}

const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);
