// chorus live view. Subscribes to the /events stream (server-sent events) of every node
// named in ?nodes=HOST:PORT,... (this page's own node when none is named), and draws what
// they say: the node x group grid, the nodes' counters, message rates, the slot ring and the
// clients' throughput. Each node reports only itself; the page puts the views together.
// Plain JavaScript, no library; every list it keeps is bounded.
'use strict';

const STALE_MS = 2000;        // no event for this long: the node is shown down
const RATE_WINDOW = 8;        // states kept per node for rates (2 s at 4 events/s)
const SPARK_POINTS = 240;     // the throughput chart: 60 s at 4 points/s
const LOG_MAX = 200;          // events listed
const ADDRS_MAX = 64;
const GRID_GROUPS_MAX = 256;  // columns drawn; more are summarised
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b',
                '#e377c2', '#7f7f7f', '#bcbd22'];

const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"']/g,
  c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const color = id => id > 0 ? COLORS[(id - 1) % COLORS.length] : '#bbb';
const fmt = (x, digits = 0) => x == null || !isFinite(x) ? '–' :
  x.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits});

// The nodes to watch: ?nodes=a:p,b:p (a bare port means this page's host).
function watchedAddresses() {
  const param = new URLSearchParams(location.search).get('nodes') || '';
  let addrs = param.split(',').map(s => s.trim()).filter(Boolean)
    .map(a => /^\d+$/.test(a) ? location.hostname + ':' + a : a)
    .filter(a => /^[A-Za-z0-9.\-\[\]:]+$/.test(a));
  addrs = [...new Set(addrs)].slice(0, ADDRS_MAX);
  if (addrs.length === 0) {
    addrs = [location.host];
    $('hint').hidden = false;
  }
  return addrs;
}

const sources = watchedAddresses().map(addr => ({
  addr, es: null, state: null, history: [], last: 0, wasUp: null, retry: null, problem: null,
}));
let topology = null;
const spark = [];
const leaders = new Map();   // group -> {id, term, changedAt}
const roles = new Map();     // "node:group" -> role last seen
const SNAP_SHOW_MS = 2500;    // a cell shows a snapshot transfer this long after bytes moved
const SNAP_FRESH_MS = 10000;  // a node this young when first seen: its counters count from 0
const snaps = new Map();     // "node:group" -> {received, sent, snapshot, at: last growth}
const log = [];
const SAMPLES_MAX = 100;      // sampled messages listed
const PULSES_MAX = 60;        // messages in flight on the graph at once
const samples = [];           // newest first: {at, from, to, type, group, term, ...}
const linkPos = new Map();    // node id -> [x, y] on the message graph
let pulses = 0;
const PULSE_COLORS = {'vote': '#c26b00', 'vote-resp': '#c26b00', 'pre-vote': '#e0a030',
  'pre-vote-resp': '#e0a030', 'timeout-now': '#8e24aa', 'snapshot': '#00838f',
  'snapshot-resp': '#00838f', 'prepare': '#c26b00', 'promise': '#c26b00'};

function isUp(src) {
  return src.state != null && Date.now() - src.last < STALE_MS;
}

function connect(src) {
  clearTimeout(src.retry);
  const es = new EventSource(location.protocol + '//' + src.addr + '/events');
  src.es = es;
  es.addEventListener('topology', e => {
    const t = JSON.parse(e.data);
    if (!topology || t.epoch > topology.epoch) topology = t;
  });
  es.addEventListener('state', e => onState(src, JSON.parse(e.data)));
  es.addEventListener('problem', e => { src.problem = JSON.parse(e.data).error; });
  es.onerror = () => {
    src.last = 0; // shown down at once; the stream's end is news
    // CONNECTING: the browser retries by itself. CLOSED (a 503, or no answer at all): we do.
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      src.retry = setTimeout(() => connect(src), 2000);
    }
  };
}

function onState(src, s) {
  const h = src.history;
  // A restarted node's counters start again: so does its history.
  if (h.length > 0 && (s.uptime_ms < h[h.length - 1].uptime_ms || s.node !== h[0].node))
    h.length = 0;
  h.push(s);
  if (h.length > RATE_WINDOW) h.shift();
  src.state = s;
  src.last = Date.now();
  src.problem = null;
  // Samples not seen before (a restarted node numbers them from 1 again).
  const seen = src.sampleSeq || 0;
  for (const m of s.samples || []) {
    if (h.length > 1 && m.seq <= seen) continue;
    const sample = Object.assign({to: s.node, at: new Date(Date.now() - (s.now_ms - m.at_ms))}, m);
    samples.unshift(sample);
    if (h.length > 1) pulse(sample);
  }
  samples.length = Math.min(samples.length, SAMPLES_MAX);
  src.sampleSeq = s.samples && s.samples.length ? s.samples[s.samples.length - 1].seq : seen;
}

