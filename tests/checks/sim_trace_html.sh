#!/usr/bin/env bash
# sim_trace_html.sh — chorus-sim --seed N --trace-html FILE (src/sim/trace_html.h): the
# self-contained HTML timeline of one seed. Runs one seed each of raft and paxos (3 and 5
# nodes), raft and paxos with --groups 4, and a planted bug (--plant cross-apply), then checks
# every page with python3: an HTML page with the events as embedded JSON that parses, one lane
# per node (every node sent messages), messages sent and delivered, a leader elected (in every
# group with --groups), client operations that returned; no external script, style or fetch;
# the planted run's page shows the violation chorus-sim printed, prominently and in the JSON.
# Also: a long run's page says it was truncated at the event bound; --trace-html without
# --seed is refused; a seed's summary is the same with and without the page (recording must
# not change the run). When Debian's chromium is installed (make deps), each page is loaded
# headless and must have drawn its SVG timeline (message arrows, lanes; the planted page its
# violation mark); without chromium that part is skipped with a note.
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~15 s on 2 cores.
# timeout: 240
set -u
cd "$(dirname "$0")/../.."
SIM=${BUILD:-build}/bin/chorus-sim
STATUS=0
fail() { echo "sim_trace_html: FAIL: $*"; STATUS=1; }
[ -x "$SIM" ] || { echo "sim_trace_html: FAIL: $SIM not built"; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/chorus-trace-html.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

# check_page FILE NODES GROUPS [VIOLATION_TEXT] — validates one page with python3.
check_page() {
    python3 - "$@" <<'PY'
import html, json, re, sys
path, nodes, groups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
violation = sys.argv[4] if len(sys.argv) > 4 else None
text = open(path, encoding="utf-8").read()
errors = []
def need(ok, what):
    if not ok: errors.append(what)
need(text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>"), "not an HTML page")
m = re.search(r'<script type="application/json" id="chorus-trace">\n(.*?)\n</script>', text, re.S)
if m is None:
    print(f"{path}: no embedded JSON"); sys.exit(1)
try:
    d = json.loads(m.group(1))
except ValueError as e:
    print(f"{path}: the embedded JSON does not parse: {e}"); sys.exit(1)
# Self-contained: nothing loaded from elsewhere (the SVG namespace is a name, not a fetch).
need(not re.search(r'<script[^>]*\bsrc=|<link\b|<img\b|@import|fetch\(|XMLHttpRequest', text),
     "the page loads something from elsewhere")
need(d.get("nodes") == nodes and d.get("groups") == groups,
     f"nodes/groups {d.get('nodes')}/{d.get('groups')}, want {nodes}/{groups}")
ev = d["events"]
sends = [e for e in ev if e[1] == "s"]
need(len(sends) >= 10, f"{len(sends)} messages sent")
need({e[3] for e in sends} == set(range(nodes)), f"senders {sorted({e[3] for e in sends})}: "
     "a lane without messages")
need(sum(1 for e in ev if e[1] == "r" and e[4] == 0) >= 10, "messages delivered")
ids = {e[2] for e in sends}
need(all(e[2] in ids for e in ev if e[1] == "r"), "a delivery of a message never sent")
leaders = [e for e in ev if e[1] == "role" and e[4] == "leader"]
# A planted bug stops the seed early: a leader somewhere is enough then.
want_groups = set(range(groups)) if violation is None else {e[3] for e in leaders} | {0}
need(leaders and {e[3] for e in leaders} >= want_groups,
     f"leaders elected in groups {sorted({e[3] for e in leaders})} of {groups}")
need(all(0 <= e[2] < nodes for e in leaders), "a leader outside the lanes")
ops = [e for e in ev if e[1] == "op"]
need(sum(1 for e in ops if e[3] == 1) >= (3 if violation is None else 1),
     f"{len(ops)} client operations, too few returned")
need(all(e[2] <= e[0] for e in ops), "a client operation returns before its call")
need(any(e[1] == "apply" for e in ev), "no entry applied")
need(len(ev) <= d["events_max"], "more events than the bound")
if violation is None:
    need(d["violation"] is None, f"an unexpected violation: {d['violation']}")
    need('id="violation"' not in text, "a violation banner without a violation")
else:
    need(d["violation"] == violation, f"JSON violation {d['violation']!r}, want {violation!r}")
    b = re.search(r'<div class="violation" id="violation">(.*?)</div>', text, re.S)
    need(b is not None and html.unescape(b.group(1)) == "VIOLATION: " + violation,
         "the violation banner is missing or differs")
if errors:
    print(f"{path}: " + "; ".join(errors)); sys.exit(1)
print(f"  {path.rsplit('/', 1)[-1]}: {len(ev)} events, {len(sends)} messages, "
      f"{len(leaders)} leader changes, {len(ops)} client operations")
PY
}

# render FILE PATTERN... — loads the page in headless chromium (when installed) and requires
# each extended regular expression in the rendered DOM.
render() {
    local file=$1 dom; shift
    command -v chromium >/dev/null || return 0
    dom=$(timeout 120 nice -n 15 chromium --headless --no-sandbox --disable-gpu \
        --dump-dom "file://$(realpath "$file")" 2>/dev/null)
    for pattern in "$@"; do
        printf '%s' "$dom" | grep -qE "$pattern" || fail "$file in chromium: no '$pattern'"
    done
}
DRAWN=('<svg[^>]*id="timeline-svg"' 'class="msg' 'class="leader"' 'class="op' 'class="lane"')

# run NAME NODES GROUPS ARGS... — one seed with a page, then its checks.
run() {
    local name=$1 nodes=$2 groups=$3; shift 3
    local out rc
    out=$("$SIM" "$@" --trace-html "$DIR/$name.html" 2>&1); rc=$?
    [ "$rc" = 0 ] || { fail "$name: chorus-sim $* exited $rc: $(printf '%s' "$out" | tail -n 2)"; return; }
    check_page "$DIR/$name.html" "$nodes" "$groups" || fail "$name: the page"
    render "$DIR/$name.html" "${DRAWN[@]}"
}
echo "chorus-sim --trace-html:"
run raft 3 1 --protocol raft --seed 7
run paxos 3 1 --protocol paxos --seed 7
run raft5 5 1 --protocol raft --seed 8 --nodes 5
run raft-groups 3 4 --protocol raft --seed 9 --groups 4
run paxos-groups 3 4 --protocol paxos --seed 9 --groups 4

# A planted bug: the page must carry the violation chorus-sim reports.
out=$("$SIM" --protocol raft --seed 330000 --groups 4 --plant cross-apply \
    --trace-html "$DIR/plant.html" 2>&1); rc=$?
violation=$(printf '%s\n' "$out" | sed -nE 's/^seed [0-9]+: VIOLATION (.*)$/\1/p' | head -n 1)
if [ "$rc" != 1 ] || [ -z "$violation" ]; then
    fail "planted cross-apply: chorus-sim exited $rc without a violation"
else
    echo "  planted: $violation"
    check_page "$DIR/plant.html" 3 4 "$violation" || fail "planted: the page"
    render "$DIR/plant.html" "${DRAWN[@]}" 'class="violation-mark"' 'VIOLATION: state machine safety'
fi

# Bounded: a long run stops recording at the event bound and says so.
"$SIM" --protocol raft --seed 3 --nodes 5 --duration-ms 300000 --trace-html "$DIR/long.html" \
    >/dev/null 2>&1 || fail "long run: chorus-sim failed"
python3 - "$DIR/long.html" <<'PY' || fail "long run: not truncated as it should be"
import json, re, sys
text = open(sys.argv[1]).read()
d = json.loads(re.search(r'id="chorus-trace">\n(.*?)\n</script>', text, re.S).group(1))
ok = d["truncated"] and d["dropped"] > 0 and len(d["events"]) == d["events_max"] and \
    'id="truncated"' in text
print(f"  long run: {len(d['events'])} events kept, {d['dropped']} dropped")
sys.exit(0 if ok else 1)
PY

# One seed only, said clearly; no file left behind.
out=$("$SIM" --protocol raft --seeds 2 --trace-html "$DIR/refused.html" 2>&1); rc=$?
[ "$rc" = 2 ] && printf '%s' "$out" | grep -q -- '--trace-html draws one seed' &&
    [ ! -e "$DIR/refused.html" ] || fail "--trace-html with --seeds: exit $rc, '$(printf '%s' "$out" | head -n 1)'"

# Recording changes nothing: the same summary with and without the page (wall-clock fields cut).
for args in "--protocol raft --seed 11" "--protocol paxos --seed 11 --groups 4"; do
    a=$("$SIM" $args 2>&1 | sed -E 's/seeds\/s [0-9.]+//; s/elapsed_s: [0-9.]+//')
    b=$("$SIM" $args --trace-html "$DIR/same.html" 2>&1 | sed -E 's/seeds\/s [0-9.]+//; s/elapsed_s: [0-9.]+//')
    [ "$a" = "$b" ] || fail "chorus-sim $args: the run differs with --trace-html"
done
command -v chromium >/dev/null && echo "  pages rendered in headless chromium" ||
    echo "  chromium not installed: the pages were not rendered (make deps installs it)"
[ "$STATUS" = 0 ] && echo "sim_trace_html: ok"
exit $STATUS
