#!/bin/sh
# before_switch: refuse a release that lacks what server.js needs.
set -eu
for file in server.js message.txt; do
  if [ ! -f "$file" ]; then
    echo "missing $file in $STRATA_RELEASE_DIR" >&2
    exit 1
  fi
done
echo "release $STRATA_RELEASE_ID looks complete"
