// The ferroalloy UI: routes on the page path, renders the JSON of /api/v0/web/* with
// DOM calls (never innerHTML with data, so component values cannot inject markup),
// and refreshes every few seconds without reloading the page.
"use strict";

const REFRESH_MS = 2000;
const app = document.getElementById("app");
let timer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children.flat()) {
    node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store" });
  if (!resp.ok) throw new Error(url + ": " + resp.status + " " + (await resp.text()));
  return resp.json();
}

function badge(health) {
  const state = (health && health.state) || "unknown";
  return el("span", { class: "badge " + state, title: (health && health.message) || "" }, state);
}

function componentHref(id) {
  return "component/" + id.split("/").map(encodeURIComponent).join("/");
}

function rateText(rate) {
  if (rate === undefined || rate === null) return "";
  return (rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)) + " samples/s";
}

function refresh(fn) {
  clearInterval(timer);
  const tick = () => fn().catch((err) => showError(err));
  tick();
  timer = setInterval(tick, REFRESH_MS);
}

function showError(err) {
  let box = document.getElementById("error");
  if (!box) {
    box = el("p", { id: "error", role: "alert", class: "muted" });
    app.prepend(box);
  }
  box.textContent = "Could not refresh: " + err.message;
}

function clearError() {
  const box = document.getElementById("error");
  if (box) box.remove();
}

// --- Component list -------------------------------------------------------------

function componentTable(list, filterText) {
  const needle = (filterText || "").toLowerCase();
  const rows = list
    .filter((c) => !needle || (c.id + " " + c.name + " " + c.health.state).toLowerCase().includes(needle))
    .map((c) =>
      el("tr", { "data-id": c.id },
        el("td", {}, badge(c.health)),
        el("td", {}, el("a", { href: componentHref(c.id) }, c.localID)),
        el("td", { class: "muted" }, c.health.message || ""),
        el("td", {}, rateText(c.samplesPerSecond)),
        el("td", {}, el("a", { href: componentHref(c.id), "aria-label": "View " + c.localID }, "View"))));
  return el("table", { id: "components" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Health"), el("th", { scope: "col" }, "Component"),
      el("th", { scope: "col" }, "Message"), el("th", { scope: "col" }, "Forwarding"),
      el("th", { scope: "col" }, ""))),
    el("tbody", {}, rows));
}

function pageList() {
  app.replaceChildren(
    el("h1", {}, "Components"),
    el("label", { for: "filter", class: "muted" }, "Filter "),
    el("input", { id: "filter", class: "filter", type: "search", placeholder: "id, type or health" }),
    el("div", { id: "table" }, "Loading…"));
  const filter = document.getElementById("filter");
  let last = [];
  const draw = () => document.getElementById("table").replaceChildren(componentTable(last, filter.value));
  filter.addEventListener("input", draw);
  refresh(async () => {
    last = await getJSON("api/v0/web/components");
    clearError();
    draw();
  });
}

// --- Component detail -----------------------------------------------------------

function valueTree(v) {
  if (!v) return el("span", { class: "cap" }, "null");
  switch (v.type) {
    case "null": return el("span", { class: "cap" }, "null");
    case "string": return el("span", { class: "str" }, JSON.stringify(v.value));
    case "number": return el("span", { class: "num" }, String(v.value));
    case "bool": return el("span", { class: "num" }, String(v.value));
    case "capsule": case "function": return el("span", { class: "cap" }, String(v.value));
    case "array":
      if (!v.value.length) return el("span", {}, "[]");
      return el("ul", {}, v.value.map((item) => el("li", {}, valueTree(item))));
    case "object":
      if (!v.value.length) return el("span", {}, "{}");
      return el("ul", {}, v.value.map((f) => el("li", {}, el("span", { class: "key" }, f.key), " = ", valueTree(f.value))));
    default: return el("span", {}, JSON.stringify(v));
  }
}

function bodyTree(body) {
  if (!body || !body.length) return el("p", { class: "muted" }, "(none)");
  return el("ul", {}, body.map((entry) => {
    if (entry.type === "block") {
      const title = entry.label ? entry.name + ' "' + entry.label + '"' : entry.name;
      return el("li", {}, el("span", { class: "key" }, title), " {", bodyTree(entry.body), "}");
    }
    return el("li", {}, el("span", { class: "key" }, entry.name), " = ", valueTree(entry.value));
  }));
}

