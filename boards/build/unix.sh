#!/usr/bin/env bash
# Build the MicroPython 1.25 unix port (standard variant) once; print the binary's path on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$CACHE/micropython/unix/micropython
# As in virtual-board.md. btree's submodule is absent from the +ds tarball; the host tests need
# neither TLS nor FFI (which would also need libffi-dev).
MAKE_ARGS=(MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 FROZEN_MANIFEST= "-j$JOBS")

take_lock
ensure_tree

key=$(inputs_hash "$(cat "$STAMPS/tree") ${MAKE_ARGS[*]} $(cc --version | head -1)" \
    boards/build/lib.sh boards/build/unix.sh)
if ! stamp_ok unix "$key" || [ ! -x "$OUT" ]; then
    log "building the unix port"
    use_build_dir "$MPY_TREE/ports/unix/build-standard" "${MAKE_ARGS[*]}"
    make -C "$MPY_TREE/ports/unix" "${MAKE_ARGS[@]}" >&2
    mkdir -p "$(dirname "$OUT")"
    cp "$MPY_TREE/ports/unix/build-standard/micropython" "$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
    "$OUT" -c "import sys; print(sys.implementation)" >&2 || die "$OUT does not run"
    stamp_write unix "$key"
fi
echo "$OUT"
