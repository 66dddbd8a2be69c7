#!/usr/bin/env bash
# Build our boot ROM into .cache/bootrom/bootrom.{elf,bin}; a no-op when nothing changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${BOOTROM_OUT:-$repo/.cache/bootrom}"
cc=arm-none-eabi-gcc

if ! command -v "$cc" >/dev/null; then
    echo "bootrom: installing gcc-arm-none-eabi" >&2
    apt-get update -qq && apt-get install -y -qq gcc-arm-none-eabi binutils-arm-none-eabi >&2
fi

srcs=(rom.S bits.S romfloat.c rommath.c)
stamp_now="$(cd "$here" && { cat "${srcs[@]}" rom.h rom.ld build.sh check_rom.py; "$cc" --version; } \
    | sha256sum | cut -d' ' -f1)"
if [[ -f "$out/bootrom.bin" && -f "$out/bootrom.elf" && "$(cat "$out/stamp" 2>/dev/null)" == "$stamp_now" ]]; then
    exit 0
fi

mkdir -p "$out"
tmp="$(mktemp -d "$out/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && "$cc" -mcpu=cortex-m0plus -mthumb -Os -std=c11 -Wall -Wextra -Werror \
    -ffreestanding -fno-builtin -nostdlib -ffunction-sections -fdata-sections \
    -fno-unwind-tables -fno-asynchronous-unwind-tables \
    -T rom.ld -Wl,--gc-sections -Wl,-Map="$tmp/bootrom.map" \
    -o "$tmp/bootrom.elf" "${srcs[@]}" -lgcc)
arm-none-eabi-objcopy -O binary --pad-to 0x4000 --gap-fill 0 "$tmp/bootrom.elf" "$tmp/bootrom.bin"
python3 "$here/check_rom.py" "$tmp/bootrom.bin"
mv "$tmp/bootrom.elf" "$tmp/bootrom.bin" "$tmp/bootrom.map" "$out/"
echo "$stamp_now" >"$out/stamp"
echo "bootrom: built $out/bootrom.bin"
