// The Aria web UI: a single page over the public REST API and the live channel.
// Views (location.hash): #/characters, #/characters/<id>, #/dashboard, #/monitor (monitor.js), #/docs;
// #/login when no session.
// Each view renders from a <template> of index.html and returns its cleanup (subscriptions, blob URLs).

import * as api from "./api.js";
import { LineChart, parseProm } from "./charts.js";
import { Live } from "./live.js";
import { monitorView } from "./monitor.js";
import { announce, byId, clear, clone, el, setText, when } from "./dom.js";

const main = document.getElementById("main");
const live = new Live(api.accessToken, api.refresh, (state) => {
  const node = document.getElementById("live-state");
  node.dataset.state = state;
  node.textContent = state === "open" ? "live" : state === "connecting" ? "connecting…" : "offline";
});
let cleanup = null;
let loggedIn = Boolean(api.currentSession());
let firstRender = true;

function routeOf(hash) {
  const parts = (hash || "").replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "characters" && parts[1]) {
    try {
      return { view: "character", id: decodeURIComponent(parts[1]) };
    } catch {
      return { view: "characters" };  // a malformed link (#/characters/%E0) shows the list, not a blank page
    }
  }
  if (["characters", "dashboard", "monitor", "docs", "login"].includes(parts[0])) return { view: parts[0] };
  return { view: "characters" };
}

function problemText(err) {
  if (err instanceof api.ApiError) {
    if (err.status === 403) return `Not allowed: ${err.message}`;
    return err.message;
  }
  return `Network error: ${err && err.message ? err.message : err}`;
}

function chrome(session) {
  document.getElementById("nav").hidden = !session;
  document.getElementById("session").hidden = !session;
  setText(document.getElementById("who"), session ? session.username : "");
}

// -- the header's API budget: the caller's own rate limits, from GET /v1/interface/limits -------------
const BUDGET_MS = 15_000;
let budgetTimer = null;

async function budget() {
  const node = document.getElementById("budget");
  try {
    const b = await api.api("GET", "/v1/interface/limits");
    if (!b.enabled || !b.limited) {
      node.dataset.remaining = "unlimited";
      setText(node, "API budget: unlimited");
      return;
    }
    // the route closest to its limit (the answer lists the tightest first)
    const tight = (b.routes || [])[0] || { remaining: b.default.limit, limit: b.default.limit,
                                           window_s: b.default.window_s, route: "any route", reset_s: 0 };
    node.dataset.remaining = String(tight.remaining);
    node.title = `Your API budget: ${tight.remaining} of ${tight.limit} requests left per ${tight.window_s} s on ` +
      `${tight.route}` + (tight.reset_s ? `; the window frees up in ${tight.reset_s} s` : "");
    setText(node, `API budget: ${tight.remaining}/${tight.limit} left`);
  } catch {
    setText(node, "");
  }
}

function budgetLine(on) {
  clearInterval(budgetTimer);
  budgetTimer = null;
  if (!on) return;
  budget();
  budgetTimer = setInterval(budget, BUDGET_MS);
}

function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const session = api.currentSession();
  chrome(session);
  const route = routeOf(location.hash);
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.dataset.view === (route.view === "character" ? "characters" : route.view);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!session) {
    budgetLine(false);
    cleanup = loginView();
  } else {
    live.start();
    if (!budgetTimer) budgetLine(true);
    const views = { characters: charactersView, character: characterView, dashboard: dashboardView,
                    monitor: () => monitorView(main, problemText), docs: docsView, login: charactersView };
    cleanup = views[route.view](route.id);
  }
  // after a navigation, move focus to the new view's heading region (not on the first load)
  if (!firstRender) main.focus({ preventScroll: false });
  firstRender = false;
}

// -- login --------------------------------------------------------------------------------------
function loginView() {
  const view = clone("tpl-login");
  main.replaceChildren(view);
  document.title = "Log in · Aria";
  const form = byId(view, "login-form");
  const mfa = byId(view, "mfa-form");
  let challenge = null;
  let username = "";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = byId(view, "login-error");
    setText(error, "");
    username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      setText(error, "Enter your username and password.");
      return;
    }
    try {
      const out = await api.login(username, password, form.elements.tenant.value.trim());
      if (out.mfa) {
        challenge = out.mfa;
        form.hidden = true;
        mfa.hidden = false;
        mfa.elements.code.focus();
      }
    } catch (err) {
      setText(error, err.status === 401 ? "Wrong username or password." : problemText(err));
      form.elements.password.focus();
    }
  });
  mfa.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api.loginMfa(challenge, mfa.elements.code.value.trim(), username);
    } catch (err) {
      setText(byId(view, "mfa-error"), problemText(err));
    }
  });
  form.elements.username.focus();
  return () => {};
}

