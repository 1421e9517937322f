#!/usr/bin/env bash
# timeout: 120
# redis_tools.sh — what redis-cli's tools read from a server (issue 15, bug 6): INFO's
# tcp_port as a number, role:master on the leader and role:slave on followers, the keyspace,
# memory and cpu sections; COMMAND, COMMAND COUNT and COMMAND LIST agree; redis-cli --stat,
# --bigkeys and --memkeys print the right figures on a follower.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
KEYS_TOTAL=100
cluster_start 3 || fail "cluster start"
leader=$(wait_leader) || fail "no leader"
follower=$((leader % 3 + 1))
for i in $(seq 1 "$KEYS_TOTAL"); do
    printf 'SET key:%d %s\n' "$i" "$(head -c $((i * 10)) /dev/zero | tr '\0' v)"
done | cli_load "$leader" || fail "load"
expect_eq "$(cli "$follower" dbsize)" "$KEYS_TOTAL" "DBSIZE on the follower"
info() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
expect_eq "$(info "$follower" server tcp_port)" "$(client_port "$follower")" "INFO tcp_port"
expect_eq "$(info "$leader" replication role)" master "role on the leader"
expect_eq "$(info "$follower" replication role)" slave "role on a follower"
expect_eq "$(info "$follower" keyspace db0)" "keys=$KEYS_TOTAL,expires=0,avg_ttl=0" "INFO keyspace"
used=$(info "$follower" memory used_memory)
[ "${used:-0}" -gt 1000000 ] || fail "INFO memory used_memory is '$used'"
cpu=$(info "$follower" cpu used_cpu_user)
case $cpu in [0-9]*.[0-9]*) ;; *) fail "INFO cpu used_cpu_user is '$cpu'" ;; esac
count=$(cli "$follower" command count)
listed=$(cli "$follower" command list | wc -l)
entries=$(cli "$follower" command info get set multi | grep -c '^get$\|^set$\|^multi$')
expect_eq "$listed" "$count" "COMMAND LIST length vs COMMAND COUNT"
expect_eq "$entries" 3 "COMMAND INFO get set multi"
big=$(timeout 20 redis-cli -p "$(client_port "$follower")" --bigkeys 2>&1)
echo "$big" | grep -q "Biggest string found '\"key:$KEYS_TOTAL\"' has $((KEYS_TOTAL * 10)) bytes" ||
    fail "--bigkeys: $big"
total_bytes=$((KEYS_TOTAL * (KEYS_TOTAL + 1) / 2 * 10))
echo "$big" | grep -q "^$KEYS_TOTAL strings with $total_bytes bytes" || fail "--bigkeys totals: $big"
mem=$(timeout 20 redis-cli -p "$(client_port "$follower")" --memkeys 2>&1)
echo "$mem" | grep -q "^$KEYS_TOTAL strings with [0-9]* bytes" || fail "--memkeys: $mem"
stat=$(timeout 3 stdbuf -o0 redis-cli -p "$(client_port "$follower")" --stat -i 1 2>&1)
keys_shown=$(echo "$stat" | sed -n 3p | awk '{print $1}')
expect_eq "$keys_shown" "$KEYS_TOTAL" "redis-cli --stat keys column (output: $stat)"
echo "redis_tools: ok"
