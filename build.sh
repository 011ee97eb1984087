#!/bin/sh
#
# The single entry point of the project.
#
#   ./build.sh deps     install what building, testing and the demo need
#   ./build.sh build    build ngx_http_oauth2_module.so
#   ./build.sh test     deps + build + every test (Test::Nginx and end to end)
#   ./build.sh demo     deps + build + a local OpenID Provider and nginx
#   ./build.sh bench    deps + build + the benchmark (bench/)
#   ./build.sh fuzz     build + the libFuzzer harnesses (t/fuzz/run.sh)
#   ./build.sh deb      the Debian package libnginx-mod-http-oauth2 for
#                       Debian's nginx, in $BUILD_DIR/deb/ (docs/install.md)
#   ./build.sh nginx-src 1.26
#                       fetch Debian 13's nginx 1.26 source from Debian's
#                       archive, print the tree's path (for NGINX_SRC)
#
# Environment:
#   NGINX_SRC=/path/to/nginx-1.x.y   build against that source tree (and
#                                     build its nginx binary for the tests)
#                                     instead of Debian's nginx-dev tree
#   BUILD_DIR=dir                     where the nginx tree is configured
#                                     (default: .build)
#   SANITIZE=1                        build with AddressSanitizer and
#                                     UndefinedBehaviorSanitizer; test
#                                     runs nginx with their runtimes
#                                     (t/sanitize-env.sh)

set -eu

ROOT=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/.build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

DEBIAN_NGINX_SRC=/usr/share/nginx/src

APT_PACKAGES="nginx nginx-dev libssl-dev libcurl4-openssl-dev libyajl-dev
    gcc make openssl ca-certificates chromium
    libtest-base-perl libtext-diff-perl libtest-longstring-perl
    liblist-moreutils-perl libhttp-message-perl libwww-perl
    libipc-run3-perl valgrind wrk clang libclang-rt-14-dev prometheus"


say() {
    printf '%s\n' "build.sh: $*" >&2
}


die() {
    say "error: $*"
    exit 1
}


missing_packages() {
    missing=
    # Node.js (>= 20) usually comes with the machine; Debian's own is older
    # and is only a fallback
    command -v node >/dev/null 2>&1 || missing="nodejs npm"
    for p in $APT_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
             | grep -q 'ok installed'
        then
            missing="$missing $p"
        fi
    done
    printf '%s' "$missing"
}


install_packages() {
    missing=$(missing_packages)

    if [ -n "$missing" ]; then
        if [ "$(id -u)" = 0 ]; then
            say "installing:$missing"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            # shellcheck disable=SC2086
            apt-get install -y -q --no-install-recommends $missing
        else
            say "missing Debian packages; run as root:"
            echo "apt-get update && apt-get install -y$missing"
            exit 1
        fi
    fi
}


cmd_deps() {
    install_packages

    if [ -f "$ROOT/package-lock.json" ]; then
        stamp="$ROOT/node_modules/.oauth2-lock-stamp"
        if [ ! -f "$stamp" ] \
           || ! cmp -s "$ROOT/package-lock.json" "$stamp"
        then
            say "npm ci"
            (cd "$ROOT" && npm ci --no-audit --no-fund)
            cp "$ROOT/package-lock.json" "$stamp"
        fi
    fi
}


# The configure arguments; any change to them or to ./config reconfigures.

configure_args() {
    flags=
    if [ -n "${NGINX_SRC:-}" ]; then
        flags="--with-compat --with-debug --with-http_ssl_module"
        flags="$flags --with-http_auth_request_module --with-threads"
    else
        # conf_flags is a bash array assignment: NGX_CONF_FLAGS=( ... )
        flags=$(sed -n 's/^NGX_CONF_FLAGS=(\(.*\))$/\1/p' \
                "$DEBIAN_NGINX_SRC/conf_flags")
    fi

    cc_opt="-g -O2 -fstack-protector-strong -Wformat"
    cc_opt="$cc_opt -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2"
    ld_opt="-Wl,-z,relro -Wl,-z,now -fPIC"

    if [ -n "${SANITIZE:-}" ]; then
        cc_opt="-g -O1 -fno-omit-frame-pointer -fPIC"
        cc_opt="$cc_opt -fsanitize=address,undefined"
        cc_opt="$cc_opt -fno-sanitize-recover=undefined"
        ld_opt="-fsanitize=address,undefined -fPIC"
    fi

    echo "$flags --with-cc-opt='$cc_opt' --with-ld-opt='$ld_opt'"
}


