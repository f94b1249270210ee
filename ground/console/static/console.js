// Qingzhou ground console: the page. Everything is generated from /api/schema (the packet dictionary);
// live values come over /ws as JSON arrays of messages (see ground/console/server.py). Rendering is
// coalesced into one animation frame; plots redraw every PLOT_EVERY_MS when they have new points.
"use strict";

const PLOT_EVERY_MS = 250;      // plots redraw at most 4 times a second
const LATENCY_KEPT = 20000;     // samples of (mission time, received, shown) for the latency benchmark
const EVENTS_SHOWN = 500;
const STATE_CLASS = ["lim-0", "lim-1", "lim-2"];

const S = {
  schema: null, latest: {}, buffers: {}, events: [], ov: {}, link: null, cmds: new Map(),
  page: "overview", packet: null, dirty: { ov: new Set(), keys: new Set(), events: false, cmds: false, header: false },
  pendingLatency: [], latency: [], plots: [], plotSeq: 0, lastPlotDraw: 0,
  stats: { messages: 0, batches: 0, plotDraws: 0, plotLag: null, renders: 0 },
  ws: null, wsUp: false, renderQueued: false, fieldIndex: {}, newestT: null,
};
window.qz = S;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const nowMs = () => performance.timeOrigin + performance.now();

function fmt(v, digits = 6) {
  if (v === null || v === undefined) return "--";
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(digits)));
}
const fixed = (v, n) => (typeof v === "number" ? v.toFixed(n) : fmt(v));
function limText(l) {
  if (!l) return "";
  const [ylo, yhi, rlo, rhi] = l;
  const parts = [];
  if (ylo !== null || yhi !== null) parts.push(`Y ${ylo === null ? "" : fmt(ylo, 4)}..${yhi === null ? "" : fmt(yhi, 4)}`);
  if (rlo !== null || rhi !== null) parts.push(`R ${rlo === null ? "" : fmt(rlo, 4)}..${rhi === null ? "" : fmt(rhi, 4)}`);
  return parts.join("  ");
}
function setState(node, state) {
  node.classList.remove(...STATE_CLASS);
  if (state !== null && state !== undefined) node.classList.add(STATE_CLASS[state]);
}
function meter(node, value, limit, state) {
  const frac = limit > 0 && typeof value === "number" ? Math.min(Math.max(value / limit, 0), 1) : 0;
  node.style.width = (100 * frac).toFixed(1) + "%";
  setState(node, state);
}

// ------------------------------------------------------------------------------------------- schema

async function boot() {
  const r = await fetch("/api/schema");
  S.schema = await r.json();
  for (const p of S.schema.packets) {
    S.fieldIndex[p.name] = Object.fromEntries(p.fields.map((f) => [f.name, f]));
  }
  buildPacketMenu();
  buildCommandPanel();
  buildEventControls();
  buildPlotControls();
  window.addEventListener("hashchange", route);
  route();
  connect();
  backfill("DOCKING_MONITOR").then(() => { S.approachDirty = true; });  // the approach so far, for its plot
  setInterval(tickPlots, PLOT_EVERY_MS);
  setInterval(() => { S.dirty.header = true; queueRender(); }, 1000);
}

function packetSchema(name) { return S.schema.packets.find((p) => p.name === name); }

function enumName(packet, field, v) {
  const f = S.fieldIndex[packet] && S.fieldIndex[packet][field];
  if (f && f.enum && typeof v === "number" && f.enum[String(v)] !== undefined) return f.enum[String(v)];
  return v;
}

// ------------------------------------------------------------------------------------------- routing

function route() {
  const h = location.hash.replace(/^#/, "") || "overview";
  const [page, arg] = h.split("/");
  S.page = ["overview", "packet", "plots", "events", "commands"].includes(page) ? page : "overview";
  S.packet = S.page === "packet" ? (arg || S.schema.packets[0].name) : null;
  for (const sec of document.querySelectorAll(".page")) sec.hidden = sec.id !== "page-" + S.page;
  for (const a of document.querySelectorAll("#nav > a, #nav > .menu > a")) {
    a.classList.toggle("active", a.dataset.page === S.page);
  }
  if (S.page === "packet") buildPacketPage(S.packet);
  if (S.page === "plots" && S.plots.length === 0) addPlot(["DOCKING_MONITOR", "range_m", null]);
  renderAll();
}

function renderAll() {
  for (const sec of Object.keys(S.ov)) S.dirty.ov.add(sec);
  for (const k of Object.keys(S.latest)) S.dirty.keys.add(k);
  S.dirty.events = S.dirty.cmds = S.dirty.header = true;
  queueRender();
}

// ------------------------------------------------------------------------------------------- websocket

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  S.ws = ws;
  ws.onopen = () => { S.wsUp = true; wsBadge(); };
  ws.onclose = () => {
    S.wsUp = false; wsBadge();
    setTimeout(connect, 1000);
  };
  ws.onmessage = (e) => {
    const batch = JSON.parse(e.data);
    S.stats.batches += 1;
    for (const m of batch) handle(m);
    queueRender();
  };
}