// A message travelling from its sender to its receiver on the graph, for 0.7 s.
function pulse(m) {
  const a = linkPos.get(m.from), b = linkPos.get(m.to);
  if (!a || !b || pulses >= PULSES_MAX || document.hidden) return;
  const ns = 'http://www.w3.org/2000/svg';
  const dot = document.createElementNS(ns, 'circle');
  dot.setAttribute('r', PULSE_COLORS[m.type] ? 5 : 3);
  dot.setAttribute('fill', m.reject ? '#b00020' : PULSE_COLORS[m.type] || '#607d8b');
  const move = document.createElementNS(ns, 'animateMotion');
  move.setAttribute('dur', '0.7s');
  move.setAttribute('fill', 'freeze');
  move.setAttribute('path', `M${a[0].toFixed(1)},${a[1].toFixed(1)} L${b[0].toFixed(1)},${b[1].toFixed(1)}`);
  dot.appendChild(move);
  $('pulses').appendChild(dot);
  pulses++;
  move.beginElement();
  setTimeout(() => { dot.remove(); pulses--; }, 800);
}

// Per-second rates over the node's history window: fn(state) must give a counter.
function rate(src, fn) {
  const h = src.history;
  if (h.length < 2) return null;
  const a = h[0], b = h[h.length - 1];
  const dt = (b.now_ms - a.now_ms) / 1000;
  return dt > 0 ? Math.max(0, (fn(b) - fn(a)) / dt) : null;
}
const delta = (src, fn) => {
  const h = src.history;
  return h.length < 2 ? null : fn(h[h.length - 1]) - fn(h[0]);
};

function addLog(kind, text) {
  log.unshift({kind, text, at: new Date()});
  if (log.length > LOG_MAX) log.pop();
}

// ---- the model the panels draw ----------------------------------------------------------

function groupIds() {
  const s = topology ? topology.shards.length :
    Math.max(0, ...sources.filter(isUp).map(src => src.state.shards));
  const ids = [];
  for (let g = 0; g < s; g++) ids.push(g);
  if (topology ? topology.meta : s > 1) ids.push(s); // the meta group's id is S
  return ids;
}

function nodeIds() {
  const ids = new Set(topology ? topology.nodes.map(n => n.id) : []);
  for (const src of sources) if (src.state) ids.add(src.state.node);
  return [...ids].sort((a, b) => a - b);
}

function sourceOf(id) {
  return sources.find(src => src.state && src.state.node === id) || null;
}

function groupOf(src, g) {
  return src.state.groups.find(x => x.id === g) || null;
}

// A group's leader: the live node that says it leads, in the highest term.
function leaderOf(g) {
  let best = null;
  for (const src of sources) {
    if (!isUp(src)) continue;
    const x = groupOf(src, g);
    if (x && x.role === 'leader' && (!best || x.term > best.term))
      best = {id: src.state.node, term: x.term};
  }
  return best;
}

function groupName(g) {
  return topology && topology.meta && g === topology.shards.length ? 'meta' : String(g);
}

// Snapshot transfers: the group's snapshot bytes received (or sent) on a node grew since its
// last state. The first growth of a transfer is logged; the cell shows it while bytes move,
// and the log says when the receiver's snapshot index moved (it installed what it received).
function noticeSnapshot(node, x, key, uptimeMs) {
  let before = snaps.get(key);
  // A node first seen within seconds of its start: its counters began at zero, and what they
  // hold already moved since (say, the snapshot a restarted node is catching up with).
  if (!before && uptimeMs < SNAP_FRESH_MS)
    before = {received: 0, sent: 0, snapshot: -1, at: 0};
  const now = {received: x.snap_received || 0, sent: x.snap_sent || 0, snapshot: x.snapshot,
               at: before ? before.at : 0, receiving: false, sending: false};
  if (before) {
    const got = now.received - before.received, gave = now.sent - before.sent;
    now.receiving = got > 0;
    now.sending = gave > 0;
    if ((got > 0 || gave > 0) && Date.now() - before.at > SNAP_SHOW_MS)
      addLog('snapshot', `group ${groupName(x.id)}: node ${node} ` +
        (got > 0 ? `receives a snapshot (${fmt(got / 1024)} KiB so far)`
                 : `sends a snapshot (${fmt(gave / 1024)} KiB so far)`));
    if (got > 0 || gave > 0) now.at = Date.now();
    if (before.received < now.received && x.snapshot !== before.snapshot)
      addLog('snapshot', `group ${groupName(x.id)}: node ${node} installed the snapshot at ` +
        `index ${x.snapshot} (${fmt(now.received / 1024)} KiB received in all)`);
  }
  snaps.set(key, now);
}

