#!/usr/bin/env bash
# The guest components' list and their source stamps. Sourced by build.sh
# and check-stale.sh; run directly, `stamp.sh NAME` prints NAME's stamp.
#
# Stamp rule (deterministic; needs only bash, find, sort and sha256sum):
#   inputs = plugins/wit, plugins/sdk, the driver's own directory (and the
#            extra files its entry below lists),
#            drivers/Cargo.toml, drivers/Cargo.lock, drivers/build.sh,
#            drivers/stamp.sh and drivers/componentize (Cargo.toml,
#            Cargo.lock, src);
#   take every regular file under the inputs, skipping any `target`
#   directory, with its path relative to the repository root;
#   sort the paths bytewise (LC_ALL=C);
#   write one line per file as sha256sum prints it: "<sha256>  <path>";
#   the stamp is the sha256 of those lines.
# The committed drivers/components/NAME.stamp holds that hash on one line.

# Every component: name, its source directory relative to the repo root, then
# any other source files it uses.
GUEST_COMPONENTS=(
    "mock plugins/examples/mock"
    "raw_exec drivers/raw_exec"
    "exec drivers/exec"
    "docker drivers/docker"
    "looper drivers/testing/looper drivers/testing/common.rs"
    "hog drivers/testing/hog drivers/testing/common.rs"
    "sneaky drivers/testing/sneaky drivers/testing/common.rs"
)

guest_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

# guest_inputs NAME: the source directory of component NAME, then its extra files.
guest_inputs() {
    local entry
    for entry in "${GUEST_COMPONENTS[@]}"; do
        if [ "${entry%% *}" = "$1" ]; then echo "${entry#* }"; return 0; fi
    done
    echo "unknown component: $1" >&2
    return 1
}

# guest_dir NAME: the source directory of component NAME.
guest_dir() {
    local inputs
    inputs=$(guest_inputs "$1") || return 1
    echo "${inputs%% *}"
}

# guest_names: every component name, one per line.
guest_names() {
    local entry
    for entry in "${GUEST_COMPONENTS[@]}"; do echo "${entry%% *}"; done
}

# guest_stamp NAME: the stamp of component NAME's sources.
guest_stamp() {
    local inputs root
    inputs=$(guest_inputs "$1") || return 1
    root=$(guest_root)
    (
        cd "$root" &&
        # shellcheck disable=SC2086 # the inputs are space-separated paths
        find plugins/wit plugins/sdk $inputs \
             drivers/Cargo.toml drivers/Cargo.lock drivers/build.sh drivers/stamp.sh \
             drivers/componentize/Cargo.toml drivers/componentize/Cargo.lock drivers/componentize/src \
             -name target -prune -o -type f -print |
        LC_ALL=C sort |
        while IFS= read -r f; do sha256sum "$f"; done |
        sha256sum | cut -d' ' -f1
    )
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ $# -eq 1 ] || { echo "usage: $0 NAME" >&2; exit 2; }
    guest_stamp "$1"
fi
