// consul-sim dashboard: reads /_sim/stream (server-sent events) and draws the world.
// Plain JavaScript with no dependencies, so the page works offline with no build step.
"use strict";

const JOURNAL_KEEP = 500;
const BAD = /drop|lost|partition|refus|crash|fail|denied|unreachable/i;
const $ = (id) => document.getElementById(id);
let world = null;
let centers = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const STATE_COLOUR = {
  ACTIVE: "#1b9e3e", FAILING: "#d62828", PENDING: "#f0a202", ESTABLISHING: "#f0a202",
  TERMINATED: "#8a8a8a", DELETING: "#8a8a8a", UNDEFINED: "#8a8a8a",
};
const WORST = ["FAILING", "ESTABLISHING", "PENDING", "ACTIVE", "DELETING", "TERMINATED", "UNDEFINED"];

// Clusters sit on a circle (the first on the left), stretched to fill the map, so the links
// between them are long enough to carry their labels.
function layout(names) {
  const map = $("map");
  const w = map.clientWidth, h = map.clientHeight;
  const out = {};
  if (names.length === 1) { out[names[0]] = [w / 2, h / 2]; return out; }
  const raw = names.map((_, i) => {
    const angle = Math.PI + (2 * Math.PI * i) / names.length;
    return [Math.cos(angle), Math.sin(angle)];
  });
  const xs = raw.map((p) => p[0]), ys = raw.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const padX = 140, padY = 130;
  names.forEach((name, i) => {
    const [x, y] = raw[i];
    out[name] = [
      padX + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (w - 2 * padX),
      y1 - y0 > 1e-9 ? padY + ((y - y0) / (y1 - y0)) * (h - 2 * padY) : h / 2,
    ];
  });
  return out;
}

function serviceItem(svc) {
  return el("li", { "data-service": svc.Name },
    el("i", { class: "dot " + svc.Status, title: svc.Status }),
    el("span", { text: svc.Name }),
    el("span", { class: "n", text: svc.Instances === 1 ? "1 instance" : `${svc.Instances} instances` }));
}

function clusterBox(cluster) {
  const box = el("div", { class: "cluster" + (cluster.Crashed ? " crashed" : ""), "data-cluster": cluster.Name });
  box.append(el("h3", {}, el("span", { text: cluster.Name }),
    cluster.Crashed ? el("span", { class: "badge", text: "CRASHED" }) : null));
  box.append(el("div", { class: "meta", text: `datacenter ${cluster.Datacenter} · ${cluster.HTTPAddress || cluster.PeeringAddress}` }));
  box.append(el("h4", { text: "services" }));
  const local = el("ul", { class: "services" });
  for (const svc of cluster.Services) local.append(serviceItem(svc));
  if (!cluster.Services.length) local.append(el("li", { class: "none", text: "none" }));
  box.append(local);
  box.append(el("h4", { text: "imported" }));
  const imported = el("ul", { class: "imported-list" });
  for (const p of cluster.Peerings) {
    for (const name of p.ImportedServices || []) {
      imported.append(el("li", { class: "imported", "data-imported": `${cluster.Name}/${p.Name}/${name}` },
        el("span", { text: "⬇ " + name }), el("span", { class: "n", text: `from peer ${p.Name}` })));
    }
  }
  if (!imported.children.length) imported.append(el("li", { class: "none", text: "nothing imported" }));
  box.append(imported);
  return box;
}

function peeringLabel(cluster, p) {
  const exported = p.ExportedServices || [], imported = p.ImportedServices || [];
  const label = el("div", { class: "peering " + p.State, "data-peering": `${cluster.Name}/${p.Name}`, "data-state": p.State },
    el("b", {}, `${cluster.Name} → peer ${p.Name} `, el("span", { class: "state", text: p.State })));
  label.append(el("div", { text: `exports ${exported.length}${exported.length ? ": " + exported.join(", ") : ""}` }));
  label.append(el("div", { text: `imports ${imported.length}${imported.length ? ": " + imported.join(", ") : ""}` }));
  return label;
}

