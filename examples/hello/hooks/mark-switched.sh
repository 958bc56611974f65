#!/bin/sh
# after_switch: leave a marker saying when this release became current.
set -eu
echo "$STRATA_RELEASE_ID switched at $(date -u +%Y-%m-%dT%H:%M:%SZ) (previous: ${STRATA_PREVIOUS_RELEASE_ID:-none})" > switched.txt
cat switched.txt