cmd_build() {
    if [ -n "${NGINX_SRC:-}" ]; then
        src=$NGINX_SRC
        [ -x "$src/configure" ] || die "NGINX_SRC=$src has no configure"
        tree=$BUILD_DIR/nginx-custom
    else
        src=$DEBIAN_NGINX_SRC
        [ -f "$src/conf_flags" ] \
            || die "$src not found: run ./build.sh deps (nginx-dev)"
        tree=$BUILD_DIR/nginx
    fi

    args=$(configure_args)
    want="$args|$(cat "$ROOT/config")|$src"

    if [ ! -f "$tree/objs/Makefile" ] \
       || [ "$(cat "$tree/.oauth2-configured" 2>/dev/null)" != "$want" ]
    then
        say "configuring $tree from $src"
        rm -rf "$tree"
        mkdir -p "$BUILD_DIR"
        cp -a "$src" "$tree"
        (cd "$tree" \
         && eval "./configure $args --add-dynamic-module=$ROOT" \
            > "$tree/configure.log" 2>&1) \
            || { tail -20 "$tree/configure.log"; die "configure failed"; }
        printf '%s' "$want" > "$tree/.oauth2-configured"
    fi

    if [ -n "${NGINX_SRC:-}" ]; then
        target=
    else
        target=modules
    fi

    make -s -C "$tree" -f objs/Makefile $target >&2 \
        || die "make failed"

    so=$tree/objs/ngx_http_oauth2_module.so
    [ -f "$so" ] || die "$so was not built"

    if [ -n "${NGINX_SRC:-}" ]; then
        NGINX_BIN=$tree/objs/nginx
    else
        NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    fi

    OAUTH2_MODULE_SO=$so
    export NGINX_BIN OAUTH2_MODULE_SO

    say "built $so"
    say "nginx.conf: load_module $so;"
}


# Runs a command with the test services of t/ around it.

start_fake_provider() {
    FAKE_PID=
    if [ -f "$ROOT/t/fake/provider.js" ]; then
        node "$ROOT/t/fake/provider.js" --port "${FAKE_OP_PORT:-1990}" \
            > "$BUILD_DIR/fake-provider.log" 2>&1 &
        FAKE_PID=$!
        i=0
        until grep -q 'FAKE ready' "$BUILD_DIR/fake-provider.log"; do
            i=$((i + 1))
            [ $i -lt 100 ] || die "the fake provider did not start"
            kill -0 "$FAKE_PID" 2>/dev/null \
                || die "the fake provider exited: $(cat \
                       "$BUILD_DIR/fake-provider.log")"
            sleep 0.1
        done
    fi
}


stop_fake_provider() {
    if [ -n "${FAKE_PID:-}" ]; then
        kill "$FAKE_PID" 2>/dev/null || true
        wait "$FAKE_PID" 2>/dev/null || true
        FAKE_PID=
    fi
}


