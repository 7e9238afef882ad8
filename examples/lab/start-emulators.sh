#!/usr/bin/env bash
# Starts the emulated lab of campaign.toml on loopback: a synthesizer (line protocol over TCP,
# port 5031) and a plate reader (HTTP/JSON robot API, port 5032). Stop them with
#   pkill -f labloop-emulator
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${LABLOOP_BIN:-$here/../../build/bin}"
"$bin/labloop-emulator" --kind synthesizer --port 5031 --port-file "$here/.synth.port" \
    --duration 1 --fail-rate 0.05 --seed 1 &
"$bin/labloop-emulator" --kind plate_reader --http --port 5032 --port-file "$here/.reader.port" \
    --duration 2 --seed 2 &
sleep 0.5
echo "synthesizer on 127.0.0.1:$(cat "$here/.synth.port"), plate reader on 127.0.0.1:$(cat "$here/.reader.port")"