function pairKey(a, b) { return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`; }

function render() {
  const names = world.Clusters.map((c) => c.Name);
  $("empty").hidden = names.length > 0;
  centers = layout(names);
  const boxes = $("boxes"), lines = $("links");
  const keepDots = [...lines.querySelectorAll(".flying")];
  boxes.replaceChildren();
  lines.replaceChildren();
  const pairs = new Map();
  const settings = new Map(world.Links.map((l) => [pairKey(l.A, l.B), l]));
  for (const cluster of world.Clusters) {
    const box = clusterBox(cluster);
    const [x, y] = centers[cluster.Name];
    box.style.left = x + "px"; box.style.top = y + "px";
    boxes.append(box);
    for (const p of cluster.Peerings) {
      if (!p.Remote || !(p.Remote in centers)) {
        const label = peeringLabel(cluster, p);
        label.classList.add("elsewhere");
        label.title = "the other end is not a cluster of this process";
        box.append(label);
        continue;
      }
      const key = pairKey(cluster.Name, p.Remote);
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key).push([cluster, p]);
    }
  }
  for (const key of settings.keys()) if (!pairs.has(key)) pairs.set(key, []);
  for (const [key, ends] of pairs) {
    const [a, b] = key.split("\u0000");
    if (!(a in centers) || !(b in centers)) continue;
    const states = ends.map(([, p]) => p.State);
    const worst = WORST.find((s) => states.includes(s)) || "UNDEFINED";
    const link = settings.get(key);
    const [x1, y1] = centers[a], [x2, y2] = centers[b];
    lines.append(svg("line", {
      x1, y1, x2, y2, "stroke-width": 12, "stroke-linecap": "round",
      stroke: ends.length ? STATE_COLOUR[worst] : "#8a8a8a",
      "stroke-dasharray": link && link.Partitioned ? "18 14" : "none", "data-link": `${a}|${b}`,
    }));
    // One card at the link's middle: the network's settings, then each end's view of it.
    const card = el("div", { class: "linkcard" });
    card.style.left = (x1 + x2) / 2 + "px"; card.style.top = (y1 + y2) / 2 + "px";
    if (link) {
      const parts = [];
      if (link.Partitioned) parts.push("✂ PARTITIONED");
      if (link.Held) parts.push("HELD");
      if (link.LatencyMs) parts.push(`latency ${link.LatencyMs} ms`);
      if (link.Loss) parts.push(`loss ${Math.round(link.Loss * 100)}%`);
      if (link.Duplicate) parts.push(`dup ${Math.round(link.Duplicate * 100)}%`);
      card.append(el("div", { class: "netlabel" + (link.Partitioned ? " cut" : ""), "data-link-settings": `${a}|${b}`, text: parts.join("  ") }));
    }
    ends.sort(([c1], [c2]) => (c1.Name < c2.Name ? -1 : 1));
    for (const [cluster, p] of ends) card.append(peeringLabel(cluster, p));
    if (card.children.length) boxes.append(card);
  }
  for (const dot of keepDots) lines.append(dot);
  const clock = world.Clock;
  $("clock").textContent = `${clock.Kind} clock ${clock.Now.replace("T", " ").replace(/\.\d+/, "")}`;
  $("clock").title = `seed ${world.Seed} · heartbeat every ${world.HeartbeatInterval}, timeout ${world.HeartbeatTimeout} · ${world.InFlight} in flight, ${world.Held} held`;
  $("advance").disabled = clock.Kind !== "virtual";
  $("advance").title = clock.Kind === "virtual" ? "" : "only a virtual-clock world can be advanced (serve -clock virtual)";
  for (const id of ["link-a", "link-b", "crash-cluster", "explain-source", "explain-consumer"]) fillSelect($(id), names, id === "link-b" || id === "explain-consumer" ? 1 : 0);
}

function fillSelect(select, names, preferred) {
  const have = [...select.options].map((o) => o.value).join("\n");
  if (have === names.join("\n")) return;
  const current = select.value;
  select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
  select.value = names.includes(current) ? current : names[Math.min(preferred, names.length - 1)] || "";
}

function journalLine(line) {
  const time = (line.At || "").replace(/^.*T/, "").replace(/(\.\d{3})\d*/, "$1").replace("Z", "");
  const bad = BAD.test(line.Outcome || "") && !/^delivered/i.test(line.Outcome || "");
  const item = el("li", { "data-event": String(line.Seq), class: bad ? "bad" : "" },
    el("span", { class: "t", text: time + " " }),
    `${line.Source || "?"} → ${line.Destination || "?"} `,
    el("span", { class: "k", text: line.Kind }),
    ` ${line.Outcome}${line.Summary ? " · " + line.Summary : ""}`);
  const list = $("journal");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
  list.append(item);
  while (list.children.length > JOURNAL_KEEP) list.firstChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
  $("journal-count").textContent = `#${line.Seq}`;
  fly(line, bad);
}

