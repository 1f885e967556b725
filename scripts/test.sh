#!/usr/bin/env bash
# The one test command: installs the real SIP peers the integration tests
# drive (SIPp, baresip, sox), promtool, and Chromium with a Chinese font (the
# wallboard's test) when they are missing, then runs every test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each tool the tests run, and the Debian package that has it.
declare -A package=([sipp]=sip-tester [baresip]=baresip [sox]=sox [promtool]=prometheus
                    [chromium]=chromium)
missing=()
for tool in sipp baresip sox promtool chromium; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
# The wallboard's screenshots are in Chinese.
[[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || missing+=(fonts-wqy-microhei)

if ((${#missing[@]} > 0)); then
    echo "test.sh: installing ${missing[*]} (for the tests' real peers and promtool)" >&2
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "test.sh: not root and no sudo: install ${missing[*]} yourself" >&2
        exit 1
    fi
    "${as_root[@]}" apt-get update
    peers=()
    for p in "${missing[@]}"; do
        [[ $p == prometheus ]] || peers+=("$p")
    done
    if ((${#peers[@]} > 0)); then
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${peers[@]}"
    fi
    if [[ " ${missing[*]} " == *" prometheus "* ]]; then
        # Without recommends: the prometheus package is wanted for promtool only.
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
            --no-install-recommends prometheus
    fi
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
