/* trace_html.c — the HTML timeline of one seed (--trace-html): the event recorder and the
 * page writer (trace_html.h). Events are kept as JSON text, one array each, so that writing the
 * page is one copy; the renderer below is plain JS drawing SVG, inlined in the page so that it
 * opens from a file with nothing fetched. */
#include "sim/trace_html.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

struct sim_html {
    char *text;       /* the events' JSON arrays, each followed by ",\n" */
    size_t len, capacity;
    uint32_t events;
    uint64_t dropped; /* events past the bounds */
    uint32_t message_next;
    uint32_t culprits[SIM_HTML_CULPRITS_MAX];
    uint32_t culprit_count, culprit_total;
};

struct sim_html *sim_html_create(void)
{
    return calloc(1, sizeof(struct sim_html));
}

void sim_html_destroy(struct sim_html *html)
{
    if (html == NULL) return;
    free(html->text);
    free(html);
}

void sim_html_reset(struct sim_html *html)
{
    html->len = 0;
    html->events = 0;
    html->dropped = 0;
    html->message_next = 0;
    html->culprit_count = 0;
    html->culprit_total = 0;
}

/* Makes room for `more` bytes within SIM_HTML_BYTES_MAX. Returns false when the bound (or
 * memory) says no: the event is then dropped, as past the event bound. */
static bool sim_html_reserve(struct sim_html *html, size_t more)
{
    if (html->len + more > SIM_HTML_BYTES_MAX) return false;
    if (html->len + more <= html->capacity) return true;
    size_t capacity = html->capacity ? html->capacity : 1 << 16;
    while (capacity < html->len + more) capacity *= 2;
    if (capacity > SIM_HTML_BYTES_MAX) capacity = SIM_HTML_BYTES_MAX;
    char *text = realloc(html->text, capacity);
    if (text == NULL) return false;
    html->text = text;
    html->capacity = capacity;
    return true;
}

void sim_html_event(struct sim *sim, const char *format, ...)
{
    struct sim_html *html = sim->html;
    char body[2 * SIM_HTML_TEXT_BYTES_MAX + 256];
    int head = snprintf(body, sizeof(body), "[%" PRId64 ",", sim->now_us);
    va_list args;
    va_start(args, format);
    int rest = vsnprintf(body + head, sizeof(body) - (size_t)head, format, args);
    va_end(args);
    /* An event cut short would not parse: the quoted strings are bounded so that none is. */
    assert(rest >= 0 && (size_t)(head + rest) + 3 < sizeof(body));
    size_t len = (size_t)(head + rest);
    if (html->events >= SIM_HTML_EVENTS_MAX || !sim_html_reserve(html, len + 3)) {
        html->dropped++;
        return;
    }
    memcpy(html->text + html->len, body, len);
    memcpy(html->text + html->len + len, "],\n", 3);
    html->len += len + 3;
    html->events++;
}

/* The trace lines worth a mark on the timeline; the rest (messages, roles, applies, client
 * steps, crashes) are recorded as structured events where they happen. */
static const char *const sim_html_note_prefixes[] = {
    "fault", "compare:", "PLANTED", "liveness", "wal:", "install snapshot", "snapshot taken",
};

void sim_html_note(struct sim *sim, int node, int group, const char *text)
{
    for (size_t i = 0; i < sizeof(sim_html_note_prefixes) / sizeof(sim_html_note_prefixes[0]);
         i++) {
        if (strncmp(text, sim_html_note_prefixes[i], strlen(sim_html_note_prefixes[i])) != 0)
            continue;
        char quoted[SIM_HTML_TEXT_BYTES_MAX];
        sim_html_event(sim, "\"note\",%d,%d,%s", node, group,
                       sim_html_quote(quoted, sizeof(quoted), text));
        return;
    }
}

uint32_t sim_html_message_id(struct sim *sim)
{
    return ++sim->html->message_next;
}

void sim_html_culprits(struct sim *sim, const uint32_t *op_index, uint32_t count,
                       uint32_t total)
{
    struct sim_html *html = sim->html;
    html->culprit_count = count < SIM_HTML_CULPRITS_MAX ? count : SIM_HTML_CULPRITS_MAX;
    memcpy(html->culprits, op_index, html->culprit_count * sizeof(op_index[0]));
    html->culprit_total = total;
}