function wsBadge() {
  const b = $("#ws-badge");
  b.textContent = S.wsUp ? "console: live" : "console: disconnected, retrying";
  b.className = "badge " + (S.wsUp ? "st-ok" : "st-lost");
}

function handle(m) {
  S.stats.messages += 1;
  switch (m.k) {
    case "tm": onTm(m, true); break;
    case "snapshot":
      for (const t of m.latest) onTm(t, false);
      S.events = m.events.slice();
      S.ov = Object.assign({}, m.overview);
      if (m.sources) Object.assign(S.schema.sources, m.sources);
      renderAll();
      break;
    case "link": S.link = m; S.dirty.header = true; break;
    case "cmd": S.cmds.set(m.entry.id, m.entry); S.dirty.cmds = true; break;
    case "cmds": for (const e of m.history) S.cmds.set(e.id, e); S.dirty.cmds = true; break;
    case "reset":
      S.latest = {}; S.buffers = {}; S.events = []; S.ov = {}; S.newestT = null;
      renderAll();
      break;
  }
}

function onTm(m, live) {
  S.latest[m.key] = m;
  S.newestT = S.newestT === null ? m.t : Math.max(S.newestT, m.t);
  let b = S.buffers[m.key];
  if (!b) b = S.buffers[m.key] = { t: [], rows: [] };
  if (!b.t.length || m.t >= b.t[b.t.length - 1]) { b.t.push(m.t); b.rows.push(m.v); }
  const keep = S.schema.history_s;
  while (b.t.length && b.t[0] < m.t - keep) { b.t.shift(); b.rows.shift(); }
  if (m.ov) { S.ov[m.ov.sec] = m.ov; S.dirty.ov.add(m.ov.sec); }
  if (m.n === "EVENT" && live) {
    const v = m.v;
    S.events.push({ t: m.t, id: v.event_id, name: S.schema.event_names[String(v.event_id)] || `event ${v.event_id}`,
                    sev: enumName("EVENT", "severity", v.severity),
                    src: sourceName(v.source_id), text: v.text, args: v.args });
    if (S.events.length > 2000) S.events.shift();
    S.dirty.events = true;
  }
  if (m.n === "EXEC_TASK_TIMING") S.schema.sources[String(m.v.task_id)] = m.v.task_name;
  S.dirty.keys.add(m.key);
  S.dirty.header = true;
  if (live) S.pendingLatency.push([m.n, m.t, m.rx]);
}

function sourceName(id) { return S.schema.sources[String(id)] || `source ${id}`; }

// ------------------------------------------------------------------------------------------- rendering

function queueRender() {
  if (S.renderQueued) return;
  S.renderQueued = true;
  requestAnimationFrame(render);
}

function render() {
  S.renderQueued = false;
  S.stats.renders += 1;
  if (S.dirty.header) renderHeader();
  if (S.page === "overview") {
    for (const sec of S.dirty.ov) (OVERVIEW[sec] || (() => {}))(S.ov[sec]);
    S.dirty.ov.clear();
    if (S.dirty.events) renderOverviewEvents();
  } else if (S.page === "packet") {
    if ([...S.dirty.keys].some((k) => k === S.packet || k.startsWith(S.packet + "["))) renderPacketPage(S.packet);
  } else if (S.page === "events") {
    if (S.dirty.events) renderEvents();
  }
  if (S.dirty.cmds) renderHistory();
  S.dirty.keys.clear();
  S.dirty.events = S.dirty.cmds = S.dirty.header = false;
  if (S.pendingLatency.length) {
    const shown = nowMs();
    for (const [n, t, rx] of S.pendingLatency) S.latency.push([n, t, rx, shown]);
    S.pendingLatency.length = 0;
    if (S.latency.length > LATENCY_KEPT) S.latency.splice(0, S.latency.length - LATENCY_KEPT);
  }
}

function renderHeader() {
  $("#bar-time").textContent = S.newestT === null ? "T+ --" : `T+ ${S.newestT.toFixed(1)} s`;
  const mode = S.ov.mode ? S.ov.mode.mode : null;
  const bm = $("#bar-mode");
  bm.textContent = "mode " + (mode || "--");
  bm.className = "badge " + (mode ? "st-ok" : "st-unknown");
  const l = S.link;
  const badge = $("#link-badge");
  const banner = $("#link-banner");
  if (!l) return;
  const since = new Date(l.since_ms).toLocaleTimeString();
  if (l.state === "connected") {
    const age = l.last_rx_ms ? ((l.now_ms - l.last_rx_ms) / 1000).toFixed(1) + " s ago" : "none yet";
    badge.textContent = `LINK UP (last packet ${age})`;
    badge.className = "badge st-ok";
    banner.hidden = true;
  } else {
    badge.textContent = l.state === "connecting" ? "LINK CONNECTING" : "LINK LOST";
    badge.className = "badge st-lost";
    banner.hidden = false;
    banner.textContent = `${l.state === "connecting" ? "NO LINK YET" : "LINK LOST"} since ${since}: ${l.reason}` +
      " - reconnecting by itself";
  }
  banner.dataset.state = l.state;
}

