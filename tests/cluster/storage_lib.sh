#!/usr/bin/env bash
# storage_lib.sh — helpers for the storage checks (storage_crash.sh, storage_faults.sh),
# sourced after tests/cluster/lib.sh:
#   - writers that write unique keys over persistent RESP connections (bash /dev/tcp, no fork
#     per command) and record the outcome of every write: acknowledged (+OK), certainly not
#     executed (-TRYAGAIN/-BUSY), or unknown (-UNKNOWN, timeout, connection lost);
#   - verification that every acknowledged write is readable, with its value, from a node
#     (MGET through redis-cli: linearizable reads);
#   - WAL segment inspection and byte flipping (perl, which every Debian has).

# --- writers -------------------------------------------------------------------------------

# sl_writer ID DIR PORT... — writes keys "w<ID>-<n>" with value "v<ID>-<n>-<pad>" until
# DIR/stop exists. One request in flight at a time; every outcome is appended to a file
# before the next request is sent:
#   DIR/acked.ID     "key value"   for every +OK
#   DIR/notexec.ID   "key reply"   for every reply that promises the write did not happen
#   DIR/unknown.ID   "key reason"  for everything else
# After an error, a timeout or a lost connection it moves on to the next port.
sl_writer() {
    local id=$1 dir=$2; shift 2
    local ports=("$@") np=$# cur=0 n=0 connected=0 line key val msg
    local pad=${SL_VALUE_PAD:-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}
    cur=$((id % np))
    trap '' PIPE
    while [ ! -e "$dir/stop" ]; do
        if [ "$connected" = 0 ]; then
            if exec 3<>"/dev/tcp/127.0.0.1/${ports[$cur]}"; then
                connected=1
            else
                cur=$(((cur + 1) % np)); sleep 0.05; continue
            fi
        fi
        n=$((n + 1)); key="w$id-$n"; val="v$id-$n-$pad"
        # One write() per request (printf would write each piece: Nagle + delayed ACK, 40 ms).
        printf -v msg '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' "${#key}" "$key" "${#val}" "$val"
        if ! printf '%s' "$msg" >&3; then
            echo "$key send-failed" >>"$dir/unknown.$id"
            exec 3>&-; connected=0; cur=$(((cur + 1) % np)); continue
        fi
        if read -r -t "${SL_REPLY_TIMEOUT:-8}" line <&3; then
            line=${line%$'\r'}
            case $line in
                +OK) echo "$key $val" >>"$dir/acked.$id" ;;
                -TRYAGAIN*|-BUSY*)
                    echo "$key $line" >>"$dir/notexec.$id"
                    exec 3>&-; connected=0; cur=$(((cur + 1) % np)); sleep 0.05 ;;
                *)
                    echo "$key $line" >>"$dir/unknown.$id"
                    exec 3>&-; connected=0; cur=$(((cur + 1) % np)); sleep 0.05 ;;
            esac
        else
            echo "$key no-reply" >>"$dir/unknown.$id"
            exec 3>&-; connected=0; cur=$(((cur + 1) % np))
        fi
    done
}

SL_WRITER_PIDS=()
# sl_writers_start COUNT DIR PORT... — starts COUNT writers in the background.
sl_writers_start() {
    local count=$1 dir=$2 i; shift 2
    mkdir -p "$dir"; rm -f "$dir/stop"
    for i in $(seq 1 "$count"); do
        sl_writer "$i" "$dir" "$@" 2>>"$dir/writer.err" &
        SL_WRITER_PIDS+=($!)
    done
}
# sl_writers_stop DIR — asks the writers to stop and waits (a writer blocked on a reply
# stops after at most SL_REPLY_TIMEOUT seconds), then merges the outcome files.
sl_writers_stop() {
    local dir=$1 pid
    touch "$dir/stop"
    for pid in "${SL_WRITER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    SL_WRITER_PIDS=()
    cat "$dir"/acked.* 2>/dev/null | sort -u >"$dir/acked"
    cat "$dir"/notexec.* 2>/dev/null >"$dir/notexec"
    cat "$dir"/unknown.* 2>/dev/null >"$dir/unknown"
}
sl_writers_kill() {
    local pid
    for pid in "${SL_WRITER_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    SL_WRITER_PIDS=()
}
# sl_acked_count DIR — acknowledged writes so far (while the writers run).
sl_acked_count() { cat "$1"/acked.* 2>/dev/null | wc -l; }

# --- verification --------------------------------------------------------------------------

