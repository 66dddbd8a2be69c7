#!/usr/bin/env bash
# Fetch, verify and unpack the pinned Debian trixie sources into .cache/src/:
# micropython (upstream tree), mbedtls, pico-sdk and tinyusb.
# trixie is reached through a private apt config in .cache/apt/; the system's lists are untouched.
# With everything cached this does no network access.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Exact versions; pins.sha256 holds the sha256 of every file they download.
SRC_PKGS=(micropython=1.25.0+ds-1 mbedtls=3.6.6-0.1~deb13u1)
DEB_PKGS=(pico-sdk-source=2.1.1-1 tinyusb-source=0.18.0+dfsg-1)
PINS=$BUILD_SCRIPTS/pins.sha256
DL=$CACHE/dl
APT=$CACHE/apt
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Acquire::Languages=none
    # The downloads go to a root-owned cache dir that apt's _apt sandbox user cannot write.
    -o APT::Sandbox::User=root
)

fetch() {
    mkdir -p "$APT/lists/partial" "$APT/cache" "$DL"
    cat >"$APT/trixie.sources" <<EOF
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    log "fetching pinned trixie sources into $DL"
    apt-get -q "${APT_OPTS[@]}" update >&2 || die "apt-get update of the private trixie lists failed"
    (
        cd "$DL"
        apt-get -q "${APT_OPTS[@]}" source --download-only "${SRC_PKGS[@]}" >&2 &&
            apt-get -q "${APT_OPTS[@]}" download "${DEB_PKGS[@]}" >&2
    ) || die "cannot fetch the pinned versions from trixie (superseded? update the pins)"
}

verify() {
    local out
    if ! out=$(cd "$DL" && sha256sum --quiet --strict -c "$PINS" 2>&1); then
        die "sha256 check against $PINS failed: $(grep -E ': FAILED' <<<"$out" | paste -sd' ')"
    fi
}

# unpack NAME FILE: rebuild $SRC/NAME from FILE when its pinned hash changes.
unpack() {
    local name=$1 file=$2 key dest=$SRC/$1 tmp=$SRC/.$1.tmp
    key=$(grep -F -e "  $file" "$PINS" | sha256sum | cut -c1-64)
    if stamp_ok "src-$name" "$key" && [ -d "$dest" ]; then
        return 0
    fi
    log "unpacking $name"
    rm -rf "$tmp" "$dest"
    mkdir -p "$tmp"
    case $file in
    *.deb)
        dpkg-deb -x "$DL/$file" "$tmp"
        mv "$tmp/usr/src/$name" "$dest"
        ;;
    *) # Pristine upstream tarball: the Debian patches adapt the unix port to Debian's packaging.
        tar -xf "$DL/$file" -C "$tmp" --strip-components=1
        mv "$tmp" "$dest"
        ;;
    esac
    rm -rf "$tmp"
    stamp_write "src-$name" "$key"
}

take_lock
missing=0
while read -r _ file; do
    [ -e "$DL/$file" ] || missing=1
done <"$PINS"
[ "$missing" = 0 ] || fetch
verify

unpack micropython micropython_1.25.0+ds.orig.tar.xz
unpack mbedtls mbedtls_3.6.6.orig.tar.bz2
unpack pico-sdk pico-sdk-source_2.1.1-1_all.deb
unpack tinyusb tinyusb-source_0.18.0+dfsg-1_all.deb
# MicroPython's rp2 Makefile tests for this file to detect an initialised submodule.
[ -e "$SRC/pico-sdk/README.md" ] || echo "pico-sdk 2.1.1 from Debian pico-sdk-source" \
    >"$SRC/pico-sdk/README.md"

stamp_write sources "$(cat "$PINS" "$BUILD_SCRIPTS/sources.sh" | sha256sum | cut -c1-64)"