const OVERVIEW = {
  mode(o) {
    const m = $("#ov-mode");
    m.textContent = o.mode;
    m.dataset.mode = o.mode;
    $("#ov-armed").textContent = o.armed_fc === null ? "nothing armed" : `function code ${o.armed_fc}`;
    $("#ov-cmds").textContent = `${o.cmd_accepted} / ${o.cmd_rejected} / ${o.cmd_completed}`;
    S.dirty.header = true;
  },
  guidance(o) {
    $("#ov-phase").textContent = o.phase;
    $("#ov-hold").textContent = o.hold_m === null ? `#${o.hold_index}` : `#${o.hold_index}: ${fmt(o.hold_m)} m`;
    $("#ov-go").textContent = `${o.go ? "GO" : "no go"} / ${o.retries}`;
  },
  nav(o) {
    const n = $("#ov-nav");
    n.textContent = `${o.valid ? "valid" : "INVALID"}, ${o.sensor}, sigma ${fixed(o.sigma_r_m, 2)} m`;
    setState(n, o.valid ? o.sigma_state : 2);
  },
  approach(o) {
    const r = $("#ov-range");
    r.textContent = `${fixed(o.range_m, 2)} m`;
    r.dataset.value = o.range_m;
    const c = $("#ov-closing");
    c.textContent = `${fixed(o.closing_mps, 3)} m/s`;
    setState(c, o.closing_monitored ? o.closing_state : 0);
    $("#ov-profile").textContent = `${fixed(o.profile_mps, 3)} / ${fixed(o.abort_mps, 3)} m/s` +
      (o.closing_monitored ? "" : " (not monitored in this mode)");
    meter($("#ov-lateral-bar"), o.lateral_m, o.corridor_m, o.lateral_state);
    $("#ov-lateral").textContent = `${fixed(o.lateral_m, 2)} m of ${fixed(o.corridor_m, 2)} m` +
      (o.in_corridor ? "" : " (outside)");
    $("#ov-cone").textContent = `${fixed(o.corridor_angle_deg, 2)} deg (corridor ${fmt(o.half_angle_deg)} deg)` +
      (o.in_kos ? ", inside the keep-out sphere" : "");
    const ab = $("#ov-abort");
    ab.textContent = o.abort_trigger;
    setState(ab, o.abort_trigger === "NONE" ? 0 : 2);
    S.approachDirty = true;
  },
  attitude(o) {
    meter($("#ov-att-bar"), o.err_deg, o.limit_deg, o.state);
    const a = $("#ov-att");
    a.textContent = `${fixed(o.err_deg, 3)} deg of ${fmt(o.limit_deg)} deg` + (o.valid ? "" : " (estimate INVALID)");
    setState(a, o.state);
  },
  propellant(o) {
    meter($("#ov-prop-bar"), o.used_kg, o.load_kg, o.state);
    $("#ov-prop").textContent = `used ${fixed(o.used_kg, 2)} kg, left ${fixed(o.left_kg, 1)} of ${fmt(o.load_kg)} kg; ` +
      `${o.pulses} pulses`;
  },
  thermal(o) {
    const body = $("#ov-zones tbody");
    body.replaceChildren(...o.zones.map((z) => {
      const tr = el("tr", {}, el("td", { text: z.name }), el("td", { class: "num", text: fixed(z.temp_C, 2) }),
        el("td", { class: "num", text: fixed(z.setpoint_C, 1) }), el("td", { text: `${fmt(z.lo_C)} .. ${fmt(z.hi_C)}` }),
        el("td", { text: `${z.heater_on ? "ON" : "off"} (${z.unit})` }), el("td", { class: "num", text: fixed(z.duty, 2) }));
      setState(tr.children[1], z.state);
      tr.children[1].title = limText(z.limits);
      return tr;
    }));
    meter($("#ov-power-bar"), o.power_W, o.power_limit_W, o.power_state);
    $("#ov-power").textContent = `${fixed(o.power_W, 1)} W of ${fmt(o.power_limit_W)} W` +
      (o.shed_mask ? `, zones shed: mask ${o.shed_mask}` : "");
  },
  exec(o) {
    const e = $("#ov-exec");
    e.replaceChildren(
      span(`cycle slips ${o.cycle_slips}`, o.states.cycle_slips), " · ",
      span(`skipped slots ${o.skipped_slots}`, o.states.skipped_slots), " · ",
      span(`overruns (last s) ${o.overruns_recent}`, o.states.overruns_recent), " · ",
      span(`CPU ${fixed(o.cpu_load_pct, 2)} % of ${fmt(o.cpu_limit_pct)} %`, o.states.cpu_load_pct), " · ",
      span(`lateness p99 ${fixed(o.lateness_p99_us, 1)} us, max ${fixed(o.lateness_max_us, 1)} us`,
           Math.max(o.states.lateness_p99_us, o.states.lateness_max_us)), " · ",
      span(`failed tasks mask ${o.tasks_failed}`, o.states.tasks_failed));
  },
  tasks(o) {
    const rows = Object.entries(o.rows).sort((a, b) => Number(a[0]) - Number(b[0]));
    $("#ov-tasks tbody").replaceChildren(...rows.map(([, r]) => {
      const frac = r.budget_us > 0 ? r.p99_us / r.budget_us : 0;
      const m = el("div", { class: "meter" }, el("div"));
      meter(m.firstChild, r.p99_us, r.budget_us, r.p99_state);
      const tr = el("tr", {}, el("td", { text: r.name }), el("td", { class: "num", text: fixed(r.p99_us, 1) }),
        el("td", { class: "num", text: fmt(r.budget_us) }), el("td", {}, m, `${(100 * frac).toFixed(1)} %`),
        el("td", { class: "num", text: fixed(r.max_us, 1) }), el("td", { class: "num", text: String(r.calls) }),
        el("td", { class: "num", text: String(r.overruns) }), el("td", { class: "num", text: String(r.errors) }));
      setState(tr.children[1], r.p99_state);
      setState(tr.children[6], r.overruns_state);
      setState(tr.children[7], r.errors_state);
      return tr;
    }));
  },
  ground_link(o) { S.groundLink = o; renderLinkCard(); },
};

