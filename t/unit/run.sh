#!/bin/sh
#
# Builds and runs the unit tests of ngx_http_oauth2_json.c,
# ngx_http_oauth2_jwk.c and ngx_http_oauth2_jwt.c.
#
#   t/unit/run.sh
#
# The module sources are compiled together with test_jwt.c and the shim
# of the nginx core functions they call (t/shim/ngx_shim.c), against
# the headers of the configured nginx tree.  The last line of the output
# is "N passed, M failed"; the exit status is non-zero on any failure.
#
# Environment:
#   BUILD_DIR=dir      where build.sh configured nginx (default: .build);
#                      its nginx-custom tree is used when there is no
#                      Debian one
#   NGX_TREE=dir       the configured nginx tree itself
#   SANITIZE=0         build without AddressSanitizer and UBSan
#   CC=cc              the compiler
#   UNIT_VERBOSE=1     show what the code logs

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/.build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

if [ -z "${NGX_TREE:-}" ]; then
    for t in "$BUILD_DIR/nginx" "$BUILD_DIR/nginx-custom"; do
        if [ -f "$t/objs/ngx_auto_config.h" ]; then
            NGX_TREE=$t
            break
        fi
    done
fi

if [ -z "${NGX_TREE:-}" ] || [ ! -f "$NGX_TREE/objs/ngx_auto_config.h" ]; then
    echo "t/unit/run.sh: no configured nginx tree; run ./build.sh build" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

CC=${CC:-cc}
SRC=$ROOT/ngx_http_oauth2_module
UNIT=$ROOT/t/unit
OUT=$BUILD_DIR/unit
mkdir -p "$OUT"

CFLAGS="-g -O1 -pipe -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror"
CFLAGS="$CFLAGS -Wno-deprecated-declarations"
LDFLAGS=

if [ "${SANITIZE:-1}" != 0 ] \
   && echo 'int main(void){return 0;}' \
      | $CC -fsanitize=address,undefined -x c - -o "$OUT/probe" 2>/dev/null
then
    CFLAGS="$CFLAGS -fsanitize=address,undefined -fno-sanitize-recover=all"
    CFLAGS="$CFLAGS -fno-omit-frame-pointer"
    LDFLAGS="-fsanitize=address,undefined"
fi
rm -f "$OUT/probe"

INCS=
for d in src/core src/event src/event/modules src/os/unix objs \
         src/http src/http/modules src/http/v2
do
    INCS="$INCS -I $NGX_TREE/$d"
done

# shellcheck disable=SC2086
$CC $CFLAGS $INCS -I "$SRC" -I "$ROOT/t/shim" -o "$OUT/test_jwt" \
    "$UNIT/test_jwt.c" "$ROOT/t/shim/ngx_shim.c" \
    "$SRC/ngx_http_oauth2_json.c" "$SRC/ngx_http_oauth2_jwk.c" \
    "$SRC/ngx_http_oauth2_jwt.c" \
    $LDFLAGS -lcrypto -lyajl

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$OUT/test_jwt"
