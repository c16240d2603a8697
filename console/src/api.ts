/**
 * The console's only way to the server: the public admin API (/v1, the same one the CLI and curl
 * use), with the session token kept in sessionStorage (gone when the tab closes). Errors keep the
 * API's one error shape (core/contracts/error.ts) so forms can put each issue next to its field.
 */

export interface Issue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
    /** the seed rule that refused the request (core/lifecycle.ts RefusalRule), when one did */
    readonly rule?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "graycast.token";
export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (token: string | null): void => {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
};

/** Called when the API says the session is gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => {};
export const whenSignedOut = (fn: () => void): void => {
  onSignedOut = fn;
};

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; issues?: Issue[]; rule?: string } } = {};
  try {
    body = await res.json();
  } catch {}
  const e = body.error ?? {};
  return new ApiError(
    res.status,
    e.code ?? "error",
    e.message ?? `HTTP ${res.status}`,
    e.issues ?? [],
    e.rule,
  );
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && path !== "/v1/auth/login") {
      setToken(null);
      onSignedOut();
    }
    throw err;
  }
  return (await res.json()) as T;
}

/**
 * A file upload with progress (fetch has no upload progress; XMLHttpRequest does). Answers like
 * `api`: the parsed JSON, or an ApiError with the API's message.
 */
export function upload<T>(
  method: string,
  path: string,
  file: Blob,
  contentType: string,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [k, v] of Object.entries(headers({ "content-type": contentType }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string; issues?: Issue[]; rule?: string } } & Record<
        string,
        unknown
      > = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body as T);
      } else {
        const e = body.error ?? {};
        if (xhr.status === 401) {
          setToken(null);
          onSignedOut();
        }
        reject(
          new ApiError(
            xhr.status,
            e.code ?? "error",
            e.message ?? `HTTP ${xhr.status}`,
            e.issues ?? [],
            e.rule,
          ),
        );
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload failed: no answer from the server"));
    xhr.send(file);
  });
}

/** Downloads an authenticated file (the token cannot ride on a plain link) and saves it. */
export async function download(path: string, fallbackName: string): Promise<string> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await errorOf(res);
  const disposition = res.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