function span(text, state) { const s = el("span", { text }); setState(s, state); return s; }

function renderLinkCard() {
  const t = $("#ov-link");
  const rows = [];
  const l = S.link;
  if (l) {
    const r = el("tr", {}, el("th", { text: "console link" }), el("td", { text: `${l.state} (${l.reason})` }));
    setState(r.children[1], l.state === "connected" ? 0 : 2);
    rows.push(r, el("tr", {}, el("th", { text: "connects / losses" }), el("td", { text: `${l.connects} / ${l.losses}` })),
      el("tr", {}, el("th", { text: "packets received" }), el("td", { text: String(l.packets) })));
  }
  const g = S.groundLink;
  if (g) {
    const v = g.v;
    const add = (label, key, text) => {
      const r = el("tr", {}, el("th", { text: label }), el("td", { text: text === undefined ? String(v[key]) : text }));
      if (key in g.states) setState(r.children[1], g.states[key]);
      rows.push(r);
    };
    add("flight's clients now / total", "clients", `${v.clients} / ${v.clients_total}`);
    add("frames in / out", "frames_in", `${v.frames_in} / ${v.frames_out}`);
    add("CRC errors / bytes skipped", "crc_errors", `${v.crc_errors} / ${v.bytes_skipped}`);
    setState(rows[rows.length - 1].children[1], Math.max(g.states.crc_errors, g.states.bytes_skipped));
    add("downlink drops", "drops");
    add("telecommands accepted", "tc_accepted");
    const rej = el("td");
    for (const k of ["rej_unauthenticated", "rej_unknown_spi", "rej_bad_mac", "rej_replay", "rej_rate_limited",
                     "rej_malformed"]) {
      rej.append(span(`${k.slice(4).replace(/_/g, " ")} ${v[k]}`, g.states[k]), " ");
    }
    rows.push(el("tr", {}, el("th", { text: "rejected" }), rej));
  } else {
    rows.push(el("tr", {}, el("th", { text: "GROUND_LINK" }), el("td", { text: "no packet yet" })));
  }
  t.replaceChildren(...rows);
}

function renderOverviewEvents() {
  const last = S.events.slice(-8).reverse();
  $("#ov-events").replaceChildren(...last.map((e) => {
    const d = el("div", { class: "sev-line", text: `${e.t.toFixed(1)} ${e.sev} ${e.src} ${e.name}: ${e.text}` });
    if (e.sev === "WARNING") setState(d, 1);
    if (e.sev === "ERROR" || e.sev === "CRITICAL") setState(d, 2);
    return d;
  }));
}

// ------------------------------------------------------------------------------------------- packet pages

function buildPacketMenu() {
  const menu = $("#packet-menu");
  const index = $("#packet-index");
  index.append(el("h2", { text: "Telemetry packets (from the packet dictionary)" }));
  for (const p of S.schema.packets) {
    menu.append(el("a", { href: `#packet/${p.name}`, text: p.name }));
    index.append(el("a", { href: `#packet/${p.name}`, class: "pkt-link", text: p.name }), " ");
  }
}

function flatFields(p) {
  // one row per element: [field, index or null]
  const out = [];
  for (const f of p.fields) {
    if (f.type === "char" || f.count === 1) out.push([f, null]);
    else for (let i = 0; i < f.count; i++) out.push([f, i]);
  }
  return out;
}

