// A tiny admin/edge API client for the local scripts (Node's fetch).
import { zipSync } from "fflate";
import { ADMIN_URL, EDGE_URL } from "./local.mjs";

/**
 * @typedef {object} CallOptions
 * @property {string} [token] a session or API token, sent as a bearer token
 * @property {unknown} [json] a body sent as JSON
 * @property {RequestInit["body"]} [body] a raw body (with `contentType`)
 * @property {string} [contentType]
 */

/**
 * One HTTP call; `data` is the parsed JSON answer (its text when it is not JSON).
 * @param {string} base
 * @param {string} method
 * @param {string} path
 * @param {CallOptions} [options]
 */
export async function call(base, method, path, { token, json, body, contentType } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers["content-type"] = "application/json";
  else if (contentType) headers["content-type"] = contentType;
  const res = await fetch(base + path, {
    method,
    headers,
    body: json !== undefined ? JSON.stringify(json) : body,
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  return { status: res.status, data, headers: res.headers };
}

/**
 * Calls the admin API and throws with the error body unless the status is 2xx.
 * @param {string} method
 * @param {string} path
 * @param {CallOptions} [options]
 */
export async function admin(method, path, options) {
  const r = await call(ADMIN_URL, method, path, options);
  if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {CallOptions} [options]
 */
export const edge = (method, path, options) => call(EDGE_URL, method, path, options);

/**
 * A session token for a user.
 * @param {string} email
 * @param {string} password
 * @returns {Promise<string>}
 */
export async function login(email, password) {
  return (await admin("POST", "/v1/auth/login", { json: { email, password } })).token;
}

/**
 * A small but real-looking mini program package for `version`.
 * @param {string} version
 */
export function demoPackage(version) {
  const enc = new TextEncoder();
  return zipSync({
    "app.json": enc.encode(
      JSON.stringify(
        {
          pages: ["pages/index/index", "pages/cart/cart"],
          window: { navigationBarTitleText: "Demo Mall" },
          version,
        },
        null,
        2,
      ),
    ),
    "app.js": enc.encode(`App({ onLaunch() { console.log("Demo Mall ${version}"); } });\n`),
    "pages/index/index.js": enc.encode(`Page({ data: { banner: "Welcome to ${version}" } });\n`),
    "pages/index/index.wxml": enc.encode(`<view class="banner">{{banner}}</view>\n`),
    "pages/cart/cart.js": enc.encode(`Page({ data: { items: [] } });\n`),
    "pages/cart/cart.wxml": enc.encode(`<view wx:for="{{items}}">{{item.name}}</view>\n`),
  });
}

/**
 * @param {string} token
 * @param {string} appId
 * @param {string} version
 * @param {string} [description]
 */
export async function uploadVersion(token, appId, version, description = "") {
  return admin(
    "POST",
    `/v1/mini-programs/${appId}/versions?version=${version}&description=${encodeURIComponent(description)}`,
    { token, body: demoPackage(version), contentType: "application/zip" },
  );
}