// Elections, leader changes and nodes going down or up, for the log and the animations.
function noticeChanges(groups) {
  for (const src of sources) {
    const up = isUp(src);
    if (src.wasUp !== null && up !== src.wasUp && src.state)
      addLog(up ? 'up' : 'down', `node ${src.state.node} (${src.addr}) is ${up ? 'up' : 'down'}`);
    src.wasUp = up;
    if (!up) continue;
    for (const x of src.state.groups) {
      const key = src.state.node + ':' + x.id, before = roles.get(key);
      if (before !== x.role && (x.role === 'candidate' || x.role === 'pre-candidate'))
        addLog('election', `group ${groupName(x.id)}: node ${src.state.node} ` +
          (x.role === 'candidate' ? `campaigns in term ${x.term}` : 'asks for pre-votes'));
      roles.set(key, x.role);
      noticeSnapshot(src.state.node, x, key, src.state.uptime_ms);
    }
  }
  for (const g of groups) {
    const now = leaderOf(g), before = leaders.get(g);
    if (now && (!before || before.id !== now.id || before.term !== now.term)) {
      if (before && before.id !== now.id)
        addLog('leader', `group ${groupName(g)}: node ${now.id} leads in term ${now.term}` +
          (before.id ? ` (was node ${before.id})` : ''));
      else if (!before)
        addLog('leader', `group ${groupName(g)}: node ${now.id} leads in term ${now.term}`);
      leaders.set(g, {id: now.id, term: now.term,
                      changedAt: before && before.id !== now.id ? Date.now() : 0});
    } else if (!now && before && before.id) {
      addLog('election', `group ${groupName(g)}: no leader (node ${before.id} was)`);
      leaders.set(g, {id: 0, term: before.term, changedAt: Date.now()});
    }
  }
}

// ---- panels -----------------------------------------------------------------------------

let gridKey = '';
const gridCells = new Map();

function buildGrid(nodes, groups) {
  const shown = groups.slice(0, GRID_GROUPS_MAX);
  let html = '<thead><tr><th>group</th>' +
    shown.map(g => `<th>${esc(groupName(g))}</th>`).join('') + '</tr>';
  html += '<tr><th>leader</th>' + shown.map(g =>
    `<th class="group-leader" id="leader-g${g}" data-group="${g}" data-leader="0">–</th>`)
    .join('') + '</tr></thead><tbody>';
  for (const id of nodes) {
    html += `<tr data-node-row="${id}"><th id="node-h${id}"><span class="dot" ` +
      `style="background:${color(id)}"></span>node ${id}</th>` +
      shown.map(g => `<td class="cell" id="cell-${id}-${g}" data-node="${id}" ` +
        `data-group="${g}" data-role="none"></td>`).join('') + '</tr>';
  }
  html += '</tbody>';
  if (groups.length > shown.length)
    html += `<caption>${groups.length - shown.length} more groups not drawn</caption>`;
  $('grid').innerHTML = html;
  gridCells.clear();
  for (const id of nodes)
    for (const g of shown) gridCells.set(id + ':' + g, $(`cell-${id}-${g}`));
}

