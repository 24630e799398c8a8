#!/usr/bin/env bash
# Checks that every committed component in drivers/components was built from
# the current sources: recomputes each stamp (rule in stamp.sh) and compares
# it with NAME.stamp. Needs no wasm toolchain.
#
# usage: drivers/check-stale.sh     exit 0: all fresh; exit 1: lists the stale
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=stamp.sh
. "$here/stamp.sh"

stale=()
while IFS= read -r name; do
    wasm="$here/components/$name.wasm"
    stamp="$here/components/$name.stamp"
    if [ ! -s "$wasm" ] || [ ! -f "$stamp" ]; then
        stale+=("$name (missing)")
    elif [ "$(guest_stamp "$name")" != "$(head -n1 "$stamp")" ]; then
        stale+=("$name")
    fi
done < <(guest_names)

if [ ${#stale[@]} -gt 0 ]; then
    echo "stale components (rebuild with drivers/build.sh):" >&2
    printf '  %s\n' "${stale[@]}" >&2
    exit 1
fi
echo "all components are fresh"
