"""The ranking page served by :mod:`oracles.human`: one HTML document, inline CSS and script.

The script reads the token from the page URL (``?token=``) and sends it to the JSON API as
``Authorization: Bearer``; candidates arrive as data-URI images (PNG or SVG, shown in ``<img>``,
so an SVG's scripts never run) or as text (set with ``textContent``, never parsed as HTML). The
Content-Security-Policy allows only this page's own nonce-tagged script and inline styles.

A person answers by clicking the candidates in order of preference, or by dragging them into
order (pointer events: mouse, pen or touch), or from the keyboard (Tab to a card, Enter or Space
picks it, the arrow keys move it earlier or later); all three build the same ranking, shown as
numbered badges, and Submit posts it as ``{"id", "order"}``.
"""

from __future__ import annotations

__all__ = ["page"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f6;color:#222}
header{padding:12px 20px;background:#263238;color:#fff;display:flex;gap:24px;align-items:center}
header h1{font-size:18px;margin:0;font-weight:600}
#progress{flex:1;display:flex;gap:10px;align-items:center}
#bar{flex:1;max-width:320px;height:8px;background:#546e7a;border-radius:4px;overflow:hidden}
#fill{height:100%;width:0;background:#80cbc4}
main{padding:16px 20px}
#help{margin:0 0 12px 0}
#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:14px}
.card{position:relative;background:#fff;border:3px solid #ddd;border-radius:8px;padding:8px;
cursor:pointer;user-select:none;min-height:60px}
.card:hover,.card:focus{border-color:#90a4ae;outline:none}
.card{touch-action:none}
.card img{-webkit-user-drag:none;pointer-events:none}
.card.dragging{opacity:.55;z-index:5;box-shadow:0 8px 24px rgba(0,0,0,.25);cursor:grabbing}
.card.drop-before{box-shadow:-7px 0 0 #ff7043}
.card.drop-after{box-shadow:7px 0 0 #ff7043}
.card.picked{border-color:#00897b}
.card img{width:100%;display:block;border-radius:4px}
.card .text{font-size:16px;white-space:pre-wrap;word-break:break-word;padding:6px}
.badge{position:absolute;top:-10px;left:-10px;width:30px;height:30px;border-radius:15px;
background:#00897b;color:#fff;font-weight:700;display:none;align-items:center;
justify-content:center;font-size:16px}
.picked .badge{display:flex}
#actions{margin:14px 0;display:flex;gap:10px}
button{font-size:15px;padding:8px 16px;border-radius:6px;border:1px solid #888;background:#fff}
button:disabled{opacity:.45}
#submit{background:#00897b;color:#fff;border-color:#00897b}
#status{min-height:22px;color:#555}
#status.err{color:#c62828}
"""

_JS = r"""
const token = new URLSearchParams(location.search).get("token") || "";
// picks: the ranking being built (candidate ids, best first). Clicking (Enter, Space) adds or
// removes a card; dragging (or the arrow keys on a focused card) lays the grid out in your order,
// the numbered cards first: a card dropped among or right after them joins the ranking there,
// one dragged away from them leaves it.
let q = null, picks = [], staged = false, sorted = false, drag = null, swallow = false;
let epoch = 0;  // bumped by each answer and undo: a poll sent before one is stale on return
const $ = (id) => document.getElementById(id);
async function api(path, body) {
  const r = await fetch(path, {method: body ? "POST" : "GET", cache: "no-store",
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    body: body ? JSON.stringify(body) : undefined});
  let data = {};
  try { data = await r.json(); } catch (e) {}
  return {status: r.status, data};
}
function say(msg, err) { $("status").textContent = msg; $("status").className = err ? "err" : ""; }
function progress(d) {
  const n = d.answered || 0, b = d.budget;
  $("count").textContent = b ? `${n} / ${b} answers` : `${n} answers`;
  $("fill").style.width = b ? `${Math.min(100, 100 * n / b)}%` : "0";
}
function buttons() {
  const top = q ? q.top : 0;
  $("submit").disabled = !q || staged || picks.length !== top;
  $("rest").disabled = !q || staged || !q.ties || picks.length < 1 || picks.length >= top;
  $("clear").disabled = !q || staged || picks.length === 0;
  $("undo").disabled = !staged;
}
const cards = () => Array.from($("grid").children);
function mark() {
  for (const el of cards()) {
    const i = picks.indexOf(el.dataset.cid);
    el.classList.toggle("picked", i >= 0);
    el.querySelector(".badge").textContent = i >= 0 ? String(i + 1) : "";
  }
  document.body.dataset.picks = picks.join(" ");
  buttons();
}
function order() {  // ranked cards first, best first, then the others as laid out
  return [...picks, ...cards().map((el) => el.dataset.cid).filter((c) => !picks.includes(c))];
}
function layout(ids) { const grid = $("grid"); for (const c of ids) grid.append($("cand-" + c)); }
function show(d) {
  q = d; picks = []; staged = false; sorted = false; drag = null;
  document.body.dataset.query = d.id;
  const grid = $("grid"); grid.replaceChildren();
  for (const c of d.candidates) {
    const card = document.createElement("div");
    card.className = "card"; card.dataset.cid = c.id; card.id = "cand-" + c.id;
    card.tabIndex = 0; card.setAttribute("role", "button");
    const badge = document.createElement("div"); badge.className = "badge"; card.append(badge);
    if (c.kind === "image") {
      const img = document.createElement("img"); img.src = c.src; img.alt = "candidate " + c.id;
      img.draggable = false; card.append(img);
    } else {
      const t = document.createElement("div"); t.className = "text"; t.textContent = c.text;
      card.append(t);
    }
    card.addEventListener("click", () => { if (!swallow) pick(c.id); });
    card.addEventListener("pointerdown", down);
    card.addEventListener("keydown", (e) => key(e, c.id));
    grid.append(card);
  }
  const k = d.top, m = d.candidates.length;
  $("help").textContent = (k === 1 ? `Click the one you like best of these ${m}, or drag it to ` +
    "the front." : `Click your ${k} favourites of these ${m} in order of preference, best ` +
    "first, or drag them to the front in that order" + (d.ties ?
    " (or pick fewer and press \u201ccan't decide the rest\u201d)." : ".")) +
    " Keyboard: Tab to a card, Enter picks it, the arrow keys move it.";
  say(""); mark();
}
function pick(cid) {
  if (!q || staged) return;
  const i = picks.indexOf(cid);
  if (i >= 0) picks.splice(i, 1); else if (picks.length < q.top) picks.push(cid);
  if (sorted) layout(order());
  mark();
}
function move(cid, to) {  // cid to index `to` of order() without it; it joins or leaves the ranking
  if (!q || staged) return;
  const ids = order(), from = ids.indexOf(cid);
  let n = picks.length - (from < picks.length ? 1 : 0);
  ids.splice(from, 1);
  to = Math.max(0, Math.min(ids.length, to));
  ids.splice(to, 0, cid);
  if (to <= n) n += 1;
  picks = ids.slice(0, Math.min(n, q.top)); sorted = true;
  layout(ids); mark();
}
function key(e, cid) {
  const by = {ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1}[e.key];
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(cid); }
  else if (by) { e.preventDefault(); move(cid, order().indexOf(cid) + by); }
  else return;
  $("cand-" + cid).focus();
}
function down(e) {
  if (!q || staged || e.button !== 0) return;
  const card = e.currentTarget;
  drag = {card, cid: card.dataset.cid, x: e.clientX, y: e.clientY, on: false, target: null};
}
function target(x, y) {  // the card nearest the pointer inside the grid, and which side of it
  const g = $("grid").getBoundingClientRect();
  if (x < g.left - 20 || x > g.right + 20 || y < g.top - 20 || y > g.bottom + 20) return null;
  let best = null, dist = Infinity;
  for (const el of cards()) {
    if (el === drag.card) continue;
    const r = el.getBoundingClientRect(), cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const dd = Math.hypot(x - cx, y - cy);
    if (dd < dist) { dist = dd; best = {card: el, after: x >= cx}; }
  }
  return best;
}
function hint(t) {
  for (const el of cards()) el.classList.remove("drop-before", "drop-after");
  if (t) t.card.classList.add(t.after ? "drop-after" : "drop-before");
}
function moved(e) {
  if (!drag) return;
  const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  if (!drag.on && Math.hypot(dx, dy) < 6) return;
  drag.on = true; e.preventDefault();
  drag.card.classList.add("dragging");
  drag.card.style.transform = `translate(${dx}px,${dy}px)`;
  drag.target = target(e.clientX, e.clientY); hint(drag.target);
}
function up(e, cancel) {
  if (!drag) return;
  const d = drag; drag = null;
  if (!d.on) return;  // not moved far: a click, which picks
  swallow = true; setTimeout(() => { swallow = false; }, 0);
  d.card.classList.remove("dragging"); d.card.style.transform = ""; hint(null);
  if (cancel || !d.target) return;
  const ids = order().filter((c) => c !== d.cid);
  move(d.cid, ids.indexOf(d.target.card.dataset.cid) + (d.target.after ? 1 : 0));
}
window.addEventListener("pointermove", moved);
window.addEventListener("pointerup", (e) => up(e, false));
window.addEventListener("pointercancel", (e) => up(e, true));
async function submit() {
  if (!q) return;
  const r = await api("/api/answer", {id: q.id, order: picks});
  if (r.status === 200) {
    epoch++; progress(r.data);
    if (r.data.undo_seconds > 0) {
      staged = true; say("Saved. You can undo it for a moment."); buttons();
    }
    else { say("Saved."); }
    setTimeout(poll, 50);
  } else {
    say((r.data && r.data.error) || ("error " + r.status), true);
    if (r.status === 409) poll();
  }
}
async function undo() {
  const r = await api("/api/undo", {id: q ? q.id : null});
  if (r.status === 200) {
    epoch++; staged = false; picks = []; say("Undone: answer again."); mark();
  }
  else { say((r.data && r.data.error) || ("error " + r.status), true); }
}
async function poll() {
  let r;
  const sent = epoch;
  try { r = await api("/api/query"); } catch (e) {
    say("the optimizer is not reachable", true); setTimeout(poll, 1000); return;
  }
  if (sent !== epoch) { setTimeout(poll, 100); return; }  // (it would show the state before)
  if (r.status !== 200) { say((r.data && r.data.error) || ("error " + r.status), true); return; }
  const d = r.data; progress(d);
  if (d.id && (!q || d.id !== q.id)) { show(d); return; }
  if (d.id && staged && d.state === "open") { staged = false; picks = []; mark(); }
  if (!d.id) {
    if (d.state === "done") {
      q = null; document.body.dataset.query = "done"; $("grid").replaceChildren();
      $("help").textContent = "Done: thank you."; say(""); buttons(); return;
    }
    if (!staged) {
      q = null; document.body.dataset.query = ""; $("grid").replaceChildren();
      $("help").textContent = "Preparing the next candidates\u2026"; buttons();
    }
  }
  setTimeout(poll, d.id && !staged ? 1000 : 100);
}
$("submit").addEventListener("click", submit);
$("rest").addEventListener("click", submit);
$("clear").addEventListener("click", () => { picks = []; mark(); });
$("undo").addEventListener("click", undo);
poll();
"""


def page(title: str, nonce: str) -> bytes:
    """The page as UTF-8 bytes (``title`` is escaped; ``nonce`` tags the inline script)."""
    from html import escape

    t = escape(title)
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<link rel=icon href='data:,'><title>{t}</title><style nonce='{nonce}'>{_CSS}</style>"
        f"</head><body><header><h1>{t}</h1><div id=progress><div id=bar><div id=fill></div></div>"
        "<span id=count></span></div></header><main><p id=help>Loading\u2026</p>"
        "<div id=grid></div><div id=actions><button id=submit disabled>Submit</button>"
        "<button id=rest disabled>Can't decide the rest</button>"
        "<button id=clear disabled>Clear</button><button id=undo disabled>Undo last</button>"
        f"</div><div id=status></div></main><script nonce='{nonce}'>{_JS}</script>"
        "</body></html>"
    )
    return html.encode("utf-8")