char *sim_html_quote(char *out, size_t len, const char *text)
{
    assert(len >= 16);
    size_t o = 0;
    out[o++] = '"';
    /* Room for the longest escape (6 bytes), the closing quote and the terminator. */
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && o + 9 < len; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p >= 0x7f) {
            /* Bytes past ASCII too: values are not promised to be UTF-8, and JSON must be. */
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* Writes `text` escaped for HTML element content. */
static void sim_html_escape(FILE *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*p, out);
        }
    }
}

static const char sim_html_style[] =
    "body{font-family:sans-serif;margin:12px;color:#222}\n"
    "h1{font-size:18px;margin:4px 0}\n"
    ".violation{background:#fdd;border:2px solid #c00;color:#900;padding:8px;margin:8px 0;"
    "font-weight:bold;font-size:15px}\n"
    ".truncated{background:#ffe9b3;border:1px solid #c90;padding:6px;margin:8px 0}\n"
    ".ok{background:#dfd;border:1px solid #3a3;padding:6px;margin:8px 0}\n"
    "#controls button{margin-right:4px}\n"
    "#notes{font-size:12px;max-height:260px;overflow:auto;font-family:monospace}\n"
    ".legend{font-size:12px;color:#555}\n";

static const char sim_html_renderer[] =
    "(function () {\n"
    "  var D = JSON.parse(document.getElementById('chorus-trace').textContent);\n"
    "  var NS = 'http://www.w3.org/2000/svg';\n"
    "  var N = D.nodes, G = D.groups, END = Math.max(D.end_us, 1);\n"
    "  var sends = {}, msgs = [], roles = [], downs = [], notes = [], applies = [], ops = [];\n"
    "  var culprit = {};\n"
    "  D.culprits.forEach(function (i) { culprit[i] = true; });\n"
    "  var downSince = {};\n"
    "  D.events.forEach(function (e) {\n"
    "    var t = e[0], k = e[1];\n"
    "    if (k === 's') {\n"
    "      var m = {t: t, id: e[2], from: e[3], to: e[4], g: e[5], type: e[6], term: e[7],\n"
    "               index: e[8], n: e[9], rej: e[10], lost: e[11], dl: []};\n"
    "      sends[m.id] = m; msgs.push(m);\n"
    "    } else if (k === 'r') {\n"
    "      if (sends[e[2]]) sends[e[2]].dl.push({t: t, state: e[4]});\n"
    "    } else if (k === 'role') {\n"
    "      roles.push({t: t, node: e[2], g: e[3], role: e[4], term: e[5], leader: e[6]});\n"
    "    } else if (k === 'crash') {\n"
    "      downSince[e[2]] = t;\n"
    "    } else if (k === 'start') {\n"
    "      if (downSince[e[2]] !== undefined) downs.push({node: e[2], t0: downSince[e[2]], t1: t});\n"
    "      delete downSince[e[2]];\n"
    "    } else if (k === 'note') {\n"
    "      notes.push({t: t, node: e[2], g: e[3], text: e[4]});\n"
    "    } else if (k === 'apply') {\n"
    "      applies.push({t: t, node: e[2], g: e[3], index: e[4], term: e[5]});\n"
    "    } else if (k === 'op') {\n"
    "      ops.push({t1: t, t0: e[2], returned: e[3], client: e[4], g: e[5], kind: e[6], key: e[7],\n"
    "                arg: e[8], out: e[9], hist: e[10], node: e[11]});\n"
    "    }\n"
    "  });\n"
    "  Object.keys(downSince).forEach(function (n) { downs.push({node: +n, t0: downSince[n], t1: END}); });\n"
    "  /* Leadership per (node, group): from each role change to the next. */\n"
    "  var leads = [], cur = {};\n"
    "  roles.forEach(function (r) {\n"
    "    var key = r.node + '/' + r.g, c = cur[key];\n"
    "    if (c) { c.t1 = r.t; leads.push(c); delete cur[key]; }\n"
    "    if (r.role === 'leader') cur[key] = {node: r.node, g: r.g, term: r.term, t0: r.t, t1: END};\n"
    "  });\n"
    "  downs.forEach(function (d) {\n"
    "    Object.keys(cur).forEach(function (key) {\n"
    "      var c = cur[key];\n"
    "      if (c.node === d.node && c.t0 <= d.t0) { c.t1 = d.t0; leads.push(c); delete cur[key]; }\n"
    "    });\n"
    "  });\n"
    "  Object.keys(cur).forEach(function (key) { leads.push(cur[key]); });\n"
    "  var clients = 0;\n"
    "  ops.forEach(function (o) { clients = Math.max(clients, o.client); });\n"
    "  var LEFT = 90, W = 1300, LANE = 34 + 5 * G, TOP = 30, OPROW = 18;\n"
    "  var laneY = function (n) { return TOP + n * LANE + LANE / 2; };\n"
    "  var H = TOP + N * LANE + 20 + clients * OPROW + 20;\n"
    "  var view = {t0: 0, span: Math.min(END, 200000)};\n"
    "  if (D.violation !== null) view.t0 = Math.max(0, Math.min(D.violation_us - view.span * 0.8, END - view.span));\n"
    "  var groupColor = function (g) { return 'hsl(' + ((g * 137) % 360) + ',65%,42%)'; };\n"
    "  var typeColors = {};\n"
    "  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf',\n"
    "                 '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#843c39'];\n"
    "  var typeColor = function (t) {\n"
    "    if (!(t in typeColors)) typeColors[t] = palette[Object.keys(typeColors).length % palette.length];\n"
    "    return typeColors[t];\n"
    "  };\n"
    "  /* Coalesced heartbeats carry every group's: gray, not group 0's color. */\n"
    "  var colorOf = function (m) {\n"
    "    return G > 1 ? (m.type === 'node-heartbeats' ? '#aaa' : groupColor(m.g)) : typeColor(m.type);\n"
    "  };\n"
    "  var el = function (name, attrs, parent, text) {\n"
    "    var x = document.createElementNS(NS, name);\n"
    "    for (var a in attrs) x.setAttribute(a, attrs[a]);\n"
    "    if (text !== undefined) x.textContent = text;\n"
    "    if (parent) parent.appendChild(x);\n"
    "    return x;\n"
    "  };\n"
    "  var tip = function (x, text) { el('title', {}, x, text); return x; };\n"
    "  var ms = function (t) { return (t / 1000).toFixed(3) + ' ms'; };\n"
    "  var gl = function (g) { return G > 1 ? ' g' + g : ''; };\n"
    "  var DRAW_MAX = 6000;\n"
    "  function draw() {\n"
    "    var host = document.getElementById('timeline');\n"
    "    host.textContent = '';\n"
    "    var t0 = view.t0, t1 = view.t0 + view.span;\n"
    "    var X = function (t) { return LEFT + (t - t0) / view.span * W; };\n"
    "    var inside = function (a, b) { return b >= t0 && a <= t1; };\n"
    "    var svg = el('svg', {width: LEFT + W + 20, height: H, id: 'timeline-svg'}, host);\n"
    "    el('defs', {}, svg).innerHTML = '<marker id=\"arrow\" viewBox=\"0 0 6 6\" refX=\"6\" refY=\"3\" ' +\n"
    "      'markerWidth=\"5\" markerHeight=\"5\" orient=\"auto\"><path d=\"M0,0 L6,3 L0,6 z\"/></marker>' +\n"
    "      '<clipPath id=\"plot\"><rect x=\"' + LEFT + '\" y=\"0\" width=\"' + W + '\" height=\"' + H + '\"/></clipPath>';\n"
    "    var labels = svg;\n"
    "    svg = el('g', {'clip-path': 'url(#plot)'}, labels);\n"
    "    for (var i = 0; i <= 10; i++) {\n"
    "      var tt = t0 + view.span * i / 10;\n"
    "      el('line', {x1: X(tt), x2: X(tt), y1: TOP - 6, y2: H - 10, stroke: '#eee'}, svg);\n"
    "      el('text', {x: X(tt), y: TOP - 10, 'font-size': 10, 'text-anchor': 'middle'}, labels, ms(tt));\n"
    "    }\n"
    "    for (var n = 0; n < N; n++) {\n"
    "      el('rect', {x: LEFT, y: TOP + n * LANE + 2, width: W, height: LANE - 4,\n"
    "                  fill: n % 2 ? '#fafafa' : '#f3f6fa', class: 'lane'}, svg);\n"
    "      el('text', {x: 8, y: laneY(n) + 4, 'font-weight': 'bold', class: 'lane-label'}, labels, 'n' + (n + 1));\n"
    "    }\n"
    "    downs.forEach(function (d) {\n"
    "      if (!inside(d.t0, d.t1)) return;\n"
    "      var a = Math.max(X(d.t0), LEFT), b = Math.min(X(d.t1), LEFT + W);\n"
    "      tip(el('rect', {x: a, y: TOP + d.node * LANE + 2, width: Math.max(b - a, 1), height: LANE - 4,\n"
    "                      fill: '#999', 'fill-opacity': 0.35, class: 'down'}, svg),\n"
    "          'n' + (d.node + 1) + ' down ' + ms(d.t0) + ' .. ' + ms(d.t1));\n"
    "      if (d.t0 >= t0) tip(el('text', {x: X(d.t0) - 4, y: laneY(d.node) + 5, fill: '#c00',\n"
    "                                      'font-weight': 'bold', class: 'crash'}, svg, '\\u2716'),\n"
    "                          'crash n' + (d.node + 1) + ' at ' + ms(d.t0));\n"
    "    });\n"
    "    leads.forEach(function (l) {\n"
    "      if (!inside(l.t0, l.t1)) return;\n"
    "      var a = Math.max(X(l.t0), LEFT), b = Math.min(X(l.t1), LEFT + W);\n"
    "      tip(el('rect', {x: a, y: TOP + l.node * LANE + 4 + 5 * l.g, width: Math.max(b - a, 1), height: 4,\n"
    "                      fill: groupColor(l.g), class: 'leader'}, svg),\n"
    "          'n' + (l.node + 1) + gl(l.g) + ' leader, term ' + l.term + ' (' + ms(l.t0) + ' .. ' + ms(l.t1) + ')');\n"
    "    });\n"
    "    roles.forEach(function (r) {\n"
    "      if (r.t < t0 || r.t > t1) return;\n"
    "      tip(el('circle', {cx: X(r.t), cy: TOP + r.node * LANE + 6 + 5 * r.g, r: r.role === 'leader' ? 4 : 2.5,\n"
    "                        fill: r.role === 'leader' ? groupColor(r.g) : '#fff', stroke: groupColor(r.g),\n"
    "                        class: 'role'}, svg),\n"
    "          ms(r.t) + ' n' + (r.node + 1) + gl(r.g) + ': ' + r.role + ' term ' + r.term + ' leader ' + r.leader);\n"
    "    });\n"
    "    var drawnApplies = 0;\n"
    "    applies.forEach(function (a) {\n"
    "      if (a.t < t0 || a.t > t1 || drawnApplies >= DRAW_MAX) return;\n"
    "      drawnApplies++;\n"
    "      tip(el('line', {x1: X(a.t), x2: X(a.t), y1: TOP + (a.node + 1) * LANE - 10, y2: TOP + (a.node + 1) * LANE - 3,\n"
    "                      stroke: '#2a2', class: 'apply'}, svg),\n"
    "          ms(a.t) + ' n' + (a.node + 1) + gl(a.g) + ' applied ' + a.index + ' (term ' + a.term + ')');\n"
    "    });\n"
    "    var drawn = 0, shown = 0;\n"
    "    msgs.forEach(function (m) {\n"
    "      var last = m.dl.length ? m.dl[m.dl.length - 1].t : m.t;\n"
    "      if (!inside(m.t, last)) return;\n"
    "      shown++;\n"
    "      if (drawn >= DRAW_MAX) return;\n"
    "      drawn++;\n"
    "      var y0 = laneY(m.from), y1 = laneY(m.to);\n"
    "      var what = m.type + (m.type === 'node-heartbeats' ? '' : gl(m.g)) + ' n' + (m.from + 1) + '\\u2192n' + (m.to + 1) + ' term ' + m.term +\n"
    "        ' index ' + m.index + (m.n ? ' entries ' + m.n : '') + (m.rej ? ' REJECT' : '') + ', sent ' + ms(m.t);\n"
    "      if (m.dl.length === 0) {\n"
    "        var xl = X(m.t) + 8;\n"
    "        tip(el('line', {x1: X(m.t), y1: y0, x2: xl, y2: y0 + (y1 - y0) * 0.3, stroke: '#d00',\n"
    "                        'stroke-dasharray': '2,2', class: 'msg lost'}, svg), what + ', LOST');\n"
    "        el('text', {x: xl, y: y0 + (y1 - y0) * 0.3 + 3, 'font-size': 8, fill: '#d00'}, svg, 'x');\n"
    "        return;\n"
    "      }\n"
    "      m.dl.forEach(function (d) {\n"
    "        var ok = d.state === 0;\n"
    "        tip(el('line', {x1: X(m.t), y1: y0, x2: X(d.t), y2: y1, stroke: ok ? colorOf(m) : '#d00',\n"
    "                        'stroke-width': m.n ? 1.4 : 0.7, 'stroke-dasharray': ok ? '' : '3,2',\n"
    "                        'marker-end': 'url(#arrow)', class: 'msg' + (ok ? '' : ' lost')}, svg),\n"
    "            what + (ok ? ', delivered ' : d.state === 1 ? ', reached a down node at ' : ', died with its sender at ') + ms(d.t));\n"
    "      });\n"
    "    });\n"
    "    notes.forEach(function (nt) {\n"
    "      if (nt.t < t0 || nt.t > t1) return;\n"
    "      var y0 = nt.node >= 0 ? TOP + nt.node * LANE + 2 : TOP, y1 = nt.node >= 0 ? y0 + LANE - 4 : TOP + N * LANE;\n"
    "      tip(el('line', {x1: X(nt.t), x2: X(nt.t), y1: y0, y2: y1, stroke: '#e67e00', 'stroke-width': 2,\n"
    "                      'stroke-dasharray': '4,2', class: 'fault'}, svg),\n"
    "          ms(nt.t) + (nt.node >= 0 ? ' n' + (nt.node + 1) + (nt.g >= 0 ? gl(nt.g) : '') : '') + ': ' + nt.text);\n"
    "    });\n"
    "    var oy = TOP + N * LANE + 20;\n"
    "    for (var c = 1; c <= clients; c++)\n"
    "      el('text', {x: 8, y: oy + (c - 1) * OPROW + 12, 'font-size': 11}, labels, 'client ' + c);\n"
    "    ops.forEach(function (o) {\n"
    "      var end = o.returned ? o.t1 : Math.max(o.t1, o.t0);\n"
    "      if (!inside(o.t0, end)) return;\n"
    "      var a = Math.max(X(o.t0), LEFT), b = Math.min(X(end), LEFT + W), y = oy + (o.client - 1) * OPROW;\n"
    "      var bad = o.hist >= 0 && culprit[o.hist];\n"
    "      var label = o.kind + ' ' + o.key + (o.arg ? ' ' + o.arg : '') + ' \\u2192 ' + o.out;\n"
    "      var r = tip(el('rect', {x: a, y: y + 2, width: Math.max(b - a, 2), height: OPROW - 4, rx: 3,\n"
    "                              fill: bad ? '#f66' : o.returned ? '#9d9' : '#ccc',\n"
    "                              stroke: bad ? '#900' : '#555', 'stroke-width': bad ? 2 : 0.5,\n"
    "                              class: 'op' + (bad ? ' culprit' : '')}, svg),\n"
    "                  'client ' + o.client + gl(o.g) + ' via n' + (o.node + 1) + ': ' + label + ' (' + ms(o.t0) + ' .. ' +\n"
    "                  (o.returned ? ms(o.t1) : 'no reply') + ')' + (o.hist >= 0 ? ', history op ' + o.hist : ''));\n"
    "      if (b - a > 60) el('text', {x: a + 3, y: y + OPROW - 6, 'font-size': 9, 'pointer-events': 'none'}, svg,\n"
    "                         label.slice(0, Math.floor((b - a) / 5)));\n"
    "    });\n"
    "    if (D.violation !== null && D.violation_us >= t0 && D.violation_us <= t1)\n"
    "      tip(el('line', {x1: X(D.violation_us), x2: X(D.violation_us), y1: TOP - 6, y2: H - 10, stroke: '#c00',\n"
    "                      'stroke-width': 3, class: 'violation-mark'}, svg), 'VIOLATION: ' + D.violation);\n"
    "    document.getElementById('window').textContent = 'showing ' + ms(t0) + ' .. ' + ms(t1) + ' of ' + ms(END) +\n"
    "      '; messages in view ' + shown + (shown > drawn ? ' (first ' + drawn + ' drawn: zoom in)' : '');\n"
    "    drawOverview();\n"
    "  }\n"
    "  function drawOverview() {\n"
    "    var host = document.getElementById('overview');\n"
    "    host.textContent = '';\n"
    "    var OX = function (t) { return LEFT + t / END * W; };\n"
    "    var svg = el('svg', {width: LEFT + W + 20, height: 16 + N * 6, id: 'overview-svg'}, host);\n"
    "    el('text', {x: 8, y: 12, 'font-size': 10}, svg, 'whole run');\n"
    "    leads.forEach(function (l) {\n"
    "      el('rect', {x: OX(l.t0), y: 4 + l.node * 6, width: Math.max(OX(l.t1) - OX(l.t0), 1), height: 4,\n"
    "                  fill: groupColor(l.g), 'fill-opacity': 0.6}, svg);\n"
    "    });\n"
    "    downs.forEach(function (d) {\n"
    "      el('rect', {x: OX(d.t0), y: 4 + d.node * 6, width: Math.max(OX(d.t1) - OX(d.t0), 1), height: 4, fill: '#888'}, svg);\n"
    "    });\n"
    "    if (D.violation !== null) el('line', {x1: OX(D.violation_us), x2: OX(D.violation_us), y1: 0, y2: 16 + N * 6,\n"
    "                                          stroke: '#c00', 'stroke-width': 2}, svg);\n"
    "    el('rect', {x: OX(view.t0), y: 1, width: Math.max(view.span / END * W, 2), height: 12 + N * 6,\n"
    "                fill: 'none', stroke: '#000'}, svg);\n"
    "    svg.onclick = function (ev) {\n"
    "      var r = svg.getBoundingClientRect(), t = (ev.clientX - r.left - LEFT) / W * END;\n"
    "      go(t - view.span / 2, view.span);\n"
    "    };\n"
    "  }\n"
    "  function go(t0, span) {\n"
    "    view.span = Math.max(100, Math.min(span, END));\n"
    "    view.t0 = Math.max(0, Math.min(t0, END - view.span));\n"
    "    draw();\n"
    "  }\n"
    "  var bind = function (id, f) { document.getElementById(id).onclick = f; };\n"
    "  bind('left', function () { go(view.t0 - view.span * 0.8, view.span); });\n"
    "  bind('right', function () { go(view.t0 + view.span * 0.8, view.span); });\n"
    "  bind('zoomin', function () { go(view.t0 + view.span / 4, view.span / 2); });\n"
    "  bind('zoomout', function () { go(view.t0 - view.span / 2, view.span * 2); });\n"
    "  bind('all', function () { go(0, END); });\n"
    "  var list = document.getElementById('notes');\n"
    "  var items = notes.map(function (n) { return {t: n.t, text: (n.node >= 0 ? 'n' + (n.node + 1) + (n.g >= 0 ? gl(n.g) : '') + ': ' : '') + n.text}; });\n"
    "  downs.forEach(function (d) { items.push({t: d.t0, text: 'n' + (d.node + 1) + ': CRASH (down until ' + ms(d.t1) + ')'}); });\n"
    "  roles.forEach(function (r) { if (r.role === 'leader') items.push({t: r.t, text: 'n' + (r.node + 1) + gl(r.g) + ' leader, term ' + r.term}); });\n"
    "  items.sort(function (a, b) { return a.t - b.t; });\n"
    "  items.slice(0, 2000).forEach(function (it) {\n"
    "    var li = document.createElement('li');\n"
    "    var a = document.createElement('a');\n"
    "    a.href = '#'; a.textContent = ms(it.t);\n"
    "    a.onclick = function (ev) { ev.preventDefault(); go(it.t - view.span / 2, view.span); };\n"
    "    li.appendChild(a); li.appendChild(document.createTextNode(' ' + it.text));\n"
    "    list.appendChild(li);\n"
    "  });\n"
    "  var cl = document.getElementById('culprit-list');\n"
    "  ops.forEach(function (o) {\n"
    "    if (!(o.hist >= 0 && culprit[o.hist])) return;\n"
    "    var li = document.createElement('li');\n"
    "    li.textContent = 'history op ' + o.hist + ': client ' + o.client + gl(o.g) + ' ' + o.kind + ' ' + o.key +\n"
    "      (o.arg ? ' ' + o.arg : '') + ' \\u2192 ' + o.out + ' (' + ms(o.t0) + ' .. ' + (o.returned ? ms(o.t1) : 'no reply') + ')';\n"
    "    cl.appendChild(li);\n"
    "  });\n"
    "  draw();\n"
    "})();\n";

