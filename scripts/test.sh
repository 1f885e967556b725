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
cargo test
