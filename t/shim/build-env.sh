# Sourced by t/unit/run.sh, t/unit/session.sh and t/fuzz/run.sh: the one
# copy of what compiling module files against the configured nginx tree,
# outside nginx's own build, takes (with t/shim/ngx_shim.c standing in for
# the nginx core functions they call).
#
# The sourcing script sets ROOT (the checkout) and SHIM_WHO (its name, for
# messages) first.  Environment, as the scripts document it:
#
#   BUILD_DIR=dir      where build.sh configured nginx (default: .build);
#                      its nginx tree, else its nginx-custom one, is used
#   NGX_TREE=dir       the configured nginx tree itself
#
# Sets:
#
#   BUILD_DIR          made absolute
#   NGX_TREE           the configured tree (shim_tree fails without one)
#   SRC                the module's sources
#   SHIM_INCS          -I for the nginx headers, the module and the shim
#   SHIM_CFLAGS        what the unit tests build with (-Werror)
#   SHIM_SEAL_SRCS     the module files of sealed cookies: sealing,
#                      encoding, cookies, the opened-session cache
#   SHIM_JWT_SRCS      the module files of JWTs, JWKs and JSON
#
# and shim_tree (is there a configured tree) and shim_sanitize OUT (sets
# SHIM_SAN_CFLAGS and SHIM_SAN_LDFLAGS to ASan and UBSan if the compiler
# $CC has them and SANITIZE is not 0; empty otherwise).

BUILD_DIR=${BUILD_DIR:-$ROOT/.build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

SRC=$ROOT/ngx_http_oauth2_module

if [ -z "${NGX_TREE:-}" ]; then
    for t in "$BUILD_DIR/nginx" "$BUILD_DIR/nginx-custom"; do
        if [ -f "$t/objs/ngx_auto_config.h" ]; then
            NGX_TREE=$t
            break
        fi
    done
fi

SHIM_INCS=
for d in src/core src/event src/event/modules src/os/unix objs \
         src/http src/http/modules src/http/v2
do
    SHIM_INCS="$SHIM_INCS -I ${NGX_TREE:-}/$d"
done
SHIM_INCS="$SHIM_INCS -I $SRC -I $ROOT/t/shim"

SHIM_CFLAGS="-g -O1 -pipe -W -Wall -Wpointer-arith -Wno-unused-parameter"
SHIM_CFLAGS="$SHIM_CFLAGS -Werror -Wno-deprecated-declarations"

SHIM_SEAL_SRCS="$SRC/ngx_http_oauth2_base64url.c $SRC/ngx_http_oauth2_seal.c"
SHIM_SEAL_SRCS="$SHIM_SEAL_SRCS $SRC/ngx_http_oauth2_codec.c"
SHIM_SEAL_SRCS="$SHIM_SEAL_SRCS $SRC/ngx_http_oauth2_cookie.c"
SHIM_SEAL_SRCS="$SHIM_SEAL_SRCS $SRC/ngx_http_oauth2_ocache.c"

SHIM_JWT_SRCS="$SRC/ngx_http_oauth2_base64url.c $SRC/ngx_http_oauth2_json.c"
SHIM_JWT_SRCS="$SHIM_JWT_SRCS $SRC/ngx_http_oauth2_jwk.c"
SHIM_JWT_SRCS="$SHIM_JWT_SRCS $SRC/ngx_http_oauth2_jwt.c"


shim_tree() {
    if [ -z "${NGX_TREE:-}" ] \
       || [ ! -f "$NGX_TREE/objs/ngx_auto_config.h" ]
    then
        echo "$SHIM_WHO: no configured nginx tree in $BUILD_DIR;" \
             "run ./build.sh build" >&2
        return 1
    fi
}


shim_sanitize() {
    SHIM_SAN_CFLAGS=
    SHIM_SAN_LDFLAGS=

    if [ "${SANITIZE:-1}" != 0 ] \
       && echo 'int main(void){return 0;}' \
          | ${CC:-cc} -fsanitize=address,undefined -x c - -o "$1/probe.$$" \
                2>/dev/null
    then
        SHIM_SAN_CFLAGS="-fsanitize=address,undefined"
        SHIM_SAN_CFLAGS="$SHIM_SAN_CFLAGS -fno-sanitize-recover=all"
        SHIM_SAN_CFLAGS="$SHIM_SAN_CFLAGS -fno-omit-frame-pointer"
        SHIM_SAN_LDFLAGS="-fsanitize=address,undefined"
    fi

    rm -f "$1/probe.$$"
}
