#!/usr/bin/env bash
# Build the fidelity image (MicroPython 1.25 as released, REPL on UART1, no pump firmware)
# into .cache/images/fidelity/firmware.{elf,bin}; print that directory on stdout. Uses the
# pinned MicroPython tree and the helpers of boards/build (same lock, stamps and caches).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../../boards/build/lib.sh"

OUT=$CACHE/images/fidelity
PORT=$MPY_TREE/ports/rp2
BUILD=build-fidelity
BOARD_DIR=$REPO/host_tools/vboard/fidelity/mpboard

take_lock
ensure_tree

key=$(inputs_hash "$(cat "$STAMPS/tree") $(arm-none-eabi-gcc --version | head -1)" \
    boards/build/lib.sh host_tools/vboard/fidelity/build.sh host_tools/vboard/fidelity/manifest.py \
    host_tools/vboard/fidelity/mpboard/*)
if stamp_ok image-fidelity "$key" && [ -f "$OUT/firmware.bin" ]; then
    echo "$OUT"
    exit 0
fi

make -C "$MPY_TREE/mpy-cross" "-j$JOBS" >&2
log "building the fidelity image"
rm -rf "$PORT/$BUILD/frozen_mpy" "$PORT/$BUILD/frozen_content.c"
cmake_args="-DPICO_NO_PICOTOOL=1 -DMICROPY_LIB_DIR=$CACHE/micropython/no-mpy-lib"
make_args=(BOARD=VPICO_FIDELITY "BOARD_DIR=$BOARD_DIR" "BUILD=$BUILD"
    "FROZEN_MANIFEST=$HERE/manifest.py")
use_build_dir "$PORT/$BUILD" "$cmake_args ${make_args[*]}"
CMAKE_ARGS=$cmake_args make -C "$PORT" "${make_args[@]}" "-j$JOBS" >&2

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
cp "$PORT/$BUILD/firmware.elf" "$PORT/$BUILD/firmware.bin" "$OUT.tmp/"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
arm-none-eabi-size "$OUT/firmware.elf" >&2
stamp_write image-fidelity "$key"
echo "$OUT"
