// The session and every REST call of the web UI: POST /v1/auth/login (and /login/mfa),
// /v1/auth/refresh before the access token expires, /v1/auth/logout; calls carry the bearer token.
// Tokens live in sessionStorage: one tab, gone when it closes; never in a URL or a cookie.

const KEY = "aria.session";
const REFRESH_LEAD_MS = 60_000; // refresh a minute before expiry (a fifth of a short-lived token)
const listeners = new Set();
let session = load();
let refreshing = null;
let timer = null;

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.problem = problem || {};
    // the stable slug of an RFC 9457 problem type ("https://.../shape-version-conflict")
    this.type = String(this.problem.type || "").split("/").pop();
  }
}

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return s && s.access && s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(next);
}

export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function currentSession() {
  return session;
}

export function accessToken() {
  return session ? session.access : null;
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText };
  }
}

function adopt(body, username) {
  const ttl = Math.max(5, Number(body.expires_in) || 300) * 1000;
  save({ access: body.access_token, refresh: body.refresh_token || null, username,
         ttl, expiresAt: Date.now() + ttl });
}

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST", credentials: "omit", cache: "no-store",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res.status === 204 ? null : res.json();
}

// Tokens, or {mfa: challenge} when the user has a second factor.
export async function login(username, password, tenant) {
  const body = await post("/v1/auth/login", { username, password, tenant: tenant || "" });
  if (body.mfa_required) return { mfa: body.challenge };
  adopt(body, username);
  return { ok: true };
}

export async function loginMfa(challenge, code, username) {
  adopt(await post("/v1/auth/login/mfa", { challenge, code }), username);
}

export function refresh() {
  if (!session || !session.refresh) return Promise.reject(new ApiError(401, { title: "Session ended" }));
  if (!refreshing) {
    const spent = session.refresh;
    refreshing = post("/v1/auth/refresh", { refresh_token: spent })
      .then((body) => {
        // logged out meanwhile (or another refresh won): these tokens are not kept; ending them is
        // logout()'s job, which waits for this refresh and sends its refresh token
        if (session && session.refresh === spent) adopt(body, session.username);
        return body;
      })
      .catch((err) => {
        // a refused refresh token (spent, revoked, expired) ends the session; a network error does not
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) save(null);
        throw err;
      })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

function schedule() {
  clearTimeout(timer);
  if (!session || !session.refresh) return;
  const lead = Math.min(REFRESH_LEAD_MS, session.ttl / 5);
  const delay = Math.max(1_000, session.expiresAt - lead - Date.now());
  timer = setTimeout(() => refresh().catch(() => {}), delay);
}

export async function logout() {
  // a refresh in flight spends the current refresh token: end the session with the newest one
  let spent = session && session.refresh;
  const inFlight = refreshing;
  save(null);
  if (inFlight) {
    try {
      const body = await inFlight;
      if (body && body.refresh_token) spent = body.refresh_token;
    } catch {
      // the refresh was refused: the session it belonged to has ended already
    }
  }
  if (spent) await post("/v1/auth/logout", { refresh_token: spent });
}

async function send(method, path, body, accept) {
  const headers = { Accept: accept, Authorization: `Bearer ${accessToken()}` };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

// One call as the logged-in user: JSON back (null for 204), or the Response with {raw: true}.
// A 401 refreshes once and retries; a second 401 ends the session.
export async function api(method, path, body, { raw = false, accept = "application/json" } = {}) {
  if (!session) throw new ApiError(401, { title: "Not logged in" });
  if (session.expiresAt - Date.now() < 5_000 && session.refresh) await refresh();
  let res = await send(method, path, body, accept);
  if (res.status === 401 && session && session.refresh) {
    await refresh();
    res = await send(method, path, body, accept);
  }
  if (res.status === 401) save(null);
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  if (raw) return res;
  return res.status === 204 ? null : res.json();
}

schedule();
