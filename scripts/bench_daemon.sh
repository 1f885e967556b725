# Sourced by the bench scripts: starts the daemon on the rig's ports and registers seat 1001
# from the rig's UAS port, so that the rig's SIPp UAS takes every call of route 12346.
#
#   start_daemon BINARY WORKDIR   sets $daemon (its PID); stops it on EXIT
#   register_seat RIG             seat 1001 registers from 127.0.0.1:5080
#   stop_daemon

# The shipped config, on the rig's ports, with room for the load.
start_daemon() {
    local binary=$1 work=$2 here
    here=$(pwd)
    sed -e 's|^udp = .*|udp = "127.0.0.1:5090"|' \
        -e 's|^tcp = .*|tcp = "127.0.0.1:5090"|' \
        -e "s|^max_calls = .*|max_calls = ${MAX_CALLS:-100000}|" \
        -e "s|^max_setups = .*|max_setups = ${MAX_SETUPS:-100}|" \
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
    trap 'stop_daemon' EXIT
    for _ in $(seq 100); do
        [[ -s $work/ready.json ]] && break
        sleep 0.1
    done
    if [[ ! -s $work/ready.json ]]; then
        echo "bench: the daemon did not start" >&2
        cat "$work/hotline.log" >&2
        exit 1
    fi
}

register_seat() {
    local rig=$1
    (cd "$rig/scenarios" && sipp 127.0.0.1:5090 -sf register.xml -m 1 -i 127.0.0.1 -p 5080 \
        -s 1001 -au 1001 -ap seat1001-secret -timeout 10s -timeout_error > /dev/null 2>&1) || true
    sleep 2
}

stop_daemon() {
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
}
