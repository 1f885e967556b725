#!/usr/bin/env bash
# Call-rate step search through the daemon, with the project's yardstick (../shared/bench), as
# its README says to run it: trunk (SIPp UAC) -> hotline -> seat 1001 (the rig's SIPp UAS,
# registered from its port), route 12346, short calls. Optionally the same ladder through
# Kamailio in the same sitting, for the ratio. Everything on 127.0.0.1, bounded by the rig.
#
#   scripts/bench_cps.sh [--kamailio] [HOTLINE_BINARY]
#
# HOTLINE_BINARY defaults to target/release/hotline (build it first: cargo build --release).
# RIG (default ../shared/bench) and the rig's own knobs (RATES, REFINE, STEP_SECS...) pass
# through. Prints the rig's one line for each target. Run it on a quiet machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
kamailio=0
if [[ ${1:-} == --kamailio ]]; then
    kamailio=1
    shift
fi
binary=$(realpath "${1:-target/release/hotline}")
rig=$(realpath "${RIG:-../shared/bench}")
work=$(mktemp -d /tmp/hotline-bench.XXXXXX)
here=$(pwd)

# The shipped config, on the rig's ports, with room for the load.
sed -e 's|^udp = .*|udp = "127.0.0.1:5090"|' \
    -e 's|^tcp = .*|tcp = "127.0.0.1:5090"|' \
    -e 's|^max_calls = .*|max_calls = 100000|' \
    -e 's|^digest_algorithms = .*|digest_algorithms = ["MD5", "SHA-256"]|' \
    -e 's|^port_max = .*|port_max = 59998|' \
    -e "s|^path = \"hotline.db\"|path = \"$work/hotline.db\"|" \
    -e 's|^level = .*|level = "warn"|' \
    -e "s|^files = \\[\"dialplans/|files = [\"$here/dialplans/|" \
    -e "s|^dir = \"prompts/|dir = \"$here/prompts/|" \
    -e 's|^listen = "127.0.0.1:9060"|listen = "127.0.0.1:0"|' \
    config/hotline.toml > "$work/hotline.toml"

"$binary" run --config "$work/hotline.toml" --ready-file "$work/ready.json" \
    > "$work/hotline.log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    [[ -s $work/ready.json ]] && break
    sleep 0.1
done
[[ -s $work/ready.json ]] || { echo "bench_cps: the daemon did not start" >&2; cat "$work/hotline.log" >&2; exit 1; }

# Seat 1001 registers from the UAS's port: the rig's UAS then takes every call of route 12346.
(cd "$rig/scenarios" && sipp 127.0.0.1:5090 -sf register.xml -m 1 -i 127.0.0.1 -p 5080 \
    -s 1001 -au 1001 -ap seat1001-secret -timeout 10s -timeout_error > /dev/null 2>&1) || true
sleep 2

# The daemon's transactions live 32 s: each step starts from a drained daemon.
SERVICE=12346 PAUSE_S="${PAUSE_S:-35}" TARGET_PIDS="$daemon" "$rig/cps.sh" 127.0.0.1:5090

kill "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
trap - EXIT

if [[ $kamailio == 1 ]]; then
    "$rig/kamailio/run.sh" start > /dev/null
    trap '"$rig/kamailio/run.sh" stop > /dev/null 2>&1 || true' EXIT
    "$rig/cps.sh" 127.0.0.1:5070
fi
