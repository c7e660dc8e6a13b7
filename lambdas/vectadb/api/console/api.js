// The API client: the key (sessionStorage), URLs relative to /ui/, errors as ApiError.
//
// In AWS the console lives under https://<api>/<stage>/ui/, so every URL is made relative to the
// page (../api/v1/...), never absolute.

const KEY_STORE = "vectadb.key";

export function getKey() {
  try {
    return sessionStorage.getItem(KEY_STORE) || "";
  } catch {
    return "";
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORE, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(KEY_STORE);
  } catch {
    /* storage unavailable: nothing kept */
  }
}

/** A `#key=<key>` fragment (the sign-in link `make dev` prints) moves into sessionStorage and
 * leaves the address bar (and the history entry) at once. Returns whether a key was taken. */
export function takeKeyFromFragment() {
  const hash = location.hash.replace(/^#\/?/, "");
  if (!hash.startsWith("key=")) return false;
  const params = new URLSearchParams(hash);
  const key = (params.get("key") || "").trim();
  const next = params.get("next");
  const target = next && next.startsWith("/") ? `#${next}` : "#/overview";
  history.replaceState(null, "", location.pathname + location.search + target);
  if (!key) return false;
  setKey(key);
  return true;
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
    this.details = details;
  }
}

/** Listeners told when the API refuses the key (401/403): the app goes back to sign-in. */
const refusedListeners = new Set();
export function onKeyRefused(fn) {
  refusedListeners.add(fn);
  return () => refusedListeners.delete(fn);
}

export function apiUrl(path, query) {
  const url = new URL(`../api/v1/${path}`, location.href);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

/** One API call. `path` is under /api/v1/ (e.g. "traces"); path segments must be encoded by the
 * caller (use `seg`). Resolves with the parsed JSON; rejects with ApiError. */
export async function api(path, { method = "GET", query, body, signal, key } = {}) {
  const headers = { Authorization: `Bearer ${key ?? getKey()}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network_error", "The API could not be reached. Check the connection and try again.");
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data && data.error ? data.error : {};
    const error = new ApiError(response.status, err.code, err.message || response.statusText, err.details);
    if ((response.status === 401 || response.status === 403) && key === undefined) {
      for (const fn of refusedListeners) fn(error);
    }
    throw error;
  }
  return data;
}

/** A path segment, encoded. */
export const seg = (value) => encodeURIComponent(value);

/** GET /health (public; no key). */
export async function health() {
  const response = await fetch(new URL("../health", location.href), { cache: "no-store", credentials: "omit" });
  return response.json();
}

/** Checks a key before keeping it: any authenticated read answers 401/403 for a refused key. */
export async function checkKey(key) {
  await api("traces", { query: { limit: 1 }, key });
}

/** Runs `task(item)` for every item, at most `width` at a time; results in input order. */
export async function pool(items, width, task) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      out[index] = await task(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}
