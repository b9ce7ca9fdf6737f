#!/usr/bin/env bash
# Runs the main job on the embedded default: the sample mail in settings/samples goes through
# `pixbridge run --once`; an agent then answers in the local tracker and a second pass mails it.
# All state is in ./var (remove it to start again; re-running without removing it is harmless).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
pb=.venv/bin/pixbridge

$pb config check
inbox=var/mail/inbox/new
mkdir -p "$inbox" var/mail/inbox/cur var/mail/inbox/tmp
for sample in settings/samples/*.eml; do
    # Maildir names must be unique; the run stamp keeps repeated demos apart.
    cp "$sample" "$inbox/$(date +%s%N).$(basename "$sample" .eml).demo"
    sleep 0.01
done

echo; echo "== pixbridge run --once"
$pb run --once
echo; echo "== requests registered"
$pb requests list
first=$($pb requests list --json | .venv/bin/python -c 'import json,sys; r=json.load(sys.stdin); print(r[-1]["key"] if r else "")')
if [ -n "$first" ]; then
    echo; echo "== pixbridge requests show $first"
    $pb requests show "$first"
    echo; echo "== an agent answers $first in the local tracker, and the next pass mails it"
    $pb requests comment "$first" --internal "Reproduced with a 25-lane project; fixed in build 4.13." >/dev/null
    $pb requests complete "$first" --answer "Fixed in PIX Task Mining 4.13; please update." >/dev/null || true
    $pb run --once
fi
echo; echo "== mail sent (var/mail/sent/new)"
for f in var/mail/sent/new/*; do
    [ -f "$f" ] || continue
    .venv/bin/python - "$f" <<'PY'
import sys
from email import policy
from email.parser import BytesParser
msg = BytesParser(policy=policy.default).parse(open(sys.argv[1], "rb"))
print(f"  to {msg['To']}: {msg['Subject']}")
PY
done