function buildPacketPage(name) {
  const p = packetSchema(name);
  const body = $("#packet-body");
  if (!p) { body.replaceChildren(el("p", { text: `no packet ${name}` })); return; }
  const card = el("div", { class: "card" });
  card.append(el("h2", { text: `${p.name} (APID 0x${p.apid.toString(16)})` }), el("div", { class: "desc", text: p.description }),
    el("div", { id: "pkt-meta", class: "small mono", text: "no packet received yet" }));
  if (p.mux) {
    const head = el("tr", {}, ...p.fields.map((f) => el("th", { text: f.name + (f.unit ? ` [${f.unit}]` : "") })));
    card.append(el("table", { class: "grid-table", id: "pkt-table" }, el("thead", {}, head), el("tbody")));
  } else {
    const rows = flatFields(p).map(([f, i]) => {
      const id = `pv-${f.name}-${i === null ? "" : i}`;
      return el("tr", {}, el("td", { class: "mono", text: i === null ? f.name : `${f.name}[${i}]` }),
        el("td", { class: "num", id }), el("td", { text: f.unit }), el("td", { class: "small", id: id + "-lim" }),
        el("td", { class: "desc", text: f.description + (f.enum ? ` (${Object.values(f.enum).join(", ")})` : "") }));
    });
    card.append(el("table", { class: "grid-table", id: "pkt-table" },
      el("thead", {}, el("tr", {}, ...["field", "value", "unit", "limits (yellow, red)", "description"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows)));
  }
  body.replaceChildren(card);
  renderPacketPage(name);
}

function valueText(packet, f, v) {
  if (f.enum && typeof v === "number") return `${enumName(packet, f.name, v)} (${v})`;
  return fmt(v);
}

function renderPacketPage(name) {
  const p = packetSchema(name);
  if (!p) return;
  if (p.mux) {
    const keys = Object.keys(S.latest).filter((k) => k.startsWith(name + "[")).sort((a, b) =>
      (S.latest[a].v[p.fields[0].name] - S.latest[b].v[p.fields[0].name]));
    const tb = $("#pkt-table tbody");
    if (!tb) return;
    tb.replaceChildren(...keys.map((k) => {
      const m = S.latest[k];
      return el("tr", {}, ...p.fields.map((f) => {
        const td = el("td", { class: "num", text: valueText(name, f, m.v[f.name]) });
        const l = m.lim[f.name];
        if (l) { setState(td, l[0]); td.title = limText(l[1]); }
        return td;
      }));
    }));
    if (keys.length) $("#pkt-meta").textContent = `newest T+ ${Math.max(...keys.map((k) => S.latest[k].t)).toFixed(2)} s`;
    return;
  }
  const m = S.latest[name];
  if (!m) return;
  $("#pkt-meta").textContent = `T+ ${m.t.toFixed(2)} s, sequence count ${m.s}`;
  for (const [f, i] of flatFields(p)) {
    const id = `pv-${f.name}-${i === null ? "" : i}`;
    const cell = document.getElementById(id);
    if (!cell) continue;
    const v = i === null ? m.v[f.name] : m.v[f.name][i];
    cell.textContent = valueText(name, f, v);
    let l = m.lim[f.name];
    if (l && i !== null) l = l[i];
    setState(cell, l ? l[0] : null);
    document.getElementById(id + "-lim").textContent = l ? limText(l[1]) : "";
  }
}

// ------------------------------------------------------------------------------------------- plots

function channels() {
  // [label, [key, field, index]] of every numeric value of every packet (per source for multiplexed ones)
  const out = [];
  for (const p of S.schema.packets) {
    const keys = p.mux ? Object.keys(S.latest).filter((k) => k.startsWith(p.name + "[")).sort() : [p.name];
    if (p.mux && p.name === "EXEC_TASK_TIMING" && !keys.length) {
      for (const [id, n] of Object.entries(S.schema.sources)) if (Number(id) < 254) keys.push(`${p.name}[${n}]`);
    }
    for (const key of keys) {
      for (const f of p.fields) {
        if (f.type === "char") continue;
        const unit = f.unit ? ` [${f.unit}]` : "";
        if (f.count === 1) out.push([`${key}.${f.name}${unit}`, [key, f.name, null]]);
        else for (let i = 0; i < f.count; i++) out.push([`${key}.${f.name}[${i}]${unit}`, [key, f.name, i]]);
      }
    }
  }
  return out;
}

function buildPlotControls() {
  const sel = $("#plot-channel");
  const fill = () => {
    const keep = sel.value;
    sel.replaceChildren(...channels().map(([label, ch]) => el("option", { value: JSON.stringify(ch), text: label })));
    if (keep) sel.value = keep;
  };
  fill();
  sel.addEventListener("focus", fill);
  $("#plot-add").addEventListener("click", () => addPlot(JSON.parse(sel.value)));
  $("#plot-window").addEventListener("change", () => { for (const p of S.plots) p.dirty = true; });
}

function channelLabel([key, field, i]) { return `${key}.${field}${i === null ? "" : `[${i}]`}`; }

async function addPlot(ch) {
  const id = ++S.plotSeq;
  const div = el("div", { class: "plot", id: `plot-${id}` });
  const addSel = el("select");
  const card = el("div", { class: "card plot-card" },
    el("div", { class: "controls" }, el("b", { text: `plot ${id}` }), addSel,
      el("button", { class: "plot-more", text: "add channel" }), el("button", { class: "plot-remove", text: "remove" })),
    div);
  $("#plots").prepend(card);
  const plot = { id, div, channels: [], dirty: true, card, lastT: null };
  S.plots.push(plot);
  const fill = () => addSel.replaceChildren(...channels().map(([label, c]) => el("option", { value: JSON.stringify(c), text: label })));
  fill();
  addSel.addEventListener("focus", fill);
  card.querySelector(".plot-more").addEventListener("click", () => addChannel(plot, JSON.parse(addSel.value)));
  card.querySelector(".plot-remove").addEventListener("click", () => {
    S.plots = S.plots.filter((p) => p !== plot);
    if (window.Plotly) Plotly.purge(div);
    card.remove();
  });
  await addChannel(plot, ch);
  return plot;
}

async function addChannel(plot, ch) {
  plot.channels.push(ch);
  plot.dirty = true;
  await backfill(ch[0]);
  plot.dirty = true;
}

async function backfill(key) {
  // the history the server kept before this page had the packet: prepended to the live buffer
  const b = S.buffers[key] || (S.buffers[key] = { t: [], rows: [] });
  if (b.filled) return;
  b.filled = true;
  const r = await fetch(`/api/history?key=${encodeURIComponent(key)}`);
  if (!r.ok) return;
  const h = await r.json();
  const first = b.t.length ? b.t[0] : Infinity;
  const t = [], rows = [];
  h.t.forEach((ti, j) => {
    if (ti >= first) return;
    const row = {};
    for (const [f, col] of Object.entries(h.v)) row[f] = col[j];
    t.push(ti); rows.push(row);
  });
  b.t = t.concat(b.t);
  b.rows = rows.concat(b.rows);
}

function tickPlots() {
  if (S.page === "overview") drawApproach();
  if (S.page !== "plots" || !window.Plotly) return;
  const windowS = Math.max(Number($("#plot-window").value) || 5, 0.1) * 60;
  let drawn = 0;
  for (const plot of S.plots) {
    const newest = Math.max(...plot.channels.map(([key]) => { const b = S.buffers[key]; return b && b.t.length ? b.t[b.t.length - 1] : -Infinity; }));
    if (!plot.dirty && newest === plot.lastT) continue;
    const t1 = S.newestT === null ? newest : S.newestT;
    const traces = plot.channels.map((ch) => {
      const [key, field, i] = ch;
      const b = S.buffers[key] || { t: [], rows: [] };
      const x = [], y = [];
      for (let j = 0; j < b.t.length; j++) {
        if (b.t[j] < t1 - windowS) continue;
        const v = b.rows[j][field];
        const yv = i === null ? v : (v ? v[i] : null);
        x.push(b.t[j]); y.push(typeof yv === "number" ? yv : null);
      }
      return { x, y, name: channelLabel(ch), mode: "lines", type: "scatter" };
    });
    Plotly.react(plot.div, traces, {
      margin: { l: 60, r: 10, t: 10, b: 40 }, paper_bgcolor: "#1b222b", plot_bgcolor: "#12161c",
      font: { color: "#dde3ea", size: 11 }, showlegend: true, legend: { orientation: "h", y: 1.12 },
      xaxis: { title: { text: "mission time [s]" }, range: [t1 - windowS, t1], gridcolor: "#2c3642" },
      yaxis: { gridcolor: "#2c3642" }, uirevision: String(plot.id),
    }, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] });
    plot.dirty = false;
    plot.lastT = newest;
    drawn += 1;
    S.stats.plotDraws += 1;
    S.stats.plotLag = S.newestT === null ? null : S.newestT - newest;
  }
  if (drawn) {
    S.lastPlotDraw = nowMs();
    $("#plot-stats").textContent = `${S.stats.plotDraws} redraws`;
  }
}

