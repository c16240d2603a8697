/**
 * The console's page registry. A feature adds its page here in the same change that adds its API
 * (issue 13): a top-level page is one PAGES entry (shown in the navigation when it has `nav`),
 * a mini program page is one APP_TABS entry (a tab on every mini program), e.g.
 *   { id: "domains", label: "Domains", paths: ["domains"], render: (c) => <DomainsPage {...c} /> }
 */
import type { JSX } from "hono/jsx/dom/jsx-runtime";
import { PlatformPage, TeamPage } from "./pages/admin";
import { AppSecretPage } from "./pages/app-secret";
import { HostAppPermissionsPage, PermissionsPage } from "./pages/applications";
import { AccountPage } from "./pages/auth";
import { DomainsPage } from "./pages/domains";
import { ExplainPage } from "./pages/explain";
import { GrayscaleList, NewTaskPage, TaskPage } from "./pages/grayscale";
import { HostAppKeysPage } from "./pages/host-app-keys";
import { HostAppsPage } from "./pages/host-apps";
import { LogsPage } from "./pages/logs";
import { MessageWebhookPage } from "./pages/message-webhook";
import { MessagesPage } from "./pages/messages";
import { DetailsPage, MiniProgramList } from "./pages/mini-programs";
import { PackagesPage } from "./pages/packages";
import { PrivacyPage } from "./pages/privacy";
import { ChangeLogPage, SigningKeysPage, TokensPage } from "./pages/security";
import { SwitchesPage } from "./pages/switches";
import { VersionsPage } from "./pages/versions";
import type { Me, MiniProgram } from "./types";

export interface PageContext {
  me: Me;
  /** the team switcher's choice ("" = all my teams) */
  teamId: string;
  params: Record<string, string>;
  query: URLSearchParams;
  signOut: () => void;
}
export interface AppContext extends PageContext {
  appId: string;
  mp: MiniProgram;
  reload: () => void;
}

export interface PageDef {
  id: string;
  path: string;
  title: string;
  /** label in the top navigation; pages without one are reached by links */
  nav?: string;
  /** shown only to users who may use it */
  visible?: (me: Me) => boolean;
  render: (c: PageContext) => JSX.Element;
}

export interface AppTab {
  id: string;
  label: string;
  /** paths under #/apps/<appId>/ this tab answers ("" is the details page) */
  paths: string[];
  render: (c: AppContext) => JSX.Element;
}

export const PAGES: PageDef[] = [
  {
    id: "mini-programs",
    path: "/",
    title: "Mini programs",
    nav: "Mini programs",
    render: (c) => <MiniProgramList me={c.me} teamId={c.teamId} />,
  },
  {
    id: "host-apps",
    path: "/host-apps",
    title: "Host apps",
    nav: "Host apps",
    visible: (me) => me.isPlatformAdmin || me.hostApps.length > 0,
    render: (c) => <HostAppsPage me={c.me} />,
  },
  {
    id: "host-app-permissions",
    path: "/host-apps/:hostAppId/permissions",
    title: "Host app permissions",
    visible: (me) => me.isPlatformAdmin || me.hostApps.length > 0,
    render: (c) => <HostAppPermissionsPage me={c.me} hostAppId={c.params.hostAppId ?? ""} />,
  },
  {
    id: "host-app-keys",
    path: "/host-apps/:hostAppId/keys",
    title: "User-assertion keys",
    visible: (me) => me.isPlatformAdmin || me.hostApps.length > 0,
    render: (c) => <HostAppKeysPage me={c.me} hostAppId={c.params.hostAppId ?? ""} />,
  },
  {
    id: "host-app-message-webhook",
    path: "/host-apps/:hostAppId/messages",
    title: "Message push webhook",
    visible: (me) => me.isPlatformAdmin || me.hostApps.length > 0,
    render: (c) => <MessageWebhookPage me={c.me} hostAppId={c.params.hostAppId ?? ""} />,
  },
  {
    id: "team",
    path: "/team",
    title: "Team",
    nav: "Team",
    visible: (me) => me.teams.length > 0,
    render: (c) => <TeamPage me={c.me} teamId={c.teamId} />,
  },
  {
    id: "signing-keys",
    path: "/signing-keys",
    title: "Signing keys",
    nav: "Signing keys",
    visible: (me) => me.teams.length > 0,
    render: (c) => <SigningKeysPage me={c.me} teamId={c.teamId} />,
  },
  {
    id: "change-log",
    path: "/change-log",
    title: "Change log",
    nav: "Change log",
    visible: (me) => me.isPlatformAdmin || me.teams.length > 0,
    render: (c) => <ChangeLogPage me={c.me} teamId={c.teamId} />,
  },
  {
    id: "platform",
    path: "/platform",
    title: "Platform",
    nav: "Platform",
    visible: (me) => me.isPlatformAdmin,
    render: () => <PlatformPage />,
  },
  { id: "tokens", path: "/tokens", title: "API tokens", nav: "API tokens", render: () => <TokensPage /> },
  {
    id: "account",
    path: "/account",
    title: "Account",
    nav: "Account",
    render: (c) => <AccountPage me={c.me} onSignOut={c.signOut} />,
  },
];

export const APP_TABS: AppTab[] = [
  { id: "details", label: "Details", paths: [""], render: (c) => <DetailsPage {...c} /> },
  { id: "versions", label: "Versions", paths: ["versions"], render: (c) => <VersionsPage {...c} /> },
  {
    id: "grayscale",
    label: "Grayscale",
    paths: ["grayscale", "grayscale/new", "grayscale/:taskId"],
    render: (c) =>
      c.params.taskId ? (
        <TaskPage
          me={c.me}
          appId={c.appId}
          mp={c.mp}
          taskId={c.params.taskId}
          created={c.query.get("created") === "1"}
        />
      ) : c.params.sub === "new" ? (
        <NewTaskPage me={c.me} appId={c.appId} mp={c.mp} />
      ) : (
        <GrayscaleList me={c.me} appId={c.appId} mp={c.mp} />
      ),
  },
  {
    id: "explain",
    label: "Explain",
    paths: ["explain"],
    render: (c) => <ExplainPage appId={c.appId} mp={c.mp} />,
  },
  { id: "logs", label: "Logs", paths: ["logs"], render: (c) => <LogsPage {...c} /> },
  { id: "packages", label: "Packages", paths: ["packages"], render: (c) => <PackagesPage {...c} /> },
  { id: "domains", label: "Domains", paths: ["domains"], render: (c) => <DomainsPage {...c} /> },
  {
    id: "permissions",
    label: "Permissions",
    paths: ["permissions"],
    render: (c) => <PermissionsPage {...c} />,
  },
  { id: "switches", label: "Switches", paths: ["switches"], render: (c) => <SwitchesPage {...c} /> },
  { id: "privacy", label: "Privacy", paths: ["privacy"], render: (c) => <PrivacyPage {...c} /> },
  { id: "messages", label: "Messages", paths: ["messages"], render: (c) => <MessagesPage {...c} /> },
  // Team admins only (seed, "Key Management"); everyone else sees why on the tab itself.
  { id: "secret", label: "AppSecret", paths: ["secret"], render: (c) => <AppSecretPage {...c} /> },
];
