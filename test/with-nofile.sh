#!/bin/sh
# with-nofile.sh N COMMAND...: runs COMMAND with its open-file limit (soft and hard) at N.
n="$1"
shift
ulimit -n "$n" || exit 97
exec "$@"