// -- characters -----------------------------------------------------------------------------------
function charactersView() {
  const view = clone("tpl-characters");
  main.replaceChildren(view);
  document.title = "Characters · Aria";
  const rows = byId(view, "char-rows");
  const more = byId(view, "more");
  let cursor = null;
  let alive = true;

  api.api("GET", "/v1/shape/templates").then((templates) => {
    const select = byId(view, "create-template");
    for (const t of templates) select.append(el("option", { value: t.name, text: t.name }));
  }).catch((err) => setText(byId(view, "create-error"), `Templates unavailable: ${problemText(err)}`));

  async function page() {
    const query = new URLSearchParams({ limit: "50" });
    if (cursor) query.set("after", cursor);
    try {
      const body = await api.api("GET", `/v1/shape/characters?${query}`);
      if (!alive) return;
      for (const c of body.items) rows.append(characterRow(c));
      cursor = body.next;
      more.hidden = !cursor;
      byId(view, "char-empty").hidden = rows.children.length > 0;
    } catch (err) {
      setText(byId(view, "list-error"), `Characters unavailable: ${problemText(err)}`);
    }
  }
  more.addEventListener("click", page);

  const form = byId(view, "create-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = byId(view, "create-error");
    setText(error, "");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const made = await api.api("POST", "/v1/shape/characters", {
        template: form.elements.template.value, name: form.elements.name.value.trim(),
        describe: form.elements.describe.checked, change: "created in the web UI" });
      announce(`Created ${made.character.name || "a character"}`);
      location.hash = `#/characters/${made.id}`;
    } catch (err) {
      setText(error, problemText(err));
    } finally {
      button.disabled = false;
    }
  });
  page();
  return () => { alive = false; };
}

function characterRow(c) {
  return el("tr", { dataset: { id: c.id } },
    el("td", {}, el("a", { href: `#/characters/${c.id}`, class: "char-link", text: c.name || "(unnamed)" })),
    el("td", { text: c.template, "data-label": "Template" }),
    el("td", { text: c.version, "data-label": "Version" }),
    el("td", { text: when(c.updated_at), "data-label": "Updated" }),
    el("td", { text: c.owner || "", "data-label": "Owner" }));
}

function body(c) {
  // exactly the fields of a character (the portrait route refuses unknown ones)
  return { template: c.template, name: c.name || "", traits: c.traits || [], attributes: c.attributes || {},
           description: c.description || "" };
}

