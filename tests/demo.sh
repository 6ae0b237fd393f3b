#!/bin/sh
# tests/demo.sh SPLITGPT MOCK: run splitgpt on the sample prompts against
# the bundled mock server (no API key needed), then show the answers.
set -u
splitgpt=$1
mock=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/splitgpt-demo.XXXXXX")
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
"$mock" --port 0 --port-file "$dir/port" --latency 300 --jitter 200 \
    --lifetime 120 2>/dev/null &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$dir/port" ] || { echo "demo: the mock server did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$dir/port")/v1"

echo "\$ splitgpt -P 4 -m gpt-4o-mini --base-url $url < contrib/examples/prompts.jsonl > out.jsonl"
"$splitgpt" -P 4 -m gpt-4o-mini --base-url "$url" \
    <contrib/examples/prompts.jsonl >"$dir/out.jsonl"
echo "(exit status $?: 1 means some lines got error records)"
echo
echo "\$ jq -c '{custom_id, status: .response.status_code, error: .error.code}' out.jsonl"
if command -v jq >/dev/null; then
	jq -c '{custom_id, status: .response.status_code, error: .error.code}' "$dir/out.jsonl"
else
	cat "$dir/out.jsonl"
fi
echo
echo "\$ splitgpt --format content ... (the answers alone, one JSON string per line)"
"$splitgpt" -q -P 4 --format content --base-url "$url" \
    <contrib/examples/prompts.jsonl
exit 0