function drawGrid(nodes, groups) {
  const key = nodes.join(',') + '/' + groups.length;
  if (key !== gridKey) {
    buildGrid(nodes, groups);
    gridKey = key;
  }
  const now = Date.now();
  for (const g of groups.slice(0, GRID_GROUPS_MAX)) {
    const th = $('leader-g' + g), l = leaders.get(g);
    const lead = leaderOf(g);
    th.dataset.leader = lead ? lead.id : 0;
    th.dataset.term = lead ? lead.term : 0;
    th.textContent = lead ? `node ${lead.id}` : 'none';
    th.style.color = lead ? color(lead.id) : '#b00020';
    const age = l && l.changedAt ? now - l.changedAt : Infinity;
    th.style.background = age < 3000 ? `rgba(255,213,74,${(1 - age / 3000).toFixed(2)})` : '';
  }
  for (const id of nodes) {
    const src = sourceOf(id), up = src && isUp(src);
    $('node-h' + id).style.opacity = up ? 1 : 0.45;
    for (const g of groups.slice(0, GRID_GROUPS_MAX)) {
      const td = gridCells.get(id + ':' + g);
      const x = up ? groupOf(src, g) : null;
      const role = !src || !src.state ? 'none' : !up ? 'down' : x ? x.role : 'none';
      if (td.dataset.role !== role) {
        td.className = 'cell role-' + role;
        td.dataset.role = role;
      }
      td.classList.toggle('quiet', !!(x && x.quiet));
      const snap = snaps.get(id + ':' + g);
      const moving = !!(x && snap && Date.now() - snap.at < SNAP_SHOW_MS);
      td.classList.toggle('snapshot-in', moving && snap.received > 0 && !snap.sending);
      td.classList.toggle('snapshot-out', moving && snap.sent > 0 && !snap.receiving);
      td.dataset.term = x ? x.term : '';
      const text = role === 'down' ? 'down' : x ?
        `${x.role === 'pre-candidate' ? 'pre-cand.' : x.role}<small>t${x.term} · c${x.commit}` +
        `${x.quiet ? ' · zz' : ''}</small>` : '';
      if (td.innerHTML !== text) td.innerHTML = text;
      td.title = x ? `node ${id}, group ${groupName(g)}: ${x.role}, term ${x.term}, leader ` +
        `${x.leader || 'unknown'}\ncommit ${x.commit}, applied ${x.applied}, persisted ` +
        `${x.persisted}, log ${x.first}..${x.last}, snapshot ${x.snapshot}` +
        (x.transfer ? `\ntransferring leadership to node ${x.transfer}` : '') +
        (x.snap_received || x.snap_sent ? `\nsnapshot bytes received ${x.snap_received}, ` +
          `sent ${x.snap_sent}` : '') : '';
    }
  }
}

function drawNodes() {
  $('nodes').innerHTML = sources.map(src => {
    const s = src.state, up = isUp(src);
    if (!s) return `<div class="node-card down"><h3>${esc(src.addr)}</h3>connecting…</div>`;
    const syncs = delta(src, x => x.stats.syncs), entries = delta(src, x => x.stats.synced_entries);
    const syncUs = delta(src, x => x.stats.sync_us_total);
    const rows = [
      ['status', up ? 'up' : 'down'],
      ['groups led / hosted', `${s.stats.groups_leading} / ${s.groups.length}`],
      ['quiet groups', fmt(s.stats.groups_quiet)],
      ['WAL syncs/s', fmt(rate(src, x => x.stats.syncs), 1)],
      ['entries per sync', syncs > 0 ? fmt(entries / syncs, 1) : '–'],
      ['sync latency', syncs > 0 ? fmt(syncUs / syncs / 1000, 2) + ' ms' : '–'],
      ['applied/s', fmt(rate(src, x => x.stats.applied_entries), 1)],
      ['messages in/s', fmt(rate(src, x => x.peers.received), 1)],
      ['messages dropped', fmt(s.peers.dropped)],
      ['longest loop iteration', fmt(s.stats.loop_busy_us_max / 1000, 1) + ' ms'],
      ['uptime', fmt(s.uptime_ms / 1000) + ' s'],
    ];
    if (s.dev && (s.dev.paused_ms > 0 || s.dev.isolated_ms > 0))
      rows.push(['dev', (s.dev.paused_ms > 0 ? `paused ${fmt(s.dev.paused_ms / 1000, 1)} s ` : '') +
        (s.dev.isolated_ms > 0 ? `cut off ${fmt(s.dev.isolated_ms / 1000, 1)} s` : '')]);
    return `<div class="node-card${up ? '' : ' down'}" data-node-card="${s.node}" ` +
      `data-up="${up}"><h3><span class="dot" style="background:${color(s.node)}"></span>node ` +
      `${s.node} <span class="sub">${esc(src.addr)} · ${esc(s.protocol)}</span></h3>` +
      (src.problem ? `<div class="error">${esc(src.problem)}</div>` : '') +
      '<dl>' + rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') +
      '</dl></div>';
  }).join('');
}