function drawApproach() {
  if (!S.approachDirty || !window.Plotly) return;
  S.approachDirty = false;
  const b = S.buffers.DOCKING_MONITOR;
  if (!b || !b.t.length) return;
  const rng = [], closing = [];
  for (const row of b.rows) { rng.push(row.range_m); closing.push(-row.range_rate_mps); }
  const s = S.ov.approach;
  const top = Math.max(...rng.filter((x) => typeof x === "number"), 20);
  const xs = [], prof = [], abort = [];
  const cfg = S.schema.approach;
  for (let k = 0; k <= 100; k++) {
    const x = top * k / 100;
    const p = interp(x, cfg.profile_range_m, cfg.profile_speed_mps);
    xs.push(x); prof.push(p); abort.push(cfg.closing_rate_factor * p + cfg.closing_rate_margin_mps);
  }
  Plotly.react("ov-approach-plot", [
    { x: xs, y: prof, name: "speed profile", mode: "lines", line: { color: "#3fb950", dash: "dash" } },
    { x: xs, y: abort, name: "abort above", mode: "lines", line: { color: "#f85149", dash: "dot" } },
    { x: rng, y: closing, name: "closing rate", mode: "lines", line: { color: "#58a6ff" } },
    { x: [s.range_m], y: [s.closing_mps], name: "now", mode: "markers", marker: { size: 9, color: "#fff" } },
  ], {
    margin: { l: 50, r: 10, t: 6, b: 36 }, paper_bgcolor: "#1b222b", plot_bgcolor: "#12161c",
    font: { color: "#dde3ea", size: 11 }, showlegend: true, legend: { orientation: "h", y: 1.15 },
    xaxis: { title: { text: "range [m]" }, gridcolor: "#2c3642", autorange: "reversed" },
    yaxis: { title: { text: "closing [m/s]" }, gridcolor: "#2c3642" }, uirevision: "approach",
  }, { displaylogo: false, responsive: true, staticPlot: false });
}

