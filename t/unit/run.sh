#!/bin/sh
#
# Builds and runs the unit tests of ngx_http_oauth2_json.c,
# ngx_http_oauth2_jwk.c and ngx_http_oauth2_jwt.c (and the base64url
# decoder they use).
#
#   t/unit/run.sh
#
# The module sources are compiled together with test_jwt.c and the shim
# of the nginx core functions they call (t/shim/ngx_shim.c), against the
# headers of the configured nginx tree (t/shim/build-env.sh).  The last
# line of the output is "N passed, M failed"; the exit status is non-zero
# on any failure.
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
SHIM_WHO=t/unit/run.sh
. "$ROOT/t/shim/build-env.sh"

if ! shim_tree; then
    echo "0 passed, 1 failed"
    exit 1
fi

CC=${CC:-cc}
OUT=$BUILD_DIR/unit
mkdir -p "$OUT"

shim_sanitize "$OUT"

# shellcheck disable=SC2086
$CC $SHIM_CFLAGS $SHIM_SAN_CFLAGS $SHIM_INCS -o "$OUT/test_jwt" \
    "$ROOT/t/unit/test_jwt.c" "$ROOT/t/shim/ngx_shim.c" $SHIM_JWT_SRCS \
    $SHIM_SAN_LDFLAGS -lcrypto -lyajl

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$OUT/test_jwt"