function fly(line, bad) {
  const from = centers[line.Source], to = centers[line.Destination];
  const lines = $("links");
  if (!from || !to || lines.querySelectorAll(".flying").length > 40) return;
  const dot = svg("circle", { r: 9, class: "flying", fill: bad ? "#d62828" : "#2f6fdf", stroke: "#fff", "stroke-width": 2 });
  lines.append(dot);
  const stop = bad ? 0.5 : 1, start = performance.now(), span = 900;
  function frame(now) {
    const t = Math.min((now - start) / span, 1) * stop;
    const a = centers[line.Source] || from, b = centers[line.Destination] || to;
    dot.setAttribute("cx", a[0] + (b[0] - a[0]) * t);
    dot.setAttribute("cy", a[1] + (b[1] - a[1]) * t);
    if (now - start < span) requestAnimationFrame(frame); else dot.remove();
  }
  requestAnimationFrame(frame);
}

async function show(target, response) {
  const text = await response.text();
  let body = text;
  try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* plain text, as Consul answers errors */ }
  target.className = response.ok ? "" : "error";
  target.textContent = `${response.status} ${response.statusText}\n${body}`;
}

async function control(action) {
  const a = $("link-a").value, b = $("link-b").value, cluster = $("crash-cluster").value;
  const calls = {
    partition: ["partition", { A: a, B: b }], heal: ["heal", { A: a, B: b }],
    hold: ["hold", { A: a, B: b }], release: ["release", { A: a, B: b }],
    link: ["link", { A: a, B: b, LatencyMs: Number($("latency").value) }],
    "heal-all": ["heal", null], crash: ["crash", { Cluster: cluster }],
    restart: ["restart", { Cluster: cluster }], advance: ["advance", { Seconds: Number($("seconds").value) }],
  };
  const [path, body] = calls[action];
  const target = $("control-result");
  try {
    const response = await fetch("/_sim/" + path, { method: "POST", body: body ? JSON.stringify(body) : "" });
    if (response.ok) {
      target.className = "";
      target.textContent = `${action}: done`;
    } else {
      await show(target, response);
    }
  } catch (err) {
    target.className = "error";
    target.textContent = String(err);
  }
}

async function explain(event) {
  event.preventDefault();
  const query = new URLSearchParams({
    service: $("explain-service").value, source: $("explain-source").value, consumer: $("explain-consumer").value,
  });
  const target = $("explain-result");
  try {
    const response = await fetch("/_sim/explain?" + query);
    if (!response.ok) {
      await show(target, response);
      return;
    }
    // One line for the verdict, then each condition as held (✓) or not (✗).
    const answer = await response.json();
    const verdict = `${query.get("service")} from ${query.get("source")} is ${answer.Visible ? "" : "NOT "}visible on ${query.get("consumer")}`;
    const lines = answer.Reasons.map((r) => `${r.Holds ? "✓" : "✗"} ${r.Text}`);
    target.className = answer.Visible ? "" : "error";
    target.textContent = [verdict, ...lines].join("\n");
  } catch (err) {
    target.className = "error";
    target.textContent = String(err);
  }
}

function connect() {
  const stream = new EventSource("/_sim/stream");
  stream.addEventListener("open", () => { $("live").className = "live-on"; $("live").textContent = "live"; });
  stream.addEventListener("error", () => { $("live").className = "live-off"; $("live").textContent = "reconnecting…"; });
  stream.addEventListener("world", (e) => { world = JSON.parse(e.data); render(); });
  stream.addEventListener("journal", (e) => journalLine(JSON.parse(e.data)));
}

for (const button of document.querySelectorAll("button[data-action]")) {
  button.addEventListener("click", () => control(button.dataset.action));
}
$("explain-form").addEventListener("submit", explain);
window.addEventListener("resize", () => { if (world) render(); });
connect();