function idLinks(ids, moduleID) {
  if (!ids || !ids.length) return el("span", { class: "muted" }, "(none)");
  return el("ul", {}, ids.map((id) => {
    const full = moduleID ? moduleID + "/" + id : id;
    return el("li", {}, el("a", { href: componentHref(full) }, id));
  }));
}

function pageComponent(id) {
  app.replaceChildren(el("p", {}, "Loading…"));
  refresh(async () => {
    const c = await getJSON("api/v0/web/components/" + id.split("/").map(encodeURIComponent).join("/"));
    const parts = [
      el("h1", {}, badge(c.health), " ", c.localID),
      el("p", {}, el("a", { id: "live-link", href: "debug/" + id.split("/").map(encodeURIComponent).join("/") }, "Live debugging")),
      c.moduleID ? el("p", {}, "In module ", el("a", { href: componentHref(c.moduleID) }, c.moduleID),
        " · ", el("a", { href: "graph/" + c.moduleID }, "module graph")) : null,
      el("p", { id: "health-message" }, c.health.message, el("span", { class: "muted" }, " (" + c.health.updatedTime + ")")),
      c.samplesPerSecond !== undefined ? el("p", {}, "Forwarding " + rateText(c.samplesPerSecond) + " (" + c.samplesTotal + " in total)") : null,
      el("h2", {}, "Arguments"), el("div", { class: "tree", id: "arguments" }, bodyTree(c.arguments)),
      el("h2", {}, "Exports"), el("div", { class: "tree", id: "exports" }, bodyTree(c.exports)),
      el("h2", {}, "Debug info"), el("div", { class: "tree", id: "debug" }, bodyTree(c.debugInfo)),
      el("h2", {}, "References"),
      el("p", {}, "Depends on:"), idLinks(c.referencesTo, c.moduleID),
      el("p", {}, "Used by:"), idLinks(c.referencedBy, c.moduleID),
    ];
    for (const m of c.createdModuleIDs || []) {
      const inner = await getJSON("api/v0/web/modules/" + m + "/components");
      parts.push(el("h2", {}, "Module components"),
        el("p", {}, el("a", { href: "graph/" + m }, "Graph of this module")),
        componentTable(inner, ""));
    }
    parts.push(el("h2", {}, "Source"), el("p", { class: "muted" }, c.file || ""), el("pre", { id: "source" }, c.source || ""));
    clearError();
    app.replaceChildren(...parts.filter(Boolean));
  });
}

// --- Graph ----------------------------------------------------------------------

const NODE_W = 240, NODE_H = 40, COL_GAP = 130, ROW_GAP = 8, PAD = 12;
// A folded layout leaves BAND_GAP between bands and TURN on both sides for the
// edges that turn round from one band into the next.
const BAND_GAP = 56, TURN = 64;
// Below this scale labels get hard to read, so a long chain folds instead.
const MIN_SCALE = 0.5;

function layoutKey(list) {
  return list.map((c) => c.localID + ">" + (c.dataFlowEdgesTo || []).join(",")).join(";");
}

