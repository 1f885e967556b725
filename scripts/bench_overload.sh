#!/usr/bin/env bash
# Overload and recovery through the daemon, with the project's yardstick (../shared/bench):
# twice its capacity for 10 s, then half of it for 5 s (the grace the issue allows) and for
# 10 s more (measured), each phase a SIPp UAC of its own started on time, so the load really
# falls at 10 s; one SIPp UAS (seat 1001, registered from the rig's UAS port) takes the calls
# of route 12346. The whole run is repeated ROUNDS times with a pause between, and the
# daemon's RSS is printed before and after each, and once more a pause after the last, so a
# flood that leaks, or memory that is never handed back, shows.
#
#   scripts/bench_overload.sh [HOTLINE_BINARY]
#
# CAPACITY (default 2600, the daemon's max_cps from scripts/bench_cps.sh on the 2-core
# machine), ROUNDS (3), PAUSE_S (35: the daemon's transactions live 32 s; 65 lets the heap
# be handed back between rounds, so each round's "before" is the RSS the last one settled at). Prints one line per
# phase (the rig's step line) and one per round with the RSS. Bounded: every SIPp has -m and
# -timeout. Run it on a quiet machine, after `cargo build --release`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
binary=$(realpath "${1:-target/release/hotline}")
rig=$(realpath "${RIG:-../shared/bench}")
work=$(mktemp -d /tmp/hotline-overload.XXXXXX)
capacity=${CAPACITY:-2600}
over=$((capacity * 2))
half=$((capacity / 2))
rounds=${ROUNDS:-3}

source scripts/bench_daemon.sh
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }

start_daemon "$binary" "$work"
echo "overload: capacity=$capacity over=$over/s for 10 s, then half=$half/s for 5 s + 10 s (measured); rss_kb=$(rss) before"
for round in $(seq "$rounds"); do
    echo "round=$round rss_kb=$(rss) before"
    register_seat "$rig"
    out="$work/round$round"
    mkdir -p "$out"
    total=$((over * 10 + half * 15))
    # exec: $! is SIPp itself, so the kill below stops it (and frees port 5080).
    (cd "$out" && exec sipp -sf "$rig/scenarios/uas.xml" -i 127.0.0.1 -p 5080 -mi 127.0.0.1 \
        -mp 16000 -m "$total" -timeout 50s -timeout_error -nostdin -buff_size 4194304 \
        > uas.out 2>&1) &
    uas=$!
    sleep 0.5
    phase() { # phase NAME UAC_PORT MEDIA_PORT RATE SECS
        START_UAS=0 SERVICE=12346 TARGET_PIDS="$daemon" UAC_PORT=$2 UAC_MP=$3 \
            OUT_DIR="$out/$1" "$rig/step.sh" 127.0.0.1:5090 "$4" $(($4 * $5)) 2> /dev/null \
            | sed "s/^/round=$round phase=$1 /" || true
    }
    phase over 5060 6000 "$over" 10 &
    a=$!
    sleep 10
    phase grace 5062 6100 "$half" 5 &
    b=$!
    sleep 5
    phase measured 5064 6200 "$half" 10
    wait "$a" "$b" || true
    kill "$uas" 2> /dev/null || true
    wait "$uas" 2> /dev/null || true
    echo "round=$round rss_kb=$(rss) after"
    [[ $round == "$rounds" ]] || sleep "${PAUSE_S:-35}"
done
# The last round's transactions live 32 s; the heap is handed back once they are gone.
for wait_s in 15 30 45 60; do
    sleep 15
    echo "round=settled rss_kb=$(rss) (${wait_s} s after the last round)"
done
stop_daemon
trap - EXIT
