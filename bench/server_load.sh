#!/usr/bin/env bash
# Requests per second of `labloop serve` on loopback, measured by wrk (a real HTTP load tool),
# on the demo campaign: 2 wrk threads, 32 connections, 10 s per endpoint.
#
#   bench/server_load.sh [build/bin/labloop] [seconds] [connections]
set -euo pipefail
labloop=$(realpath "${1:-build/bin/labloop}")
seconds=${2:-10}
connections=${3:-32}
port=18090
dir=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$labloop" demo --dir "$dir/demo" > "$dir/demo.log" 2>&1
campaign="$dir/demo/demo.labloop"
token=$("$labloop" token add "$campaign" --name load --role viewer 2>/dev/null)
"$labloop" serve "$campaign" --port "$port" > "$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/serve.log" && break; sleep 0.1; done

echo "labloop serve on the demo campaign ($(nproc) cores), wrk -t2 -c$connections -d${seconds}s"
for path in "/api/status" "/api/candidates?limit=100" "/api/candidates?limit=100&sort=mean&desc=1&offset=1000" \
            "/api/candidates/42" "/api/plots"; do
  result=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency \
           -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
  errors=$(grep -E "Non-2xx|Socket errors" <<<"$result" || true)
  printf "  %-60s %10s req/s  p50 %8s  p99 %8s  %s\n" "GET $path" "$rps" "$p50" "$p99" "$errors"
done