// Layered layout: a component's column is the longest data-flow path reaching it;
// rows follow the mean row of its predecessors, which keeps most edges short. When
// the columns are too many to fit `availW`×`availH` at MIN_SCALE, they fold into
// bands stacked top to bottom, every other band running right to left (a
// serpentine), so the edge from one band into the next is a short turn at the side.
function layout(list, availW, availH) {
  const byId = new Map(list.map((c) => [c.localID, c]));
  const preds = new Map(list.map((c) => [c.localID, []]));
  const edges = [];
  for (const c of list) {
    for (const t of c.dataFlowEdgesTo || []) {
      if (!byId.has(t)) continue;
      preds.get(t).push(c.localID);
      edges.push([c.localID, t]);
    }
  }
  const layer = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const p of preds.get(id)) d = Math.max(d, depth(p) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  list.forEach((c) => depth(c.localID));
  // A pure source (a file, a discovery) sits just left of its first consumer, so
  // its edges do not run behind the nodes in between.
  const succs = new Map(list.map((c) => [c.localID, []]));
  for (const [from, to] of edges) succs.get(from).push(to);
  for (const c of list) {
    const id = c.localID;
    if (preds.get(id).length === 0 && succs.get(id).length > 0) {
      layer.set(id, Math.max(0, Math.min(...succs.get(id).map((s) => layer.get(s))) - 1));
    }
  }
  const columns = [];
  for (const c of list) {
    const l = layer.get(c.localID);
    (columns[l] = columns[l] || []).push(c.localID);
  }
  const row = new Map();
  columns.forEach((col, i) => {
    if (i > 0) {
      const key = (id) => {
        const ps = preds.get(id).filter((p) => row.has(p));
        return ps.length ? ps.reduce((s, p) => s + row.get(p), 0) / ps.length : Infinity;
      };
      col.sort((a, b) => key(a) - key(b) || a.localeCompare(b));
    }
    col.forEach((id, j) => row.set(id, j));
  });

  const n = Math.max(1, columns.length);
  const stack = (count) => Math.max(1, count) * NODE_H + (Math.max(1, count) - 1) * ROW_GAP;
  // The size of the graph with `per` columns in each band.
  const measure = (per) => {
    const bands = Math.ceil(n / per);
    const side = bands > 1 ? TURN : 0;
    const heights = [];
    for (let b = 0; b < bands; b++) {
      const cols = columns.slice(b * per, (b + 1) * per);
      heights.push(stack(Math.max(1, ...cols.map((c) => (c ? c.length : 0)))));
    }
    const width = PAD * 2 + side * 2 + per * NODE_W + (per - 1) * COL_GAP;
    const height = PAD * 2 + heights.reduce((s, h) => s + h, 0) + (bands - 1) * BAND_GAP;
    return { per, side, heights, width, height, scale: Math.min(1, availW / width, availH / height) };
  };
  let best = measure(n);
  if (best.scale < MIN_SCALE) {
    for (let per = n - 1; per >= 1; per--) {
      const m = measure(per);
      if (m.scale > best.scale) best = m;
    }
  }

  const pos = new Map();
  let top = PAD;
  best.heights.forEach((bandH, b) => {
    const dir = b % 2 === 0 ? 1 : -1;
    for (let k = 0; k < best.per; k++) {
      const col = columns[b * best.per + k] || [];
      const slot = dir > 0 ? k : best.per - 1 - k;
      // Centre short columns vertically in their band.
      const y0 = top + (bandH - stack(col.length)) / 2;
      col.forEach((id, j) => pos.set(id, {
        x: PAD + best.side + slot * (NODE_W + COL_GAP), y: y0 + j * (NODE_H + ROW_GAP), band: b, dir,
      }));
    }
    top += bandH + BAND_GAP;
  });
  return {
    pos, edges, width: best.width, height: best.height, scale: best.scale,
    bands: best.heights.length, key: layoutKey(list),
  };
}

// The path of an edge and where its rate label goes. Edges leave a node on the side
// its band flows towards and enter on the other; one that changes band bends round
// through the side margin.
function edgePath(a, b) {
  const x1 = a.dir > 0 ? a.x + NODE_W : a.x, y1 = a.y + NODE_H / 2;
  const x2 = b.dir > 0 ? b.x : b.x + NODE_W, y2 = b.y + NODE_H / 2;
  if (a.band === b.band) {
    const mx = (x1 + x2) / 2;
    return {
      d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
      label: { x: x1 + 6 * a.dir, y: y1 - 6, anchor: a.dir > 0 ? "start" : "end" },
    };
  }
  const reach = TURN + 16;
  return {
    d: `M ${x1} ${y1} C ${x1 + a.dir * reach} ${y1}, ${x2 - b.dir * reach} ${y2}, ${x2} ${y2}`,
    // Under the source, in the gap between the bands.
    label: { x: x1 - 6 * a.dir, y: a.y + NODE_H + 16, anchor: a.dir > 0 ? "end" : "start" },
  };
}

