#!/bin/sh
#
# The demo: nginx with the module protecting a page that shows who is
# logged in.  By default it logs in against a local OpenID Provider (the
# certified oidc-provider package, whose development login page accepts
# any user name); with GOOGLE_CLIENT_ID/GOOGLE_CLIENT_SECRET or
# GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET set it uses that provider.
# Run through ./build.sh demo, which builds the module first.  Ctrl-C
# stops everything.

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/.build}
SO=${OAUTH2_MODULE_SO:-$BUILD_DIR/nginx/objs/ngx_http_oauth2_module.so}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
PORT=${DEMO_PORT:-8080}
OP_PORT=${DEMO_OP_PORT:-9091}
DIR=$BUILD_DIR/demo

OP_PID=
NGINX_PID=

cleanup() {
    trap - INT TERM EXIT
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    [ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    echo "demo: stopped"
}

trap cleanup INT TERM EXIT

rm -rf "$DIR"
mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/html/public"

# a fresh cookie secret for every demo run
openssl rand -base64 48 > "$DIR/conf/cookie.key"

if [ -n "${GOOGLE_CLIENT_ID:-}" ] && [ -n "${GOOGLE_CLIENT_SECRET:-}" ]; then
    WHO="Google"
    PROVIDER="
    oauth2_provider demo {
        preset         google;
        client_id      $GOOGLE_CLIENT_ID;
        client_secret  env:GOOGLE_CLIENT_SECRET;
        redirect_uri   /oauth2/callback;
    }"

elif [ -n "${GITHUB_CLIENT_ID:-}" ] && [ -n "${GITHUB_CLIENT_SECRET:-}" ]; then
    WHO="GitHub"
    PROVIDER="
    oauth2_provider demo {
        preset         github;
        client_id      $GITHUB_CLIENT_ID;
        client_secret  env:GITHUB_CLIENT_SECRET;
        redirect_uri   /oauth2/callback;
    }"

else
    WHO="the local OpenID Provider (any user name logs in)"
    PROVIDER="
    oauth2_provider demo {
        issuer         http://127.0.0.1:$OP_PORT;
        client_id      nginx-test;
        client_secret  nginx-test-secret-0123456789abcdef;
        scope          \"openid email profile\";
        redirect_uri   /oauth2/callback;
    }"

    node "$ROOT/t/op/server.js" --port "$OP_PORT" \
        --issuer "http://127.0.0.1:$OP_PORT" \
        --redirect-uri "http://localhost:$PORT/oauth2/callback" \
        --redirect-uri "http://127.0.0.1:$PORT/oauth2/callback" \
        > "$DIR/logs/op.log" 2>&1 &
    OP_PID=$!

    i=0
    until grep -q 'OP ready' "$DIR/logs/op.log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$OP_PID" 2>/dev/null; then
            cat "$DIR/logs/op.log" >&2
            echo "demo: the OpenID Provider did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
fi

cat > "$DIR/html/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>oauth2 demo</title></head>
<body>
<h1>Hello, <!--# echo var="oauth2_claim_name" default="" --></h1>
<p>You are logged in as
<b><!--# echo var="oauth2_email" default="(no e-mail)" --></b>
(subject <code><!--# echo var="oauth2_sub" --></code>) through
<code><!--# echo var="oauth2_provider" --></code>.</p>
<p>Your session's tokens expire in
<!--# echo var="oauth2_expires_in" --> seconds.</p>
<p>This page is served by nginx; the module checked your session cookie
before nginx read the file. <a href="/public/">An unprotected page</a>.</p>
</body></html>
HTML

cat > "$DIR/html/public/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>public</title></head>
<body><p>This page needs no login. <a href="/">The protected page</a>.</p>
</body></html>
HTML

cat > "$DIR/conf/nginx.conf" <<CONF
load_module $SO;

worker_processes 1;
error_log logs/error.log info;
pid logs/nginx.pid;
env GOOGLE_CLIENT_SECRET;
env GITHUB_CLIENT_SECRET;

events {
    worker_connections 1024;
}

http {
    access_log logs/access.log;
    default_type text/html;
$PROVIDER
    oauth2_cookie_secret file:cookie.key;

    # the page reads "name" through SSI, by name at run time: ask for it
    oauth2_claims name;

    server {
        listen $PORT;
        root html;

        location / {
            oauth2 demo;
            ssi on;
        }

        location /public/ {
            oauth2 off;
        }
    }
}
CONF

"$NGINX_BIN" -p "$DIR" -c conf/nginx.conf -t -q
"$NGINX_BIN" -p "$DIR" -c conf/nginx.conf -g 'daemon off;' &
NGINX_PID=$!

sleep 0.3
kill -0 "$NGINX_PID" 2>/dev/null || { echo "demo: nginx did not start" >&2;
                                      exit 1; }

cat <<MSG

  Demo running: open http://localhost:$PORT/
  It logs in with $WHO.
  nginx logs: $DIR/logs/     Ctrl-C stops the demo.

MSG

wait "$NGINX_PID"
