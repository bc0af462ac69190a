#!/usr/bin/env bash
# Runs one test file N times in a row under each shard host and counts passes: the check for a
# flaky suite. Usage: scripts/repeat-test.sh test/integration/slow-consumer.test.ts 50 [main workers]
# The log of each failed run is kept in $TMPDIR (default /tmp) and named in the output.
set -u
file=${1:?usage: repeat-test.sh FILE RUNS [HOST...]}
runs=${2:?usage: repeat-test.sh FILE RUNS [HOST...]}
shift 2
hosts=("$@")
[ ${#hosts[@]} -eq 0 ] && hosts=(main workers)
status=0
for host in "${hosts[@]}"; do
  pass=0
  for i in $(seq 1 "$runs"); do
    log="${TMPDIR:-/tmp}/repeat-$(basename "$file" .test.ts)-$host-$i.log"
    if SHOAL_SHARD_HOST=$host node --import tsx --test "$file" >"$log" 2>&1; then
      pass=$((pass + 1))
      rm -f "$log"
    else
      echo "$host run $i failed: $log"
      status=1
    fi
  done
  echo "$host: $pass of $runs passed"
done
exit $status
