#!/usr/bin/env bash
# Build the rp2 image for BOARD (pico: RPI_PICO as is; vpico: REPL on UART0) with our frozen
# manifest into .cache/images/BOARD/firmware.{elf,bin,uf2}; print that directory on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BOARD=${1:-pico}
case $BOARD in
pico) MAKE_BOARD=(BOARD=RPI_PICO) ;;
vpico) MAKE_BOARD=(BOARD=VPICO "BOARD_DIR=$REPO/boards/vpico/mpboard") ;;
*) die "unknown board '$BOARD' (pico or vpico)" ;;
esac
OUT=$CACHE/images/$BOARD
PORT=$MPY_TREE/ports/rp2
BUILD=build-$BOARD

take_lock
ensure_tree

# Our python files, frozen into the image: any edit must trigger a rebuild.
mapfile -t py_files < <(find firmware boards -name '*.py' -not -path '*/__pycache__/*' |
    LC_ALL=C sort)
key=$(inputs_hash "$(cat "$STAMPS/tree") $(arm-none-eabi-gcc --version | head -1)" \
    boards/build/lib.sh boards/build/rp2.sh boards/vpico/mpboard/* "${py_files[@]}")
if stamp_ok "image-$BOARD" "$key" && [ -f "$OUT/firmware.uf2" ]; then
    echo "$OUT"
    exit 0
fi

# mpy-cross from the same tree; built here with -j, the port would build it serially.
make -C "$MPY_TREE/mpy-cross" "-j$JOBS" >&2

log "building the $BOARD image"
# makemanifest.py reuses a frozen .mpy unless its source is newer: a deleted file, a board.py
# taken from another board, or an older version restored would leave stale code in the image.
rm -rf "$PORT/$BUILD/frozen_mpy" "$PORT/$BUILD/frozen_content.c"
# No picotool: cmake would fetch it from git. The frozen manifest needs no micropython-lib.
cmake_args="-DPICO_NO_PICOTOOL=1 -DMICROPY_LIB_DIR=$CACHE/micropython/no-mpy-lib"
make_args=("${MAKE_BOARD[@]}" "BUILD=$BUILD" "FROZEN_MANIFEST=$BUILD_SCRIPTS/manifest.py")
use_build_dir "$PORT/$BUILD" "$cmake_args ${make_args[*]}"
# CMAKE_ARGS goes through the environment: on make's command line it would replace the
# Makefile's own additions (board, manifest) instead of being appended to.
CMAKE_ARGS=$cmake_args PUMP_BOARD=$BOARD make -C "$PORT" "${make_args[@]}" "-j$JOBS" >&2

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
cp "$PORT/$BUILD/firmware.elf" "$PORT/$BUILD/firmware.bin" "$OUT.tmp/"
# cmake makes no UF2 without picotool; RP2040 family id, flash (XIP) base address.
python3 "$MPY_TREE/tools/uf2conv.py" -c -b 0x10000000 -f 0xe48bff56 \
    -o "$OUT.tmp/firmware.uf2" "$OUT.tmp/firmware.bin" >&2
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
arm-none-eabi-size "$OUT/firmware.elf" >&2
stamp_write "image-$BOARD" "$key"
echo "$OUT"
