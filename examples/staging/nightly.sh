#!/bin/sh
# Run one chaos scenario against staging and keep its reports under a UTC timestamp (and a
# "latest" link). The exit code is chaoskit run's verdict, so cron (MAILTO) or CI fails on it:
# 0 the steady state held, 1 it deviated or the run was stopped, 2 invalid scenario or usage,
# 3 infrastructure (the proxy or the app was not there).
#
#   nightly.sh SCENARIO [REPORTS_ROOT]        (CHAOSKIT: the chaoskit command, default chaoskit)
set -u
scenario=${1:?usage: nightly.sh SCENARIO [REPORTS_ROOT]}
root=${2:-chaoskit-reports}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$root"
${CHAOSKIT:-chaoskit} run "$scenario" --report-dir "$root/$stamp" --quiet
status=$?
ln -sfn "$stamp" "$root/latest"
exit $status