int sim_html_write(struct sim *sim, FILE *out)
{
    struct sim_html *html = sim->html;
    const struct sim_verdict *verdict = &sim->verdict;
    bool failed = sim_failed(sim);
    fprintf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            "<title>chorus-sim %s seed %" PRIu64 "</title>\n<style>\n%s</style></head><body>\n",
            sim->ops->name, sim->seed, sim_html_style);
    fprintf(out, "<h1>chorus-sim --protocol %s --seed %" PRIu64 " --nodes %u --groups %u</h1>\n",
            sim->ops->name, sim->seed, sim->node_count, sim->group_count);
    /* The verdict is written as HTML too, so that it shows even where scripts do not run. */
    if (failed) {
        fputs("<div class=\"violation\" id=\"violation\">VIOLATION: ", out);
        sim_html_escape(out, verdict->message);
        fputs("</div>\n", out);
        if (html->culprit_total > 0)
            fprintf(out, "<div>The linearizability checker names %u operations (drawn red "
                    "with a thick border):<ul id=\"culprit-list\"></ul></div>\n",
                    html->culprit_total);
        else
            fputs("<div>The timeline opens at the violation (the red line); the client "
                  "operations around it are in the rows below the nodes."
                  "<ul id=\"culprit-list\"></ul></div>\n", out);
    } else {
        fputs("<div class=\"ok\">No violation: every invariant held and the history is "
              "linearizable.<ul id=\"culprit-list\"></ul></div>\n", out);
    }
    if (html->dropped > 0)
        fprintf(out, "<div class=\"truncated\" id=\"truncated\">Truncated: only the first %u "
                "events are recorded (bounds: %u events, %u bytes); %" PRIu64 " later events "
                "were dropped.</div>\n", html->events, (unsigned)SIM_HTML_EVENTS_MAX,
                (unsigned)SIM_HTML_BYTES_MAX, html->dropped);
    fputs("<div id=\"controls\"><button id=\"left\">&larr;</button><button id=\"right\">"
          "&rarr;</button><button id=\"zoomin\">zoom in</button><button id=\"zoomout\">zoom "
          "out</button><button id=\"all\">whole run</button> <span id=\"window\"></span></div>\n"
          "<div class=\"legend\">Lanes are nodes; time runs left to right (virtual time). "
          "Arrows are messages from send to delivery (colored by type, or by group with "
          "several groups; red dashed: lost, or reached a down node); thin colored bars in a "
          "lane: that node leads the group (dots: role changes); gray: the node is down "
          "(&#x2716; crash); orange dashed lines: faults; green ticks: entries applied. Rows "
          "below: client operations from call to return (green: returned, gray: outcome "
          "unknown). Hover anything for details; click the overview to move.</div>\n"
          "<div id=\"overview\"></div><div id=\"timeline\"></div>\n"
          "<h2 style=\"font-size:15px\">Faults, crashes and new leaders</h2><ol id=\"notes\">"
          "</ol>\n", out);
    fputs("<script type=\"application/json\" id=\"chorus-trace\">\n", out);
    char quoted[SIM_HTML_TEXT_BYTES_MAX];
    fprintf(out, "{\"format\":\"chorus-sim-trace-1\",\"protocol\":\"%s\",\"seed\":%" PRIu64
            ",\"nodes\":%u,\"groups\":%u,\"end_us\":%" PRId64 ",\"violation\":%s,"
            "\"violation_us\":%" PRId64 ",\"culprits\":[", sim->ops->name, sim->seed,
            sim->node_count, sim->group_count, sim->now_us,
            failed ? sim_html_quote(quoted, sizeof(quoted), verdict->message) : "null",
            sim->now_us);
    for (uint32_t i = 0; i < html->culprit_count; i++)
        fprintf(out, "%s%u", i ? "," : "", html->culprits[i]);
    fprintf(out, "],\"culprit_total\":%u,\"truncated\":%s,\"dropped\":%" PRIu64
            ",\"events_max\":%u,\"events\":[\n", html->culprit_total,
            html->dropped ? "true" : "false", html->dropped, (unsigned)SIM_HTML_EVENTS_MAX);
    /* Each event ends with ",\n": the last comma goes, JSON has no trailing commas. */
    if (html->len > 0) fwrite(html->text, 1, html->len - 2, out);
    fputs("\n]}\n</script>\n<script>\n", out);
    fputs(sim_html_renderer, out);
    fputs("</script>\n</body></html>\n", out);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
