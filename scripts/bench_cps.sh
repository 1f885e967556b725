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

source scripts/bench_daemon.sh
start_daemon "$binary" "$work"
register_seat "$rig"

# The daemon's transactions live 32 s: each step starts from a drained daemon.
SERVICE=12346 PAUSE_S="${PAUSE_S:-35}" TARGET_PIDS="$daemon" "$rig/cps.sh" 127.0.0.1:5090

stop_daemon
trap - EXIT

if [[ $kamailio == 1 ]]; then
    "$rig/kamailio/run.sh" start > /dev/null
    trap '"$rig/kamailio/run.sh" stop > /dev/null 2>&1 || true' EXIT
    "$rig/cps.sh" 127.0.0.1:5070
fi