function interp(x, xp, fp) {
  if (x <= xp[0]) return fp[0];
  for (let i = 1; i < xp.length; i++) {
    if (x <= xp[i]) return fp[i - 1] + (x - xp[i - 1]) / (xp[i] - xp[i - 1]) * (fp[i] - fp[i - 1]);
  }
  return fp[fp.length - 1];
}

// ------------------------------------------------------------------------------------------- events

function buildEventControls() {
  const box = $("#ev-severities");
  for (const name of Object.values(S.schema.severities)) {
    const cb = el("input", { type: "checkbox", value: name, class: "ev-sev" });
    cb.checked = true;
    cb.addEventListener("change", () => { S.dirty.events = true; queueRender(); });
    box.append(el("label", {}, cb, " " + name), " ");
  }
  const src = $("#ev-source");
  const fill = () => {
    const keep = src.value;
    const names = new Set(Object.values(S.schema.sources));
    for (const e of S.events) names.add(e.src);
    src.replaceChildren(el("option", { value: "", text: "all" }), ...[...names].sort().map((n) => el("option", { value: n, text: n })));
    src.value = keep;
  };
  fill();
  src.addEventListener("focus", fill);
  src.addEventListener("change", () => { S.dirty.events = true; queueRender(); });
  $("#ev-text").addEventListener("input", () => { S.dirty.events = true; queueRender(); });
}

function renderEvents() {
  const sev = new Set([...document.querySelectorAll(".ev-sev")].filter((c) => c.checked).map((c) => c.value));
  const src = $("#ev-source").value;
  const text = $("#ev-text").value.toLowerCase();
  const shown = S.events.filter((e) => sev.has(e.sev) && (!src || e.src === src) &&
    (!text || e.text.toLowerCase().includes(text) || e.name.toLowerCase().includes(text))).slice(-EVENTS_SHOWN).reverse();
  $("#ev-table tbody").replaceChildren(...shown.map((e) => el("tr", { class: `sev-${e.sev}` },
    el("td", { class: "num", text: e.t.toFixed(2) }), el("td", { text: e.sev }), el("td", { text: e.src }),
    el("td", { class: "mono", text: `${e.name} (${e.id})` }), el("td", { text: e.text }),
    el("td", { class: "mono small", text: (e.args || []).map((a) => fmt(a, 5)).join(", ") }))));
  $("#ev-count").textContent = `${shown.length} shown of ${S.events.length}`;
}

// ------------------------------------------------------------------------------------------- commands

function checkArg(f, text) {
  // the page's own check (the server checks again): null when valid, else the reason
  const t = String(text).trim();
  if (f.enum && Object.values(f.enum).some((n) => n.toUpperCase() === t.toUpperCase())) return null;
  if (t === "") return `${f.name}: a value is needed`;
  const v = Number(t);
  if (!Number.isFinite(v)) return `${f.name}: ${t} is not a number`;
  if (f.integer && !Number.isInteger(v)) return `${f.name}: ${t} is not an integer`;
  if ((f.lo !== null && v < f.lo) || (f.hi !== null && v > f.hi)) return `${f.name}: ${t} is out of range [${f.lo}, ${f.hi}]`;
  return null;
}

