/**
 * Profiles and credentials, in the user's config folder ($XDG_CONFIG_HOME/graycast, else
 * ~/.config/graycast): config.json names the profiles and their server URLs; credentials.json
 * (mode 0600, folder 0700) holds each profile's token. Tokens are never printed.
 *
 * Which server: --api-url, else GRAYCAST_API_URL, else the profile's URL, else the local stack.
 * Which token: GRAYCAST_TOKEN (CI: an API token), else the profile's stored one.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./errors";

export const DEFAULT_API_URL = "http://127.0.0.1:8788";
export const DEFAULT_PROFILE = "default";

export interface Profile {
  apiUrl: string;
}
export interface ConfigFile {
  current: string;
  profiles: Record<string, Profile>;
}
export interface Credential {
  token: string;
  kind: "session" | "api-token";
  email?: string;
  expiresAt?: number | null;
}
interface CredentialsFile {
  profiles: Record<string, Credential>;
}

export function configDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "graycast");
}

function readJson<T>(path: string, fallback: T): T {
  if (!existsSync(path)) return fallback;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    throw new UsageError(`${path} is not valid JSON; fix or remove it`);
  }
}

/** Written to a temporary file first, then renamed: a crash never leaves half a file. */
function writeJson(path: string, value: unknown, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Config {
  readonly dir: string;
  constructor(readonly env: NodeJS.ProcessEnv) {
    this.dir = configDir(env);
  }
  private get configPath() {
    return join(this.dir, "config.json");
  }
  get credentialsPath() {
    return join(this.dir, "credentials.json");
  }
  private ensureDir() {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  read(): ConfigFile {
    const c = readJson<Partial<ConfigFile>>(this.configPath, {});
    return { current: c.current ?? DEFAULT_PROFILE, profiles: c.profiles ?? {} };
  }
  write(c: ConfigFile): void {
    this.ensureDir();
    writeJson(this.configPath, c, 0o644);
  }

  /** The profile a command uses: --profile, else GRAYCAST_PROFILE, else the current one. */
  profileName(flag?: string): string {
    const name = flag ?? this.env.GRAYCAST_PROFILE ?? this.read().current;
    if (!PROFILE_NAME.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a profile name`);
    return name;
  }

  apiUrl(profile: string, flag?: string): string {
    const url = flag ?? this.env.GRAYCAST_API_URL ?? this.read().profiles[profile]?.apiUrl ?? DEFAULT_API_URL;
    try {
      const u = new URL(url);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    } catch {
      throw new UsageError(`${JSON.stringify(url)} is not an http(s) URL`);
    }
    return url.replace(/\/+$/, "");
  }

  setProfile(name: string, profile: Profile, makeCurrent = false): void {
    if (!PROFILE_NAME.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a profile name`);
    const c = this.read();
    c.profiles[name] = profile;
    if (makeCurrent) c.current = name;
    this.write(c);
  }

  removeProfile(name: string): boolean {
    const c = this.read();
    const had = name in c.profiles;
    delete c.profiles[name];
    if (c.current === name) c.current = DEFAULT_PROFILE;
    this.write(c);
    this.clearCredential(name);
    return had;
  }

  useProfile(name: string): void {
    const c = this.read();
    if (!(name in c.profiles) && name !== DEFAULT_PROFILE)
      throw new UsageError(`no profile ${JSON.stringify(name)}`, "add it with `graycast profiles add`");
    c.current = name;
    this.write(c);
  }

  private readCredentials(): CredentialsFile {
    const c = readJson<Partial<CredentialsFile>>(this.credentialsPath, {});
    return { profiles: c.profiles ?? {} };
  }

  credential(profile: string): Credential | undefined {
    return this.readCredentials().profiles[profile];
  }

  saveCredential(profile: string, credential: Credential): void {
    this.ensureDir();
    const c = this.readCredentials();
    c.profiles[profile] = credential;
    writeJson(this.credentialsPath, c, 0o600);
  }

  clearCredential(profile: string): boolean {
    const c = this.readCredentials();
    if (!(profile in c.profiles)) return false;
    delete c.profiles[profile];
    writeJson(this.credentialsPath, c, 0o600);
    return true;
  }
}
