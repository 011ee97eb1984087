#!/bin/sh
#
# The hot-path benchmark: bench/hotpath.sh [throughput] [callgrind] [login] [memory]
# (none: all four; see bench/hotpath/hotpath.js for what each measures and
# the HOT_* settings).
#
#   throughput  valid-session requests/s, latency and worker CPU per
#               request vs the same file unprotected; $oauth2_claim_email,
#               $oauth2_access_token; Apache + mod_auth_openidc; the session
#               cookie sizes after real logins at t/op/server.js
#   callgrind   instructions per request under callgrind, per module function
#   login       the worker's CPU time per complete login (fake provider)
#   memory      worker RSS after 100,000 requests from 10,000 sessions
#
# Run by `./build.sh bench hotpath` through bench/run.sh, or directly with
# NGINX_BIN / OAUTH2_MODULE_SO set (defaults: Debian's nginx, the module in
# .build/nginx/objs/).  Ports: nginx 2284-2289 (Apache 2288), fake provider
# 2290, OP 2291 (HOT_NGINX_PORT, HOT_FAKE_PORT, HOT_OP_PORT).
#
# Needs wrk, node, and for the Apache comparison apache2 and
# libapache2-mod-auth-openidc (Debian packages; without them that row is
# left out and the report says why).

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${OAUTH2_MODULE_SO:=$ROOT/.build/nginx/objs/ngx_http_oauth2_module.so}"
: "${E2E_SERVROOT:=$ROOT/bench/out/servroot}"
export NGINX_BIN OAUTH2_MODULE_SO E2E_SERVROOT

say() {
    printf '%s\n' "bench/hotpath.sh: $*" >&2
}

case ${1:-} in
-h|--help|help)
    sed -n '3,22s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
esac

command -v node >/dev/null 2>&1 || { say "node not found"; exit 1; }
command -v "${WRK_BIN:-wrk}" >/dev/null 2>&1 \
    || { say "wrk not found (apt-get install wrk)"; exit 1; }
[ -x "$NGINX_BIN" ] || { say "NGINX_BIN=$NGINX_BIN is not executable"; exit 1; }
[ -f "$OAUTH2_MODULE_SO" ] || {
    say "the module is not built: $OAUTH2_MODULE_SO (./build.sh build)"
    exit 1
}

exec node "$ROOT/bench/hotpath/hotpath.js" "$@"
