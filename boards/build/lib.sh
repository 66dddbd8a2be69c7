# Shared paths and helpers for the build scripts. Sourced, never run.
# Everything built lands in $CACHE; a step is skipped when its stamp (a hash of its inputs) matches.

BUILD_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BUILD_SCRIPTS/../.." && pwd)
CACHE=$REPO/.cache
SRC=$CACHE/src
STAMPS=$CACHE/stamps
MPY_TREE=$CACHE/micropython/tree
JOBS=${JOBS:-2}
cd "$REPO" || exit 1

# The MicroPython tree sits inside our git checkout: without a ceiling, its version script would
# describe *our* repository and the firmware would report our commit instead of v1.25.0.
export GIT_CEILING_DIRECTORIES=$CACHE
# Our makes run on their own: -j and variables (BOARD=...) of a calling make must not leak in.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL

log() { echo "${0##*/}: $*" >&2; }
die() {
    echo "${0##*/}: error: $*" >&2
    exit 1
}

# inputs_hash TEXT FILE...: hash of TEXT plus the names and contents of FILEs (paths relative
# to $REPO, the scripts' working directory).
inputs_hash() {
    local text=$1
    shift
    {
        printf '%s\n' "$text"
        printf '%s\0' "$@" | xargs -0r sha256sum --
    } | sha256sum | cut -c1-64
}

stamp_ok() { [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ]; }
stamp_write() {
    mkdir -p "$STAMPS"
    echo "$2" >"$STAMPS/$1"
}

# One build at a time: they share the MicroPython tree, and `make -j`, CI and other engineers'
# make targets may start our scripts concurrently. Child scripts inherit the held lock.
take_lock() {
    [ -z "${PUMP_BUILD_LOCK_HELD:-}" ] || return 0
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    export PUMP_BUILD_LOCK_HELD=1
}

# prepare_tree: a private copy of the MicroPython source whose empty submodules point at the
# unpacked Debian sources. Rebuilt (build dirs included) whenever the pinned sources change.
prepare_tree() {
    local key
    key=$(inputs_hash "$(cat "$STAMPS/sources")" boards/build/lib.sh)
    if stamp_ok tree "$key" && [ -d "$MPY_TREE/py" ]; then
        return 0
    fi
    log "preparing MicroPython tree in $MPY_TREE"
    rm -rf "$MPY_TREE" "$MPY_TREE.tmp"
    mkdir -p "$(dirname "$MPY_TREE")"
    cp -a "$SRC/micropython" "$MPY_TREE.tmp"
    local sub
    for sub in pico-sdk tinyusb mbedtls; do
        rmdir "$MPY_TREE.tmp/lib/$sub"
        ln -s "../../../src/$sub" "$MPY_TREE.tmp/lib/$sub"
    done
    mv "$MPY_TREE.tmp" "$MPY_TREE"
    # Frozen-manifest builds insist on micropython-lib; we require() nothing from it.
    mkdir -p "$CACHE/micropython/no-mpy-lib"
    echo "Empty on purpose: our frozen manifest uses no micropython-lib package." \
        >"$CACHE/micropython/no-mpy-lib/README.md"
    stamp_write tree "$key"
}

# use_build_dir DIR CONFIG: wipe DIR when it was made with another CONFIG (make flags, cmake -D
# arguments): neither the unix Makefile nor an already-configured cmake dir notices such changes.
use_build_dir() {
    if [ "$(cat "$1/.pump-config" 2>/dev/null)" != "$2" ]; then
        rm -rf "$1"
        mkdir -p "$1"
        echo "$2" >"$1/.pump-config"
    fi
}

# ensure_tree: sources fetched and verified, tree prepared.
ensure_tree() {
    "$BUILD_SCRIPTS/sources.sh"
    prepare_tree
}