function parseValue(text) {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number.parseInt(t, 10);
  if (/^-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number.parseFloat(t);
  return t;
}

function sameValue(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function characterView(id) {
  const view = clone("tpl-character");
  main.replaceChildren(view);
  const q = (name) => byId(view, name);
  const form = q("edit-form");
  let current = null; // the newest version known
  let base = null;    // the version the edit form holds
  let dirty = false;
  let history = [];
  let portraitUrl = null;
  let picked = false; // the user chose versions to compare: a new version does not move them
  let alive = true;

  function notice(text) {
    const box = q("char-notice");
    setText(box, text);
    box.hidden = !text;
  }

  function show(rec) {
    current = rec;
    const c = rec.character;
    setText(q("char-name"), c.name || "(unnamed)");
    document.title = `${c.name || "Character"} · Aria`;
    setText(q("char-meta"), `Template ${c.template} · version ${rec.version}` +
      (rec.created_at ? ` · ${when(rec.created_at)}` : ""));
    setText(q("char-description"), c.description || "No description yet.");
    clear(q("char-traits")).append(...(c.traits || []).map((t) => el("li", { text: t })));
    const dl = clear(q("char-attributes"));
    for (const [key, value] of Object.entries(c.attributes || {})) dl.append(el("dt", { text: key }), el("dd", { text: value }));
    portrait(c);
  }

  async function portrait(c) {
    try {
      const res = await api.api("POST", "/v1/shape/characters/portrait", body(c), { raw: true, accept: "image/svg+xml" });
      // an <img> from a blob URL: the SVG is drawn, never run (no script, no links, no DOM access)
      const blob = new Blob([await res.arrayBuffer()], { type: "image/svg+xml" });
      if (!alive) return;
      const img = q("portrait");
      if (portraitUrl) URL.revokeObjectURL(portraitUrl);
      portraitUrl = URL.createObjectURL(blob);
      img.src = portraitUrl;
      img.alt = `Portrait of ${c.name || "the character"}`;
      img.hidden = false;
    } catch {
      q("portrait").hidden = true;
    }
  }

  function fill(rec) {
    base = rec;
    const c = rec.character;
    form.elements.name.value = c.name || "";
    form.elements.description.value = c.description || "";
    form.elements.traits.value = (c.traits || []).join("\n");
    form.elements.change.value = "";
    const box = q("edit-attributes");
    box.replaceChildren(el("legend", { text: "Attributes" }));
    Object.entries(c.attributes || {}).forEach(([key, value], i) => {
      box.append(el("p", { class: "field" },
        el("label", { for: `edit-attr-${i}`, text: key }),
        el("input", { id: `edit-attr-${i}`, name: `attr-${i}`, value: String(value), dataset: { key } })));
    });
    dirty = false;
  }

  function edits() {
    const was = base.character;
    const out = {};
    const name = form.elements.name.value.trim();
    if (name !== (was.name || "")) out.name = name;
    const description = form.elements.description.value;
    if (description !== (was.description || "")) out.description = description;
    const traits = [...new Set(form.elements.traits.value.split("\n").map((t) => t.trim()).filter(Boolean))];
    const old = was.traits || [];
    const add = traits.filter((t) => !old.includes(t));
    const remove = old.filter((t) => !traits.includes(t));
    if (add.length) out.add_traits = add;
    if (remove.length) out.remove_traits = remove;
    const attributes = {};
    for (const input of q("edit-attributes").querySelectorAll("input[data-key]")) {
      const value = parseValue(input.value);
      if (!sameValue(value, (was.attributes || {})[input.dataset.key])) attributes[input.dataset.key] = value;
    }
    if (Object.keys(attributes).length) out.attributes = attributes;
    return out;
  }

  function summary(change) {
    return Object.entries(change).map(([k, v]) => `${k.replace("_", " ")}: ${Array.isArray(v) ? v.join(", ") :
      typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  }

  async function reload() {
    const rec = await api.api("GET", `/v1/shape/characters/${encodeURIComponent(id)}`);
    if (!alive) return;
    show(rec);
    if (!dirty) fill(rec);
    await loadHistory();
  }

  async function loadHistory() {
    try {
      history = await api.api("GET", `/v1/shape/characters/${encodeURIComponent(id)}/versions`);
    } catch {
      return;
    }
    if (!alive) return;
    history.sort((a, b) => a.version - b.version);
    clear(q("history")).append(...[...history].reverse().map((v) => el("li", { dataset: { version: v.version } },
      el("strong", { text: `Version ${v.version}` }), ` · ${when(v.created_at)}`,
      v.change ? ` · ${v.change}` : "")));
    const [a, b] = [q("compare-a"), q("compare-b")];
    const keep = picked ? [a.value, b.value] : [null, null];
    for (const select of [a, b]) {
      clear(select).append(...history.map((v) => el("option", { value: v.version, text: `version ${v.version}` })));
    }
    const n = history.length;
    a.value = keep[0] && history.some((v) => String(v.version) === keep[0]) ? keep[0] : String(history[Math.max(0, n - 2)].version);
    b.value = keep[1] && history.some((v) => String(v.version) === keep[1]) ? keep[1] : String(history[n - 1].version);
  }

  function compare(va, vb) {
    const a = history.find((v) => String(v.version) === String(va));
    const b = history.find((v) => String(v.version) === String(vb));
    if (!a || !b) return;
    const rows = clear(q("diff-rows"));
    const row = (field, x, y) => rows.append(el("tr", { class: sameValue(x, y) ? null : "changed" },
      el("th", { scope: "row", text: field }), el("td", { text: x }), el("td", { text: y })));
    const [ca, cb] = [a.character, b.character];
    row("name", ca.name || "", cb.name || "");
    row("description", ca.description || "", cb.description || "");
    const [ta, tb] = [ca.traits || [], cb.traits || []];
    row("traits", ta.join(", "), tb.join(", "));
    row("traits only here", ta.filter((t) => !tb.includes(t)).join(", ") || "—",
      tb.filter((t) => !ta.includes(t)).join(", ") || "—");
    const keys = [...new Set([...Object.keys(ca.attributes || {}), ...Object.keys(cb.attributes || {})])].sort();
    for (const key of keys) row(`attribute ${key}`, (ca.attributes || {})[key] ?? "—", (cb.attributes || {})[key] ?? "—");
    row("change", a.change || "", b.change || "");
    setText(q("diff-caption"), `Version ${a.version} and version ${b.version}; changed rows are marked`);
    setText(q("diff-a"), `Version ${a.version}`);
    setText(q("diff-b"), `Version ${b.version}`);
    q("diff").hidden = false;
  }

  function arrived(rec, how) {
    if (!current || rec.version <= current.version) return;
    show(rec);
    setText(q("char-live"), `Updated live to version ${rec.version} ${how}`);
    if (!dirty) {
      fill(rec);
    } else {
      notice(`Version ${rec.version} was saved by someone else while you were editing version ${base.version}. ` +
             "Saving now will be refused; discard your changes to load it.");
    }
    announce(`${rec.character.name || "Character"} changed: version ${rec.version}`);
    loadHistory();
  }

  form.addEventListener("input", () => { dirty = true; });
  q("edit-reset").addEventListener("click", () => {
    notice("");
    if (current) fill(current);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = q("edit-error");
    setText(error, "");
    const change = edits();
    if (!Object.keys(change).length) {
      setText(error, "Nothing changed.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const rec = await api.api("POST", `/v1/shape/characters/${encodeURIComponent(id)}/versions`, {
        ...change, expected_version: base.version,
        change: form.elements.change.value.trim() || "edited in the web UI" });
      notice("");
      dirty = false;
      show(rec);
      fill(rec);
      announce(`Saved version ${rec.version}`);
      await loadHistory();
    } catch (err) {
      if (err.status === 409 && err.type === "shape-version-conflict") {
        notice(`Not saved: this character was changed by someone else since version ${base.version}. ` +
               `The latest version is loaded below; make your edit again. Your edit was: ${summary(change)}.`);
        dirty = false;
        await reload().catch((e) => setText(error, problemText(e)));
      } else {
        setText(error, problemText(err));
      }
    } finally {
      button.disabled = false;
    }
  });
  for (const select of [q("compare-a"), q("compare-b")]) select.addEventListener("change", () => { picked = true; });
  q("compare-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    compare(q("compare-a").value, q("compare-b").value);
  });
  q("delete").addEventListener("click", async () => {
    const name = current ? current.character.name || "this character" : "this character";
    if (!window.confirm(`Delete ${name} and every version of it?`)) return;
    try {
      await api.api("DELETE", `/v1/shape/characters/${encodeURIComponent(id)}`);
      announce(`Deleted ${name}`);
      location.hash = "#/characters";
    } catch (err) {
      setText(q("edit-error"), problemText(err));
    }
  });

  const unsubscribe = live.subscribe(`character:${id.toLowerCase()}`, (frame) => {
    if (frame.type === "event") {
      const v = frame.data;
      arrived({ id, version: v.version, character: v.character, change: v.change, created_at: v.created_at }, "");
    } else if (frame.type === "subscribed" && frame.snapshot && frame.snapshot.character) {
      const s = frame.snapshot;
      arrived({ id, version: s.version, character: s.character, created_at: s.created_at }, "(caught up)");
    } else if (frame.type === "lagged") {
      reload().catch(() => {});
    } else if (frame.type === "error") {
      setText(q("char-live"), frame.ended ? `Live updates stopped: ${frame.detail}` : `Live updates paused: ${frame.detail}`);
    }
  });

  // who else has this character open (presence on the live channel), by name, live
  const leave = live.presence(`presence:character:${id.toLowerCase()}`, (frame) => {
    if (frame.type === "presence") showPresence(q("char-presence"), frame);
    else if (frame.type === "error") setText(q("char-presence"), `Presence unavailable: ${frame.detail}`);
  });

  reload().catch((err) => {
    setText(q("char-name"), "Character unavailable");
    notice(problemText(err));
  });
  loadPlans(view, id, () => alive);
  loadRecommendations(view, id, () => alive);
  return () => {
    alive = false;
    unsubscribe();
    leave();
    if (portraitUrl) URL.revokeObjectURL(portraitUrl);
  };
}

function showPresence(box, frame) {
  const others = (frame.members || []).filter((m) => m.member !== frame.you);
  clear(box);
  box.dataset.others = String(others.length);
  if (!others.length) {
    box.append("Nobody else has this character open.");
    return;
  }
  box.append("Also here: ");
  others.forEach((m, i) => {
    if (i) box.append(", ");
    box.append(el("span", { class: "here-name", text: m.name, title: `since ${when(m.since)}` }));
  });
}

// -- plans (aria_engine's decision state) drawn as a tree of nested lists ---------------------------
function stepText(step) {
  if (!Array.isArray(step)) return JSON.stringify(step);
  const [name, ...args] = step;
  return `${name}(${args.map((a) => (typeof a === "object" ? JSON.stringify(a) : String(a))).join(", ")})`;
}

function node(label, children, attrs = {}) {
  const li = el("li", attrs, el("span", { class: "node", text: label }));
  if (children && children.length) li.append(el("ul", {}, ...children));
  return li;
}

function planTree(d) {
  const steps = (d.plan || []).map((step, i) => {
    const state = i < d.step ? "done" : i === d.step && d.status !== "done" ? "current" : "pending";
    const mark = state === "done" ? "✓ done" : state === "current" ? "▶ next" : "· to do";
    return node(`${i + 1}. ${stepText(step)} — ${mark}`, [], { class: `step ${state}`, dataset: { state } });
  });
  const goals = (d.todo || []).map((task) => node(stepText(task), [], { class: "goal" }));
  const beliefs = Object.keys((d.beliefs && d.beliefs.vars) || d.beliefs || {}).slice(0, 20)
    .map((k) => node(k, [], { class: "belief" }));
  return el("ul", { class: "tree", "aria-label": "Plan tree" },
    node(`Decision in ${d.domain} · ${d.status}${d.reason ? ` (${d.reason})` : ""} · version ${d.version}`, [
      node(`Goals (${goals.length})`, goals, { class: "branch" }),
      node(`Plan: ${d.steps} steps, step ${Math.min(d.step + 1, d.steps)} next`, steps, { class: "branch" }),
      node(`Beliefs (${beliefs.length})`, beliefs, { class: "branch" }),
    ], { class: "root" }));
}

async function loadPlans(view, id, alive) {
  const status = byId(view, "plan-status");
  const box = byId(view, "plan-tree");
  const enc = encodeURIComponent(id);
  try {
    const d = await api.api("GET", `/v1/engine/characters/${enc}/decision`);
    if (!alive()) return;
    box.replaceChildren(planTree(d));
    setText(status, `Updated ${when(d.updated_at)}`);
    const events = await api.api("GET", `/v1/engine/characters/${enc}/decision/history?limit=10`);
    if (!alive()) return;
    clear(byId(view, "plan-history")).append(...(events || []).map((e) =>
      el("li", {}, el("time", { text: when(e.at) }), ` version ${e.version}: ${e.event} at step ${e.step + 1}, ${e.status}`)));
  } catch (err) {
    if (!alive()) return;
    setText(status, err.status === 404 ? "No plan yet: aria_engine holds no decision state for this character." :
      `Plans unavailable: ${problemText(err)}`);
  }
}

// -- recommendations (aria_interpret: traits this character lacks, from similar characters) -----------
async function loadRecommendations(view, id, alive) {
  const status = byId(view, "recs-status");
  try {
    const out = await api.api("GET", `/v1/interpret/characters/${encodeURIComponent(id)}/recommended-traits?k=5`);
    if (!alive()) return;
    const recs = out.recommendations || [];
    clear(byId(view, "recs")).append(...recs.map((r) => el("li", {},
      r.trait !== undefined ? `trait ${r.trait}` : `${r.attribute} = ${r.value}`,
      el("span", { class: "score", text: ` (score ${Number(r.score).toFixed(2)})` }))));
    setText(status, recs.length ? `From ${out.characters} characters with similar descriptions` :
      "No recommendations: no similar characters yet.");
  } catch (err) {
    if (!alive()) return;
    setText(status, err.status === 404 ? "No recommendations: aria_interpret has not indexed this character." :
      `Recommendations unavailable: ${problemText(err)}`);
  }
}

// -- dashboard ------------------------------------------------------------------------------------
const UP = new Set(["ready", "not_implemented"]);

function dashboardView() {
  const view = clone("tpl-dashboard");
  main.replaceChildren(view);
  document.title = "Services · Aria";
  const tbody = byId(view, "service-rows");
  const rows = new Map();

  function summarize() {
    const counts = {};
    for (const tr of rows.values()) counts[tr.dataset.status] = (counts[tr.dataset.status] || 0) + 1;
    setText(byId(view, "dash-summary"),
      Object.entries(counts).sort().map(([status, n]) => `${n} ${status.replace("_", " ")}`).join(", "));
  }

  function upsert(name, info) {
    let tr = rows.get(name);
    if (!tr) {
      tr = el("tr", { dataset: { service: name } },
        el("th", { scope: "row", text: name }),
        el("td", { "data-label": "Status" }, el("span", { class: "badge" })),
        el("td", { class: "num", "data-label": "Restarts" }),
        el("td", { class: "message", "data-label": "Message" }));
      rows.set(name, tr);
      tbody.append(tr);
    }
    const status = info.status || "unknown";
    tr.dataset.status = status;
    tr.dataset.restarts = String(info.restarts ?? 0);
    const badge = tr.querySelector(".badge");
    badge.dataset.status = status;
    badge.className = `badge ${UP.has(status) ? "up" : status === "degraded" || status === "starting" || status === "pending" ? "warn" : "down"}`;
    setText(badge, status.replace("_", " "));
    setText(tr.children[2], info.restarts ?? 0);
    setText(tr.children[3], info.message || "");
  }

  function changed(data) {
    const was = data.was || {};
    const words = (status) => String(status || "new").replace("_", " ");
    const text = `${data.service}: ${words(was.status)} → ${words(data.status)}` +
      (data.restarts !== was.restarts && was.restarts !== null && was.restarts !== undefined ? ` (restarts ${data.restarts})` : "");
    const list = byId(view, "changes");
    list.prepend(el("li", {}, el("time", { text: new Date().toLocaleTimeString() }), ` ${text}`));
    while (list.children.length > 50) list.lastElementChild.remove();
    announce(text);
  }

  api.api("GET", "/v1/services").then((status) => {
    setText(byId(view, "phase"), status.phase || "");
    for (const s of status.services || []) if (!rows.has(s.name)) upsert(s.name, s);
    summarize();
  }).catch((err) => setText(byId(view, "dash-error"), `Status unavailable: ${problemText(err)}`));

  const unsubscribe = live.subscribe("services", (frame) => {
    const error = byId(view, "dash-error");
    if (frame.type === "subscribed") {
      setText(error, "");
      const snap = frame.snapshot || {};
      if (snap.phase) setText(byId(view, "phase"), snap.phase);
      for (const [name, info] of Object.entries(snap.services || {})) upsert(name, info);
    } else if (frame.type === "event") {
      setText(error, "");
      const d = frame.data;
      if (d.phase) setText(byId(view, "phase"), d.phase);
      upsert(d.service, d);
      changed(d);
    } else if (frame.type === "lagged") {
      api.api("GET", "/v1/services").then((s) => { for (const x of s.services || []) upsert(x.name, x); summarize(); })
        .catch(() => {});
    } else if (frame.type === "error") {
      setText(error, `Live status ${frame.ended ? "ended" : "interrupted"}: ${frame.detail}`);
    }
    summarize();
  });
  const stopMonitor = monitor(view);
  return () => {
    unsubscribe();
    stopMonitor();
  };
}

// -- the dashboard's live figures: traffic from /metrics, queues, storage, recent errors --------------
const POLL_MS = 5_000;
const SLOW_POLL_MS = 30_000; // storage stats walk every index: not every few seconds

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n) || 0;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function monitor(view) {
  const q = (name) => byId(view, name);
  const rps = new LineChart(q("chart-rps"), [{ name: "requests/s", cls: "a" }], { label: "Requests per second" });
  const errs = new LineChart(q("chart-errors"), [{ name: "4xx/s", cls: "b" }, { name: "5xx/s", cls: "c" }],
    { label: "Errors per second" });
  const depth = new LineChart(q("chart-queue"), [{ name: "available", cls: "a" }, { name: "executing", cls: "b" }],
    { label: "Queued jobs" });
  let last = null;       // {t, total, e4, e5} of the previous /metrics read
  let lastDone = null;   // {t, by queue: completed} of the previous queue read
  let alive = true;
  let slowAt = 0;
  let graphUrl = null;   // the dependency graph's blob URL, revoked when replaced or left

  async function traffic() {
    // the gateway's own series, fresh each read: public, so no token (with one, /metrics is
    // aria_monitor's last collection of every service, and a viewer may not read it)
    const res = await fetch("/metrics", { headers: { accept: "text/plain" }, credentials: "omit" });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const series = parseProm(await res.text(), ["aria_http_requests_total"]).aria_http_requests_total;
    const now = { t: Date.now(), total: 0, e4: 0, e5: 0 };
    for (const { labels, value } of series) {
      now.total += value;
      if (String(labels.code).startsWith("4")) now.e4 += value;
      if (String(labels.code).startsWith("5")) now.e5 += value;
    }
    if (last && alive) {
      const dt = Math.max(0.001, (now.t - last.t) / 1000);
      rps.push([(now.total - last.total) / dt]);
      errs.push([(now.e4 - last.e4) / dt, (now.e5 - last.e5) / dt]);
    }
    last = now;
  }

  async function queues() {
    const status = q("queue-status");
    try {
      const list = await api.api("GET", "/v1/queue/queues");
      if (!alive) return;
      const t = Date.now();
      const rows = clear(q("queue-rows"));
      let available = 0;
      let executing = 0;
      const done = {};
      for (const item of list) {
        const jobs = item.jobs || {};
        available += jobs.available || 0;
        executing += jobs.executing || 0;
        done[item.name] = jobs.completed || 0;
        const before = lastDone && lastDone.by[item.name];
        const perMin = before === undefined || !lastDone ? "—" :
          `${(((done[item.name] - before) * 60_000) / Math.max(1, t - lastDone.t)).toFixed(1)}/min`;
        rows.append(el("tr", { dataset: { queue: item.name } },
          el("th", { scope: "row", text: item.name }),
          el("td", { class: "num", "data-label": "Available", text: jobs.available || 0 }),
          el("td", { class: "num", "data-label": "Running", text: jobs.executing || 0 }),
          el("td", { class: "num", "data-label": "Completed", text: jobs.completed || 0 }),
          el("td", { class: "num", "data-label": "Throughput", text: perMin }),
          el("td", { class: "num", "data-label": "Executors", text: item.executors ?? 0 })));
      }
      lastDone = { t, by: done };
      depth.push([available, executing]);
      setText(status, `${list.length} queues · ${available} jobs waiting · updated ${new Date(t).toLocaleTimeString()}`);
    } catch (err) {
      setText(status, err.status === 403 ? "Queue figures need the operator or admin role." :
        `Queues unavailable: ${problemText(err)}`);
    }
  }

  async function storage() {
    const status = q("storage-status");
    try {
      const st = await api.api("GET", "/v1/storage/stats");
      if (!alive) return;
      const dl = clear(q("storage-stats"));
      const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
      row("Stored (compressed)", bytes(st.stored_bytes));
      row("Logical", bytes(st.logical_bytes));
      row("Unique", bytes(st.unique_bytes));
      row("Chunks", st.chunks);
      row("Deduplication", `${st.dedupe_ratio}×`);
      row("Compression", `${st.compression_ratio}×`);
      setText(status, `${st.indexes} stored objects · updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      setText(status, err.status === 403 ? "Storage figures need the storage:store:read permission." :
        `Storage unavailable: ${problemText(err)}`);
    }
  }

  async function graph() {
    // an <img> from a blob URL, as the portrait: the SVG is drawn, never run
    try {
      const res = await api.api("GET", "/v1/debugger/graph.svg", undefined, { raw: true, accept: "image/svg+xml" });
      const blob = new Blob([await res.arrayBuffer()], { type: "image/svg+xml" });
      if (!alive) return;
      if (graphUrl) URL.revokeObjectURL(graphUrl);
      graphUrl = URL.createObjectURL(blob);
      q("dep-graph").src = graphUrl;
      q("dep-graph").hidden = false;
      setText(q("graph-status"), `Updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      setText(q("graph-status"), err.status === 403 ? "The dependency graph needs the debugger:graph:read permission." :
        `Dependency graph unavailable: ${problemText(err)}`);
    }
  }

  async function errors() {
    const snap = await api.api("GET", "/v1/gateway/routes");
    if (!alive) return;
    const bad = (snap.routes || []).filter((r) => r.errors_4xx + r.errors_5xx > 0)
      .sort((a, b) => b.errors_5xx - a.errors_5xx || b.errors_4xx - a.errors_4xx).slice(0, 10);
    clear(q("error-rows")).append(...bad.map((r) => el("tr", { dataset: { route: `${r.method} ${r.route}` } },
      el("th", { scope: "row" }, el("code", { text: `${r.method} ${r.route}` })),
      el("td", { class: "num", "data-label": "Requests", text: r.count }),
      el("td", { class: "num", "data-label": "4xx", text: r.errors_4xx }),
      el("td", { class: "num", "data-label": "5xx", text: r.errors_5xx }),
      el("td", { class: "num", "data-label": "p95 ms", text: r.window.p95_ms ?? "—" }))));
    setText(q("errors-status"), bad.length ? `${bad.length} routes answered errors since the gateway started ` +
      `(${snap.requests} requests)` : `No errors among ${snap.requests} requests since the gateway started.`);
  }

  async function tick() {
    const jobs = [traffic().catch((err) => setText(q("dash-error"), `Metrics unavailable: ${problemText(err)}`)),
      queues(), errors().catch((err) => setText(q("errors-status"), `Errors unavailable: ${problemText(err)}`))];
    if (Date.now() >= slowAt) {
      slowAt = Date.now() + SLOW_POLL_MS;
      jobs.push(storage(), graph());
    }
    await Promise.all(jobs);
  }
  tick();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    alive = false;
    clearInterval(timer);
    if (graphUrl) URL.revokeObjectURL(graphUrl);
  };
}

// -- API docs -------------------------------------------------------------------------------------
function docsView() {
  const view = clone("tpl-docs");
  main.replaceChildren(view);
  document.title = "API docs · Aria";
  let downloadUrl = null;
  let alive = true;

  async function open(title, path, filename) {
    const box = byId(view, "doc-box");
    try {
      const doc = await api.api("GET", path);
      if (!alive) return;
      setText(byId(view, "doc-title"), title);
      const rows = clear(byId(view, "doc-rows"));
      for (const [p, item] of Object.entries(doc.paths || {})) {
        for (const [method, op] of Object.entries(item)) {
          if (method === "parameters" || typeof op !== "object") continue;
          rows.append(el("tr", {}, el("td", { class: "method", text: method.toUpperCase() }),
            el("td", {}, el("code", { text: p })), el("td", { text: op.summary || "", "data-label": "Summary" })));
        }
      }
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" }));
      const link = byId(view, "doc-download");
      link.href = downloadUrl;
      link.download = filename;
      box.hidden = false;
      byId(view, "doc-title").scrollIntoView({ block: "start" });
    } catch (err) {
      setText(byId(view, "docs-error"), problemText(err));
    }
  }

  api.api("GET", "/v1/interface/docs").then((index) => {
    const list = byId(view, "docs-services");
    for (const svc of index.services || []) {
      list.append(el("li", {}, el("button", { type: "button", class: "link", dataset: { service: svc.service },
        on: { click: () => open(`${svc.service}: ${svc.operations} operations`, svc.openapi, `${svc.service}.openapi.json`) },
        text: `${svc.service}` }), ` · ${svc.operations} operations`));
    }
    list.append(el("li", {}, el("button", { type: "button", class: "link", on: { click: async () => {
      try {
        const topics = await api.api("GET", "/v1/interface/topics");
        if (downloadUrl) URL.revokeObjectURL(downloadUrl);
        downloadUrl = URL.createObjectURL(new Blob([JSON.stringify(topics, null, 2)], { type: "application/json" }));
        const link = byId(view, "doc-download");
        link.href = downloadUrl;
        link.download = "aria-live-channel.json";
        setText(byId(view, "doc-title"), `Live channel ${topics.url}: ${topics.topics.map((t) => t.pattern).join(", ")}`);
        clear(byId(view, "doc-rows")).append(...topics.topics.map((t) => el("tr", {},
          el("td", { class: "method", text: "WS" }), el("td", {}, el("code", { text: t.pattern })),
          el("td", { text: t.description }))));
        byId(view, "doc-box").hidden = false;
      } catch (err) {
        setText(byId(view, "docs-error"), problemText(err));
      }
    } }, text: "Live channel (WebSocket) topics" })));
    list.append(el("li", {}, el("button", { type: "button", class: "link", on: { click: async () => {
      try {
        const ui = await api.api("GET", "/v1/interface/ui");
        setText(byId(view, "doc-title"), `This web UI: ${ui.views.length} views, each with the routes and topics it uses`);
        const rows = clear(byId(view, "doc-rows"));
        for (const v of ui.views) {
          for (const route of v.rest) {
            const [method, path] = route.split(" ");
            rows.append(el("tr", {}, el("td", { class: "method", text: method }), el("td", {}, el("code", { text: path })),
              el("td", { text: `${v.title} (${v.hash})`, "data-label": "Used by" })));
          }
          for (const topic of v.topics) {
            rows.append(el("tr", {}, el("td", { class: "method", text: "WS" }), el("td", {}, el("code", { text: topic })),
              el("td", { text: `${v.title} (${v.hash})`, "data-label": "Used by" })));
          }
        }
        if (downloadUrl) URL.revokeObjectURL(downloadUrl);
        downloadUrl = URL.createObjectURL(new Blob([JSON.stringify(ui, null, 2)], { type: "application/json" }));
        const link = byId(view, "doc-download");
        link.href = downloadUrl;
        link.download = "aria-web-ui.json";
        byId(view, "doc-box").hidden = false;
      } catch (err) {
        setText(byId(view, "docs-error"), problemText(err));
      }
    } }, text: "This web UI's manifest (views and the API each uses)" })));
  }).catch((err) => setText(byId(view, "docs-error"), `Documentation unavailable: ${problemText(err)}`));
  return () => {
    alive = false;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  };
}

// -- start ----------------------------------------------------------------------------------------
api.onSession((session) => {
  const now = Boolean(session);
  if (now === loggedIn) return; // a refreshed token: nothing to redraw
  loggedIn = now;
  if (!now) {
    live.stop();
    if (location.hash !== "#/login") location.hash = "#/login";
    else render();
  } else {
    const target = routeOf(location.hash).view === "login" || !location.hash ? "#/characters" : location.hash;
    if (target !== location.hash) location.hash = target; // hashchange renders
    else render();
  }
});
document.getElementById("logout").addEventListener("click", () => {
  // this browser has forgotten the tokens either way; say so when the server could not end the session
  api.logout().catch(() => announce("Logged out here, but the server could not end the session: log in and out again"));
});
document.getElementById("skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", render);
render();