function buildCommandPanel() {
  const panel = $("#cmd-panel");
  $("#cmd-uplink").textContent = S.schema.authenticated_uplink
    ? "commands go up authenticated by the console's key (SDLS: SPI, ARSN, MAC); the page never sees the key"
    : "commands go up plain (no key file: the flight accepts them from loopback only)";
  for (const c of S.schema.commands) {
    const card = el("div", { class: "card cmd", id: `cmd-${c.name}` });
    const head = el("div", { class: "cmd-head" }, el("b", { text: c.name }));
    if (c.hazardous) head.append(el("span", { class: "haz", text: "HAZARDOUS: ARM + command" }));
    card.append(head, el("div", { class: "desc", text: c.description }));
    if (c.not_from_panel) {
      card.append(el("div", { class: "desc", text: `not sent from the console: ${c.not_from_panel}` }));
      panel.append(card);
      continue;
    }
    const inputs = [];
    for (const f of c.args) {
      let input;
      if (f.enum) {
        input = el("select", { name: f.name, id: `arg-${c.name}-${f.name}` },
          ...Object.values(f.enum).map((n) => el("option", { value: n, text: n })));
      } else {
        input = el("input", { name: f.name, id: `arg-${c.name}-${f.name}`, type: "number", step: f.integer ? "1" : "any" });
        if (f.lo !== null) input.min = f.lo;
        if (f.hi !== null) input.max = f.hi;
      }
      const err = el("span", { class: "arg-error", id: `err-${c.name}-${f.name}` });
      const range = f.lo !== null ? `[${f.lo}, ${f.hi}]` : "";
      card.append(el("div", { class: "arg" }, el("label", { for: input.id, text: f.name }), input,
        el("span", { class: "small", text: `${range} ${f.unit}`.trim() }), err));
      inputs.push([f, input, err]);
    }
    const send = el("button", { id: `send-${c.name}`, class: c.hazardous ? "danger" : "", text: c.hazardous ? "Send..." : "Send" });
    const msg = el("div", { class: "cmd-msg", id: `msg-${c.name}` });
    card.append(el("div", { class: "arg" }, send), msg);
    const validate = (all) => {
      let ok = true;
      for (const [f, input, err] of inputs) {
        const why = checkArg(f, input.value);
        const say = why && (all || input.dataset.touched);  // an empty form is not an error yet
        err.textContent = say ? why : "";
        input.classList.toggle("bad", !!say);
        ok = ok && !why;
      }
      send.disabled = !ok;
      return ok;
    };
    for (const [, input] of inputs) {
      input.addEventListener("input", () => { input.dataset.touched = "1"; validate(false); });
    }
    validate(false);
    send.addEventListener("click", () => {
      if (!validate(true)) { msg.textContent = "refused in the page: fix the arguments"; msg.className = "cmd-msg err"; return; }
      const args = Object.fromEntries(inputs.map(([f, input]) => [f.name, input.value.trim()]));
      if (c.hazardous) confirmThen(c, args, msg); else postCommand(c, args, false, msg);
    });
    panel.append(card);
  }
  $("#confirm-check").addEventListener("change", (e) => { $("#confirm-send").disabled = !e.target.checked; });
  $("#confirm-cancel").addEventListener("click", closeConfirm);
}

let pendingConfirm = null;
function confirmThen(c, args, msg) {
  pendingConfirm = { c, args, msg };
  $("#confirm-text").textContent = `${c.name}: ${c.description}. It goes up as ARM, then ${c.name} once ARM is COMPLETED.`;
  $("#confirm-label").textContent = `I confirm: send ${c.name} to the flight`;
  $("#confirm-check").checked = false;
  const btn = $("#confirm-send");
  btn.disabled = true;
  btn.textContent = `Send ARM + ${c.name}`;
  btn.onclick = () => {
    if (!$("#confirm-check").checked || !pendingConfirm) return;
    const p = pendingConfirm;
    closeConfirm();
    postCommand(p.c, p.args, true, p.msg);
  };
  $("#confirm").hidden = false;
}
function closeConfirm() { $("#confirm").hidden = true; pendingConfirm = null; }

async function postCommand(c, args, confirm, msg) {
  msg.textContent = "sending...";
  msg.className = "cmd-msg";
  try {
    const r = await fetch("/api/command", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ name: c.name, args, confirm }) });
    const body = await r.json();
    if (!r.ok) { msg.textContent = `refused by the console: ${body.error}`; msg.className = "cmd-msg err"; return; }
    S.cmds.set(body.entry.id, body.entry);
    msg.textContent = `queued as #${body.entry.id}: see the history`;
    S.dirty.cmds = true;
    queueRender();
  } catch (e) {
    msg.textContent = `not sent: ${e}`;
    msg.className = "cmd-msg err";
  }
}

function statusClass(s) {
  if (s === "COMPLETED") return "status-COMPLETED";
  if (["REJECTED", "NOT SENT", "NO ACK"].includes(s) || /REJECTED/.test(s)) return "status-bad";
  return "status-pending";
}

function renderHistory() {
  const rows = [...S.cmds.values()].sort((a, b) => b.id - a.id);
  $("#cmd-history tbody").replaceChildren(...rows.map((e) => {
    const args = Object.entries(e.args).map(([k, v]) => `${k}=${v}`).join(" ");
    const acks = e.steps.map((s) => `${s.cmd}: ${s.acks.length ? s.acks.map((a) => a.status + (a.reason ? " " + a.reason : "")).join(", ") : s.status}`).join(" | ");
    const status = e.status + (e.reason && !/COMPLETED/.test(e.status) ? `: ${e.reason}` : "");
    return el("tr", { "data-id": String(e.id), "data-status": e.status },
      el("td", { text: String(e.id) }),
      el("td", { class: "small", text: `${new Date(e.wall_ms).toLocaleTimeString()}${e.mission_t === null ? "" : ` (T+ ${e.mission_t.toFixed(1)})`}` }),
      el("td", { class: "mono", text: `${e.name} ${args}`.trim() }), el("td", { class: "small", text: acks }),
      el("td", { class: statusClass(e.status), text: status }));
  }));
}

boot();