# sl_check_acked PORT ACKED_FILE OUT — reads every acknowledged key from the node at PORT
# (MGET, 50 keys a command) and writes to OUT a line per key whose value is not the
# acknowledged one: "key expected=<v> got=<v>". Returns 0 when OUT is empty.
sl_check_acked() {
    local port=$1 acked=$2 out=$3
    awk '{ printf "%s%s", (NR % 50 == 1 ? "MGET " : " "), $1; if (NR % 50 == 0) print "" }
         END { if (NR % 50 != 0) print "" }' "$acked" |
        timeout 30 redis-cli -p "$port" >"$out.got" 2>&1
    awk 'NR == FNR { want[NR] = $2; key[NR] = $1; n = NR; next }
         { got[FNR] = $0 }
         END { for (i = 1; i <= n; i++) if (got[i] != want[i])
                   printf "%s expected=%s got=%s\n", key[i], want[i], (i in got ? got[i] : "<no reply>") }' \
        "$acked" "$out.got" >"$out"
    [ ! -s "$out" ]
}

# sl_check_absent PORT FILE OUT — every key listed in FILE (first column) must be absent
# (EXISTS of one key at a time, batched through redis-cli). Keys present go to OUT.
sl_check_absent() {
    local port=$1 file=$2 out=$3
    : >"$out"
    [ -s "$file" ] || return 0
    awk '{ print "EXISTS " $1 }' "$file" | timeout 30 redis-cli -p "$port" >"$out.got" 2>&1
    awk 'NR == FNR { key[NR] = $1; line[NR] = $0; n = NR; next } { got[FNR] = $0 }
         END { for (i = 1; i <= n; i++) if (got[i] != "0") printf "%s exists=%s\n", line[i], got[i] }' \
        "$file" "$out.got" >"$out"
    [ ! -s "$out" ]
}

# sl_wait_applied NODE TARGET [TRIES] — waits until the node's applied_index >= TARGET; TRIES
# counts 100 ms steps (100, the default, is 10 s).
sl_wait_applied() {
    wait_for $(( (${3:-100} + 9) / 10 )) info_at_least "$1" applied_index "$2"
}
# sl_acked_more_than DIR COUNT — more than COUNT writes acknowledged so far (for wait_for).
sl_acked_more_than() { [ "$(sl_acked_count "$1")" -gt "$2" ]; }

# --- the WAL on disk -----------------------------------------------------------------------

# sl_wal_last_segment DATA_DIR — path of the newest segment.
sl_wal_last_segment() { ls "$1"/wal/*.wal 2>/dev/null | sort | tail -1; }

# sl_wal_records SEGMENT — one line per record: "offset frame_bytes type write_offset
# payload_bytes" (the payload starts at offset + 24; the frame is padded to 8 bytes),
# walking the frames from the end of the segment header until the zero tail; a final line
# "end OFFSET" (the used length). Frames only: CRCs are not checked here.
sl_wal_records() {
    perl -e '
        use strict; use warnings;
        my $f = shift; open(my $fh, "<:raw", $f) or die "$f: $!";
        my $hdr; read($fh, $hdr, 32) == 32 or die "$f: short header\n";
        my (undef, undef, $off) = unpack("Q< L< L<", $hdr);
        while (1) {
            seek($fh, $off, 0); my $h;
            last if read($fh, $h, 24) != 24;
            my (undef, $len, $type, undef, undef, $wo) = unpack("L< L< C a3 L< L<", $h);
            last if $len == 0;
            my $frame = (24 + $len + 7) & ~7;
            print "$off $frame $type $wo $len\n";
            $off += $frame;
        }
        print "end $off\n";' "$1"
}

# sl_flip_byte FILE OFFSET — inverts every bit of one byte (run it twice to restore).
sl_flip_byte() {
    perl -e 'my ($f, $o) = @ARGV; open(my $fh, "+<:raw", $f) or die "$f: $!";
             seek($fh, $o, 0); read($fh, my $b, 1) == 1 or die "read";
             seek($fh, $o, 0); print $fh chr(ord($b) ^ 0xff); close($fh) or die "close";' "$1" "$2"
}

# sl_byte FILE OFFSET — the byte at OFFSET, two hex digits.
sl_byte() { od -An -tx1 -j "$2" -N1 "$1" | tr -d ' \n'; }

# sl_garble FILE OFFSET COUNT — overwrites COUNT bytes at OFFSET with 0xa5 (a torn write).
sl_garble() {
    perl -e 'my ($f, $o, $n) = @ARGV; open(my $fh, "+<:raw", $f) or die "$f: $!";
             seek($fh, $o, 0); print $fh chr(0xa5) x $n; close($fh) or die "close";' "$1" "$2" "$3"
}
