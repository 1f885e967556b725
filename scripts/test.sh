#!/usr/bin/env bash
# The one test command: installs the real SIP peers the integration tests
# drive (SIPp, baresip, sox) when they are missing, then runs every test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
for tool in sipp baresip sox; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done

if ((${#missing[@]} > 0)); then
    echo "test.sh: missing ${missing[*]}; installing sip-tester baresip sox" >&2
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "test.sh: not root and no sudo: install sip-tester baresip sox yourself" >&2
        exit 1
    fi
    "${as_root[@]}" apt-get update
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y sip-tester baresip sox
fi

# Benchmarks are built by clippy --all-targets and run by hand (cargo bench), not here.
# The output is kept to close with one line of totals over every test binary (the last
# binary cargo runs is the doc-tests, which has none).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