cmd_test() {
    cmd_deps
    cmd_build

    export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-$NGINX_BIN}
    export TEST_NGINX_LOAD_MODULES=$OAUTH2_MODULE_SO
    export TEST_NGINX_FAKE_OP_PORT=${FAKE_OP_PORT:-1990}
    export TEST_NGINX_ROOT=$ROOT

    # SANITIZE=1: nginx runs through a wrapper preloading ASan/UBSan
    if [ -n "${SANITIZE:-}" ]; then
        . "$ROOT/t/sanitize-env.sh"
    fi

    trap stop_fake_provider EXIT INT TERM
    start_fake_provider

    status=0

    if [ $# -gt 0 ]; then
        case $1 in
        *.t)
            "$ROOT/t/run-tests" "$@" || status=$?
            [ -z "${SANITIZE:-}" ] || sanitize_check || status=1
            exit $status
            ;;
        *.js)
            node --test "$@" || status=$?
            [ -z "${SANITIZE:-}" ] || sanitize_check || status=1
            exit $status
            ;;
        esac
    fi

    for unit in "$ROOT"/t/unit/*.sh; do
        [ -f "$unit" ] || continue
        say "unit tests: ${unit#$ROOT/}"
        BUILD_DIR=$BUILD_DIR sh "$unit" || status=$?
    done

    "$ROOT/t/run-tests" || status=$?

    if [ -d "$ROOT/t/e2e" ]; then
        stop_fake_provider
        (cd "$ROOT" && node --test --test-concurrency=1 t/e2e/) \
            || status=$?
    fi

    if [ -n "${SANITIZE:-}" ]; then
        sanitize_check || status=1
    fi

    [ $status -eq 0 ] || say "FAILED"
    exit $status
}


cmd_demo() {
    cmd_deps
    cmd_build
    exec "$ROOT/demo/run.sh"
}


cmd_fuzz() {
    cmd_build
    BUILD_DIR=$BUILD_DIR exec "$ROOT/t/fuzz/run.sh" "$@"
}


cmd_bench() {
    # the peer the hot-path benchmark compares with
    APT_PACKAGES="$APT_PACKAGES apache2 libapache2-mod-auth-openidc"
    cmd_deps
    cmd_build
    exec "$ROOT/bench/run.sh" "$@"
}


# Another nginx for the tests: the upstream source (orig.tar.gz) of a
# Debian release's nginx, fetched by apt from Debian's archive with a
# deb-src entry of its own (a private apt state in .nginx-src/, the
# machine's sources untouched); apt checks the file against the release's
# signed index.  Prints the source tree's path.

cmd_nginx_src() {
    case ${1:-} in
    1.26)   suite=trixie ;;
    *)      die "usage: ./build.sh nginx-src 1.26" ;;
    esac

    dir=$ROOT/.nginx-src
    state=$dir/apt-$suite

    set -- "$dir"/nginx-"$1".*/configure
    if [ -x "$1" ]; then
        dirname "$1"
        return
    fi

    mkdir -p "$state/lists/partial" "$state/cache" "$state/sources.d"
    cat > "$state/sources.d/$suite-src.sources" << END
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
END

    set -- -q -o Dir::Etc::SourceList=/dev/null \
        -o Dir::Etc::SourceParts="$state/sources.d" \
        -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
        -o APT::Sandbox::User=root

    say "apt-get update ($suite sources)"
    apt-get "$@" update >&2 || die "apt-get update for $suite failed"

    rm -f "$dir"/nginx_*.orig.tar.gz
    (cd "$dir" && apt-get "$@" source --download-only --tar-only nginx) >&2 \
        || die "apt-get source nginx ($suite) failed"

    set -- "$dir"/nginx_*.orig.tar.gz
    [ -f "$1" ] || die "no nginx orig.tar.gz in $suite"
    say "$(sha256sum "$1")"

    tar xzf "$1" -C "$dir"
    set -- "$dir"/nginx-*/configure
    [ -x "$1" ] || die "$1: not an nginx source tree"
    dirname "$1"
}


# The Debian package, built the way Debian builds its nginx modules
# (debian/: dh with the nginx sequence of nginx-dev, dh_nginx), from a
# copy of the sources in $BUILD_DIR/deb/; lintian checks the result.
# The version is debian/changelog's.

DEB_PACKAGES="nginx nginx-dev libssl-dev libcurl4-openssl-dev libyajl-dev
    gcc make dpkg-dev debhelper lintian openssl"

cmd_deb() {
    # stdout is the package's path only
    APT_PACKAGES=$DEB_PACKAGES
    install_packages >&2

    version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
    out=$BUILD_DIR/deb
    src=$out/libnginx-mod-http-oauth2-$version

    rm -rf "$out"
    mkdir -p "$src"
    cp -a "$ROOT/config" "$ROOT/ngx_http_oauth2_module" "$ROOT/debian" \
        "$ROOT/README.md" "$ROOT/docs" "$src/"

    say "dpkg-buildpackage in $src"
    (cd "$src" && dpkg-buildpackage -us -uc) > "$out/build.log" 2>&1 \
        || { tail -30 "$out/build.log"; die "dpkg-buildpackage failed"; }

    # Debian's build flags replace nginx's -Werror: fail on warnings here
    if grep -n 'warning:' "$out/build.log" >&2; then
        die "the package build has compiler warnings ($out/build.log)"
    fi

    deb=$out/libnginx-mod-http-oauth2_${version}_$(dpkg --print-architecture).deb
    [ -f "$deb" ] || die "$deb was not built"

    say "lintian"
    lintian --fail-on error,warning --display-info --info \
        "$out/libnginx-mod-http-oauth2_${version}_"*.changes >&2 \
        || die "lintian found problems (docs/install.md)"

    say "built $deb"
    dpkg-deb --field "$deb" Package Version Depends >&2
    echo "$deb"
}


case ${1:-} in
deps)   cmd_deps ;;
build)  cmd_build ;;
test)   shift; cmd_test "$@" ;;
demo)   cmd_demo ;;
bench)  shift; cmd_bench "$@" ;;
fuzz)   shift; cmd_fuzz "$@" ;;
deb)    cmd_deb ;;
nginx-src) shift; cmd_nginx_src "$@" ;;
*)
    sed -n '3,15s/^# //p' "$0"
    exit 2
    ;;
esac
