#!/bin/sh
# Continuous simulated live traffic for docker-compose (the `traffic` service).
#
# No `leadscore` command streams live traffic to a broker it did not start (`leadscore demo`
# brings its own Kafka and worker), so this does what the demo does, with the CLI:
#   1. `leadscore simulate` a fresh population's last LIVE_DAYS days, ending yesterday (so no
#      event is in the future or too old for the worker), with a new seed each round so event
#      ids never repeat (the worker would recognise repeats as re-deliveries and ignore them);
#   2. sort it by occurred_at, like a live feed (simulate writes lead by lead);
#   3. `leadscore produce --rate N` it into the input topics; then the next population.
# Settings: LEADSCORE_KAFKA_BOOTSTRAP (and LEADSCORE_TOPIC_*), LIVE_TRAFFIC_RATE (events/s),
# LIVE_TRAFFIC_LEADS (leads per population, about 13 events each), LIVE_DAYS.
set -eu

rate=${LIVE_TRAFFIC_RATE:-100}
leads=${LIVE_TRAFFIC_LEADS:-2000}
days=${LIVE_DAYS:-30}
work=${TMPDIR:-/tmp}/live-traffic
mkdir -p "$work"
# A seed per run and round: restarting the service never replays an earlier population.
seed=$(( $(date +%s) % 1000000 * 100 ))

while :; do
  start=$(date -u -d "@$(( $(date +%s) - (days + 1) * 86400 ))" +%F)
  leadscore simulate --leads "$leads" --days "$days" --seed "$seed" --start "$start" \
    --out "$work/population.jsonl" --no-progress >/dev/null
  python - "$work/population.jsonl" "$work/live.jsonl" <<'PY'
import sys

import orjson

src, dst = sys.argv[1], sys.argv[2]
keyed, last = [], ""
with open(src, "rb") as fh:
    for line in fh:
        if not line.strip():
            continue
        try:
            at = str(orjson.loads(line).get("occurred_at", last))
        except (orjson.JSONDecodeError, AttributeError):
            at = last  # malformed on purpose: sent next to its neighbour, dead-lettered
        last = at
        keyed.append((at, line if line.endswith(b"\n") else line + b"\n"))
keyed.sort(key=lambda x: x[0])
with open(dst, "wb") as out:
    out.writelines(line for _, line in keyed)
PY
  echo "live-traffic: seed $seed, $(wc -l < "$work/live.jsonl") events from $start at $rate/s"
  leadscore produce --events "$work/live.jsonl" --rate "$rate"
  seed=$((seed + 1))
done