function shorten(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function drawGraph(list, moduleID, box) {
  // Scale to the space left in the window, never above natural size: the whole
  // graph stays visible in a 1280×800 window without scrolling.
  const availW = Math.max(320, box.clientWidth || window.innerWidth - 40);
  const availH = Math.max(240, window.innerHeight - box.getBoundingClientRect().top - 8);
  const g = layout(list, availW, availH);
  const scale = g.scale;
  const root = svg("svg", {
    class: "graph", id: "graph", role: "img", "aria-label": "Component graph",
    viewBox: "0 0 " + g.width + " " + g.height,
    width: Math.floor(g.width * scale), height: Math.floor(g.height * scale),
    "data-layout": g.key, "data-bands": g.bands,
  });
  root.appendChild(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#57606a" }))));
  for (const [from, to] of g.edges) {
    const e = edgePath(g.pos.get(from), g.pos.get(to));
    const label = svg("text", { x: e.label.x, y: e.label.y, "text-anchor": e.label.anchor, class: "rate", "data-from": from }, "");
    root.appendChild(svg("g", { class: "edge", "data-from": from, "data-to": to },
      svg("path", { d: e.d, "marker-end": "url(#arrow)" }),
      label));
  }
  for (const c of list) {
    const p = g.pos.get(c.localID);
    const full = moduleID ? moduleID + "/" + c.localID : c.localID;
    const hasModule = (c.createdModuleIDs || []).length > 0;
    const title = svg("title", {}, c.localID + " — " + c.health.state + ": " + c.health.message);
    const group = svg("g", { class: "node " + c.health.state, "data-id": c.localID, tabindex: "0" },
      title,
      svg("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6 }),
      svg("text", { x: p.x + 8, y: p.y + 17, "font-size": "15", "font-weight": "600" }, shorten(c.name, 27)),
      svg("text", { x: p.x + 8, y: p.y + 34, "font-size": "14" }, shorten(c.label || c.localID, 28) + (hasModule ? "  ⊞" : "")));
    const link = svg("a", { href: hasModule ? "graph/" + c.createdModuleIDs[0] : componentHref(full) }, group);
    root.appendChild(link);
  }
  return root;
}

function updateGraph(root, list) {
  const byId = new Map(list.map((c) => [c.localID, c]));
  for (const node of root.querySelectorAll("g.node")) {
    const c = byId.get(node.getAttribute("data-id"));
    if (!c) continue;
    node.setAttribute("class", "node " + c.health.state);
    node.querySelector("title").textContent = c.localID + " — " + c.health.state + ": " + c.health.message;
  }
  for (const text of root.querySelectorAll("text.rate")) {
    const c = byId.get(text.getAttribute("data-from"));
    text.textContent = c ? rateText(c.samplesPerSecond) : "";
  }
}

function pageGraph(moduleID) {
  const url = moduleID ? "api/v0/web/modules/" + moduleID + "/components" : "api/v0/web/components";
  app.replaceChildren(...[
    el("div", { class: "legend" },
      el("h1", {}, moduleID ? "Graph of module " + moduleID : "Graph"),
      moduleID ? el("a", { href: componentHref(moduleID) }, "Back to " + moduleID) : null,
      ["healthy", "unhealthy", "unknown", "exited"].map((s) => badge({ state: s })),
      el("span", { class: "muted" }, "Edges follow data flow, labelled in samples/s. ⊞ opens a module.")),
    el("div", { class: "graph-wrap", id: "graph-box" }, "Loading…")].filter(Boolean));
  const box = document.getElementById("graph-box");
  // A new window size may fold the graph differently: redraw at the next refresh.
  window.addEventListener("resize", () => {
    const root = document.getElementById("graph");
    if (root) root.removeAttribute("data-layout");
  });
  refresh(async () => {
    const list = await getJSON(url);
    clearError();
    let root = document.getElementById("graph");
    if (!root || root.getAttribute("data-layout") !== layoutKey(list)) {
      box.replaceChildren();
      root = drawGraph(list, moduleID, box);
      box.appendChild(root);
    }
    updateGraph(root, list);
  });
}

// --- Live debugging -------------------------------------------------------------

// Entries kept on screen; older ones are dropped so a busy component cannot grow the
// page without bound.
const LIVE_MAX = 1000;
// What separates entries in the stream of /api/v0/web/debug/{id}.
const LIVE_SEPARATOR = "|;|";

function pageDebug(id) {
  clearInterval(timer);
  const path = id.split("/").map(encodeURIComponent).join("/");
  const status = el("p", { id: "live-status", class: "muted", role: "status" }, "Connecting…");
  const lines = el("div", { id: "live-lines", class: "live" });
  const pause = el("button", { id: "live-pause", type: "button" }, "Pause");
  const clear = el("button", { id: "live-clear", type: "button" }, "Clear");
  const prob = el("input", { id: "live-prob", type: "number", min: "0", max: "1", step: "0.01", value: "1" });
  app.replaceChildren(
    el("h1", {}, "Live debugging: ", el("a", { href: componentHref(id) }, id)),
    el("div", { class: "live-controls" }, pause, clear,
      el("label", { for: "live-prob" }, "Sample probability "), prob,
      el("span", { class: "muted", id: "live-count" }, "")),
    status, lines);
  let paused = false;
  let controller = null;
  const count = () => {
    document.getElementById("live-count").textContent = lines.childElementCount + " entries shown (at most " + LIVE_MAX + ")";
  };
  const add = (entry) => {
    if (paused || entry === "") return;
    lines.appendChild(el("div", { class: "entry" }, entry));
    while (lines.childElementCount > LIVE_MAX) lines.firstElementChild.remove();
    count();
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
  });
  clear.addEventListener("click", () => {
    lines.replaceChildren();
    count();
  });
  // Reads the stream, splitting on the separator; text left when the stream ends
  // without a separator is the server's message (live debugging disabled, say).
  const connect = async () => {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    const p = Number(prob.value);
    const query = Number.isFinite(p) && p >= 0 && p <= 1 ? "?sampleProb=" + p : "";
    status.textContent = "Connecting…";
    try {
      const resp = await fetch("api/v0/web/debug/" + path + query, { cache: "no-store", signal: mine.signal });
      if (!resp.ok) throw new Error(resp.status + " " + (await resp.text()));
      status.textContent = "Streaming the entries of " + id + " as they happen.";
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const parts = buffer.split(LIVE_SEPARATOR);
        buffer = parts.pop();
        parts.forEach(add);
      }
      buffer += decoder.decode();
      if (controller !== mine) return;
      if (buffer.trim()) {
        status.textContent = buffer.trim();
        status.className = "notice";
      } else {
        status.textContent = "The stream ended; change the sample probability to reconnect.";
      }
    } catch (err) {
      if (controller === mine && err.name !== "AbortError") status.textContent = "Could not stream: " + err.message;
    }
  };
  prob.addEventListener("change", connect);
  count();
  connect();
}

// --- Clustering -----------------------------------------------------------------

function pageClustering() {
  app.replaceChildren(el("h1", {}, "Clustering"), el("div", { id: "peers" }, "Loading…"));
  refresh(async () => {
    const peers = await getJSON("api/v0/web/peers");
    const owned = await getJSON("api/v0/web/cluster/targets");
    clearError();
    const self = peers.find((p) => p.isSelf);
    const localHash = self && self.configHash;
    const rows = peers.map((p) => {
      const divergent = localHash !== undefined && p.configHash !== undefined && p.configHash !== localHash;

      return el("tr", { class: divergent ? "divergent" : null, "data-peer": p.name },
        el("td", {}, p.name, p.isSelf ? el("strong", { class: "local" }, " (this node)") : null),
        el("td", {}, p.addr),
        el("td", {}, p.state),
        el("td", { class: "owned" }, String(owned[p.name] || 0)),
        el("td", {}, p.configHash === undefined ? "—" : String(p.configHash),
          divergent ? el("strong", {}, " differs from this node") : null));
    });
    document.getElementById("peers").replaceChildren(
      el("p", { class: "muted" }, peers.length + " peer" + (peers.length === 1 ? "" : "s")),
      el("table", { id: "peer-table" },
        el("thead", {}, el("tr", {},
          el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Advertised address"),
          el("th", { scope: "col" }, "State"), el("th", { scope: "col" }, "Owned targets"),
          el("th", { scope: "col" }, "Config hash"))),
        el("tbody", {}, rows)));
  });
}

// --- Routing --------------------------------------------------------------------

function route() {
  const base = new URL(document.baseURI).pathname;
  const path = decodeURIComponent(location.pathname.slice(base.length));
  let nav = "components";
  if (path.startsWith("component/")) pageComponent(path.slice("component/".length));
  else if (path.startsWith("debug/")) pageDebug(path.slice("debug/".length));
  else if (path === "graph" || path.startsWith("graph/")) { nav = "graph"; pageGraph(path.slice("graph/".length)); }
  else if (path === "clustering") { nav = "clustering"; pageClustering(); }
  else pageList();
  for (const a of document.querySelectorAll("nav a[data-nav]")) {
    if (a.getAttribute("data-nav") === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

route();