// Nodes on a circle; an arrow's width and its flow's speed follow the messages per second
// the receiving node counted from the sender.
function drawLinks(nodes) {
  const cx = 180, cy = 145, r = 105, pos = new Map();
  nodes.forEach((id, i) => {
    const a = -Math.PI / 2 + 2 * Math.PI * i / Math.max(1, nodes.length);
    pos.set(id, [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    linkPos.set(id, pos.get(id));
  });
  let svg = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" ' +
    'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/>' +
    '</marker></defs>';
  for (const to of nodes) {
    const src = sourceOf(to);
    if (!src || !isUp(src)) continue;
    for (const link of src.state.peers.links) {
      const from = link.id;
      if (!pos.has(from)) continue;
      const perSecond = rate(src, x => (x.peers.links.find(l => l.id === from) || {}).received || 0);
      if (!perSecond) continue;
      const [x1, y1] = pos.get(from), [x2, y2] = pos.get(to);
      const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
      const ox = -dy / len * 5, oy = dx / len * 5, shrink = 18 / len; // two lanes, off the dots
      const a = [x1 + dx * shrink + ox, y1 + dy * shrink + oy];
      const b = [x2 - dx * shrink + ox, y2 - dy * shrink + oy];
      const width = 1 + Math.min(6, Math.log10(1 + perSecond) * 1.5);
      const duration = Math.max(0.15, 2.5 / Math.log2(2 + perSecond)).toFixed(2);
      const d = `M${a[0].toFixed(1)},${a[1].toFixed(1)} L${b[0].toFixed(1)},${b[1].toFixed(1)}`;
      svg += `<path class="link" d="${d}" stroke-width="${width.toFixed(1)}" ` +
        `marker-end="url(#arrow)"><title>node ${from} → node ${to}: ${fmt(perSecond, 1)}/s` +
        `</title></path><path class="flow" d="${d}" stroke-width="${(width / 2).toFixed(1)}" ` +
        `style="animation-duration:${duration}s"/>`;
      svg += `<text x="${((a[0] + b[0]) / 2 + ox * 2).toFixed(1)}" ` +
        `y="${((a[1] + b[1]) / 2 + oy * 2).toFixed(1)}" text-anchor="middle">` +
        `${fmt(perSecond)}</text>`;
    }
  }
  for (const id of nodes) {
    const [x, y] = pos.get(id), src = sourceOf(id), up = src && isUp(src);
    const led = up ? src.state.stats.groups_leading : 0;
    svg += `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="15" fill="${up ? color(id) : '#ccc'}"` +
      ` stroke="#fff" stroke-width="2"/><text x="${x.toFixed(1)}" y="${(y + 4).toFixed(1)}" ` +
      `text-anchor="middle" fill="#fff" style="fill:#fff;font-weight:700">${id}</text>` +
      `<text x="${(cx + (x - cx) * 1.32).toFixed(1)}" y="${(cy + (y - cy) * 1.32 + 4).toFixed(1)}" ` +
      `text-anchor="middle">` +
      `${up ? `leads ${led}` : 'down'}</text>`;
  }
  $('links').innerHTML = svg;

  const types = new Set();
  for (const src of sources) if (isUp(src)) Object.keys(src.state.peers.received_by_type)
    .forEach(t => types.add(t));
  const watched = sources.filter(src => src.state);
  let html = '<tr><th>type</th>' + watched.map(src => `<th>node ${src.state.node}</th>`).join('') +
    '</tr>';
  for (const t of [...types].sort()) {
    html += `<tr><td>${esc(t)}</td>` + watched.map(src => `<td>${isUp(src) ?
      fmt(rate(src, x => x.peers.received_by_type[t] || 0), 1) : '–'}</td>`).join('') + '</tr>';
  }
  $('types').innerHTML = html;
}

function drawSamples() {
  $('samples').innerHTML = '<tr><th>time</th><th>message</th><th>group</th><th>term</th>' +
    '<th>index</th><th></th></tr>' + samples.slice(0, 40).map(m => {
      const detail = m.reject ? 'refused' : /vote-resp/.test(m.type) ? 'granted' :
        m.entries ? `${m.entries} entries` : '';
      return `<tr><td>${m.at.toLocaleTimeString()}</td><td class="${esc(m.type)}">` +
        `${m.from} → ${m.to} ${esc(m.type)}</td><td>${esc(groupName(m.group))}</td>` +
        `<td>${m.term}</td><td>${m.index}</td><td class="${m.reject ? 'reject' : ''}">` +
        `${esc(detail)}</td></tr>`;
    }).join('');
}

function arc(cx, cy, r, a0, a1) {
  const p = a => [cx + r * Math.sin(a), cy - r * Math.cos(a)];
  const [x0, y0] = p(a0), [x1, y1] = p(a1);
  return `M${x0.toFixed(2)},${y0.toFixed(2)} A${r},${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ` +
    `${x1.toFixed(2)},${y1.toFixed(2)}`;
}

function shardLeader(s) {
  const l = leaderOf(s);
  if (l) return l.id;
  // Not hosted by any watched live node: what a live node last heard, unless the page sees
  // that node down.
  for (const src of sources) {
    const id = isUp(src) ? src.state.shard_leaders[s] : 0, named = id && sourceOf(id);
    if (id && (!named || isUp(named))) return id;
  }
  return 0;
}

// The rebalancer's moves (docs/membership.md), as the live nodes report them: every node
// derives the same plan from the topology, so the one with the newest view is taken.
function currentMoves() {
  let best = null;
  for (const src of sources) {
    if (!isUp(src) || !src.state.moves) continue;
    if (!best || src.state.moves_total > best.moves_total) best = src.state;
  }
  return best ? {list: best.moves, total: best.moves_total} : {list: [], total: 0};
}

function drawMoves(cx, cy, slots, moves) {
  let svg = '';
  for (const m of moves.list) {
    const sh = topology.shards[m.shard];
    if (!sh) continue;
    const a0 = 2 * Math.PI * sh.first_slot / slots, a1 = 2 * Math.PI * (sh.last_slot + 1) / slots;
    svg += `<path d="${arc(cx, cy, 168, a0, Math.max(a0 + 0.02, a1))}" fill="none" ` +
      `stroke="${color(m.to || m.from)}" stroke-width="5" stroke-dasharray="${m.running ? '6 3' : '2 4'}" ` +
      `class="${m.running ? 'moving' : ''}" data-move-shard="${m.shard}">` +
      `<title>shard ${m.shard}: replica moving from node ` +
      `${m.from || '–'} to node ${m.to || '–'} (${m.running ? 'in flight' : 'waiting its turn'})` +
      `</title></path>`;
  }
  let html = moves.total === 0 ? '<tr><td>no moves: the placement is the ring\'s</td></tr>'
    : '<tr><th>shard</th><th>from</th><th>to</th><th>state</th></tr>';
  for (const m of moves.list)
    html += `<tr data-shard="${m.shard}" data-from="${m.from}" data-to="${m.to}" ` +
      `data-running="${m.running}"><td>${m.shard}</td>` +
      `<td style="color:${color(m.from)}">${m.from || '–'}</td>` +
      `<td style="color:${color(m.to)}">${m.to || '–'}</td>` +
      `<td>${m.running ? 'in flight' : 'waiting'}</td></tr>`;
  if (moves.total > moves.list.length)
    html += `<tr><td colspan="4">… ${moves.total - moves.list.length} more</td></tr>`;
  $('moves').innerHTML = html;
  return svg;
}

function drawRing() {
  if (!topology) return;
  const cx = 180, cy = 180, S = topology.shards.length, slots = topology.slots;
  const gap = S > 1 && S <= 256 ? 0.004 : 0;
  let svg = '';
  for (const sh of topology.shards) {
    const a0 = 2 * Math.PI * sh.first_slot / slots + gap;
    const a1 = 2 * Math.PI * (sh.last_slot + 1) / slots - gap;
    const lead = shardLeader(sh.id);
    svg += `<path d="${arc(cx, cy, 150, a0, Math.max(a0 + 0.001, a1))}" fill="none" ` +
      `stroke="${color(lead)}" stroke-width="18"><title>shard ${sh.id}: slots ${sh.first_slot}` +
      `–${sh.last_slot}, replicas ${sh.replicas.join(', ')}, leader ${lead || 'unknown'}` +
      `</title></path>`;
    if (S <= 128) {
      const mid = (a0 + a1) / 2;
      sh.replicas.forEach((id, i) => {
        const rr = 126 - i * 13;
        svg += `<circle cx="${(cx + rr * Math.sin(mid)).toFixed(1)}" ` +
          `cy="${(cy - rr * Math.cos(mid)).toFixed(1)}" r="${i === 0 ? 5 : 3.5}" ` +
          `fill="${color(id)}"><title>shard ${sh.id}: replica on node ${id}` +
          `${i === 0 ? ' (preferred leader)' : ''}</title></circle>`;
      });
    }
  }
  svg += drawMoves(cx, cy, slots, currentMoves());
  svg += `<text x="${cx}" y="${cy - 6}" text-anchor="middle">${S} shard${S > 1 ? 's' : ''}, ` +
    `${topology.replicas} replicas</text><text x="${cx}" y="${cy + 12}" text-anchor="middle">` +
    `${fmt(slots)} slots</text>`;
  $('ring').innerHTML = svg;
  let html = '<tr><th>shard</th><th>slots</th><th>replicas</th><th>leader</th><th>term</th></tr>';
  for (const sh of topology.shards.slice(0, GRID_GROUPS_MAX)) {
    const l = leaderOf(sh.id), lead = shardLeader(sh.id);
    html += `<tr><td>${sh.id}</td><td>${sh.first_slot}–${sh.last_slot}</td><td>` +
      sh.replicas.map(id => `<span style="color:${color(id)}">${id}</span>`).join(' ') +
      `</td><td style="color:${color(lead)};font-weight:600">${lead || '–'}</td>` +
      `<td>${l ? l.term : '–'}</td></tr>`;
  }
  $('shards').innerHTML = html;
}

// A latency percentile over the node's history window, from its summed command histogram:
// the bucket bound that q of the commands finished within (Infinity: above every bound).
function percentile(src, q) {
  const h = src.history;
  if (h.length < 2 || !h[0].latency || !h[h.length - 1].latency) return null;
  const a = h[0].latency, b = h[h.length - 1].latency;
  const d = b.counts.map((c, i) => c - (a.counts[i] || 0));
  const total = d.reduce((x, y) => x + y, 0);
  if (total <= 0) return null;
  let seen = 0;
  for (let i = 0; i < d.length; i++) {
    seen += d[i];
    if (seen >= q * total) return i < b.bounds.length ? b.bounds[i] : Infinity;
  }
  return Infinity;
}
const latencyText = s => s == null ? '–' : s === Infinity ? '> 2.5 s' :
  s < 0.001 ? `≤ ${fmt(s * 1e6)} µs` : `≤ ${fmt(s * 1000, s < 0.01 ? 1 : 0)} ms`;

function drawClients() {
  let total = 0, clients = 0, pending = 0;
  const rows = [], kinds = new Map();
  for (const src of sources) {
    if (!isUp(src)) continue;
    const s = src.state, perSecond = rate(src, x => x.stats.commands) || 0;
    total += perSecond;
    clients += s.stats.clients;
    pending += s.stats.pending_requests;
    for (const [k, n] of Object.entries(s.stats.errors_by_kind || {}))
      kinds.set(k, (kinds.get(k) || 0) + n);
    rows.push(`<tr><td>node ${s.node}</td><td>${fmt(perSecond)}</td>` +
      `<td>${fmt(rate(src, x => x.stats.proposals))}</td>` +
      `<td>${fmt(rate(src, x => x.stats.reads))}</td>` +
      `<td>${fmt(rate(src, x => x.stats.forwarded))}</td>` +
      `<td>${latencyText(percentile(src, 0.5))}</td><td>${latencyText(percentile(src, 0.99))}</td>` +
      `<td>${fmt(rate(src, x => x.stats.errors || 0), 1)}</td>` +
      `<td>${fmt(s.stats.clients)}</td><td>${fmt(s.stats.pending_requests)}</td></tr>`);
  }
  spark.push(total);
  if (spark.length > SPARK_POINTS) spark.shift();
  $('clients').innerHTML = `<p id="throughput" data-commands-per-second="${total.toFixed(0)}">` +
    `<b>${fmt(total)}</b> commands/s · ${fmt(clients)} clients · ${fmt(pending)} requests ` +
    `waiting</p><div class="scroll"><table><tr><th></th><th>commands/s</th><th>proposals/s</th><th>reads/s</th>` +
    `<th>forwarded/s</th><th>p50</th><th>p99</th><th>errors/s</th><th>clients</th><th>waiting</th>` +
    '</tr>' + rows.join('') + '</table></div>' + (kinds.size ? '<p>error replies since start: ' +
    [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${esc(k)} ${fmt(n)}`).join(', ') +
    '</p>' : '');
  const max = Math.max(1, ...spark);
  const points = spark.map((v, i) =>
    `${(360 * i / (SPARK_POINTS - 1)).toFixed(1)},${(76 - 72 * v / max).toFixed(1)}`).join(' ');
  $('spark').innerHTML = `<polyline points="${points}"/><text x="4" y="12" ` +
    `style="font-size:10px">${fmt(max)}/s</text>`;
}

function drawLog() {
  $('log').innerHTML = log.slice(0, 60).map(e =>
    `<li class="${esc(e.kind)}">${e.at.toLocaleTimeString()} ${esc(e.text)}</li>`).join('');
}

function drawSummary(nodes, groups) {
  const up = sources.filter(isUp).length;
  const led = groups.filter(g => leaderOf(g)).length;
  const el = $('summary');
  el.dataset.nodesUp = up;
  el.dataset.nodes = nodes.length;
  el.dataset.groups = groups.length;
  el.dataset.groupsLed = led;
  el.textContent = `${up} of ${sources.length} watched nodes up · ${nodes.length} nodes in the ` +
    `topology · ${led} of ${groups.length} groups have a leader`;
}

// ---- development controls (--http-dev) ---------------------------------------------------
// Pausing node I: I stops ticking and drops every peer message, and every other watched node
// drops I's messages. Partitioning node I: the same without the pause. Heal: all end now.

async function devPost(src, action, query) {
  const r = await fetch(location.protocol + '//' + src.addr + '/dev/' + action + query,
                        {method: 'POST', headers: {'X-Chorus-Dev': '1'}});
  const text = (await r.text()).trim();
  if (!r.ok) throw new Error(`${src.addr}: ${r.status} ${text}`);
  return text;
}

function devControl(id, action) {
  const seconds = Math.max(1, Math.min(300, Number($('dev-seconds').value) || 10));
  const watched = sources.filter(src => src.state);
  const posts = [];
  if (action === 'heal') {
    for (const src of watched) posts.push(devPost(src, 'heal', ''));
  } else if (action === 'kill') {
    const target = sourceOf(id);
    if (!target) return;
    posts.push(devPost(target, 'kill', ''));
  } else {
    const target = sourceOf(id);
    if (!target) return;
    posts.push(devPost(target, action, `?seconds=${seconds}&node=${id}`));
    for (const src of watched)
      if (src !== target) posts.push(devPost(src, 'partition', `?seconds=${seconds}&node=${id}`));
  }
  Promise.allSettled(posts).then(results => {
    const failed = results.filter(r => r.status === 'rejected').map(r => r.reason.message);
    addLog(failed.length ? 'down' : 'election', (action === 'heal' ? 'dev: heal every node' :
      action === 'kill' ? `dev: kill node ${id} (SIGKILL)` :
      `dev: ${action} node ${id} for ${seconds} s`) +
      (failed.length ? ' — ' + failed.join('; ') : ''));
  });
}

let devKey = '';
function drawDev() {
  const on = sources.some(src => isUp(src) && src.state.dev && src.state.dev.enabled);
  $('dev').hidden = !on;
  if (!on) return;
  const ids = nodeIds().filter(id => sourceOf(id));
  const key = ids.join(',');
  if (key !== devKey) {
    devKey = key;
    $('devnodes').innerHTML = '<p>for <input id="dev-seconds" type="number" min="1" max="300" ' +
      'value="10" style="width:4em"> s: <button data-action="heal" data-node="0">heal all' +
      '</button></p>' + ids.map(id => `<div data-dev-node="${id}"><span class="dot" ` +
      `style="background:${color(id)}"></span>node ${id} <button data-action="pause" ` +
      `data-node="${id}">pause</button><button data-action="partition" data-node="${id}">` +
      `partition</button><button data-action="kill" data-node="${id}">kill</button> ` +
      `<span class="sub" id="dev-status-${id}"></span></div>`).join('');
  }
  for (const id of ids) {
    const src = sourceOf(id), d = src.state.dev || {};
    const parts = [];
    if (!isUp(src)) parts.push('down');
    if (d.paused_ms > 0) parts.push(`paused ${fmt(d.paused_ms / 1000, 1)} s`);
    if (d.isolated_ms > 0) parts.push(`cut off ${fmt(d.isolated_ms / 1000, 1)} s`);
    if (d.dropping_from && d.dropping_from.length)
      parts.push('dropping messages from ' + d.dropping_from.map(x => 'node ' + x).join(', '));
    const el = $('dev-status-' + id);
    if (el) el.textContent = parts.join(' · ');
  }
}

$('devnodes').addEventListener('click', e => {
  const b = e.target.closest('button[data-action]');
  if (b) devControl(Number(b.dataset.node), b.dataset.action);
});

let frame = 0;
function render() {
  const nodes = nodeIds(), groups = groupIds();
  noticeChanges(groups);
  drawSummary(nodes, groups);
  drawGrid(nodes, groups);
  drawClients();
  if (frame % 2 === 0) {
    drawNodes();
    drawRing();
    drawLog();
    drawSamples();
  }
  if (frame % 4 === 0) drawLinks(nodes);
  drawDev();
  frame++;
}

sources.forEach(connect);
setInterval(render, 250);
