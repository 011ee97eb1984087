#!/bin/sh
#
# Builds the test module around the HTTP client (ngx_http_oauth2_http.c,
# ngx_http_oauth2_http_multi.c) against a copy of
# Debian's nginx source and runs the checks:
#
#   1. check.py against nginx with 2 workers and accept_mutex on (events
#      posted, not handled at once);
#   2. check.py against nginx under valgrind (master_process off), then
#      "nginx -s quit" with a fetch pending; valgrind must report no error;
#   3. "nginx -s quit" with fetches pending: the worker finishes them (or
#      worker_shutdown_timeout ends them) and exits, with no alert.
#
# Usage: t/unit/http_testmod/run.sh [WORKDIR]     (default /tmp/oauth2-http)
# Needs: nginx-dev, libcurl4-openssl-dev, python3, openssl, valgrind.
# Everything listens on 127.0.0.1 only.

set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-/tmp/oauth2-http}
NGX_PORT=${NGX_PORT:-18100}
SRV_PORT=${SRV_PORT:-18180}
TLS_PORT=${TLS_PORT:-18543}
STATUS=0

say() {
    printf '%s\n' "run.sh: $*" >&2
}

mkdir -p "$W/run/logs"

if [ ! -f "$W/nginx/objs/Makefile" ]; then
    say "configuring $W/nginx"
    rm -rf "$W/nginx"
    cp -a /usr/share/nginx/src "$W/nginx"
    flags=$(sed -n 's/^NGX_CONF_FLAGS=(\(.*\))$/\1/p' "$W/nginx/conf_flags")
    (cd "$W/nginx" && eval "./configure $flags \
        --with-cc-opt='-g -O1 -fPIC' --with-ld-opt='-fPIC' \
        --add-dynamic-module=$HERE" > configure.log 2>&1)
fi

make -s -C "$W/nginx" -f objs/Makefile modules
SO=$W/nginx/objs/ngx_http_oauth2_http_test_module.so

cd "$W/run"

if [ ! -f srv.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
        -days 2 -subj "/CN=Test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
        -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf
    openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key \
        -CAcreateserial -out srv.crt -days 2 -extfile ext.cnf 2>/dev/null
fi

conf() {
    # $1: worker_processes, $2: extra main-level lines
    cat > nginx.conf <<EOF
load_module $SO;
error_log $W/run/logs/error.log debug;
pid $W/run/logs/nginx.pid;
worker_processes $1;
$2
events { worker_connections 128; accept_mutex on; }
http {
    access_log $W/run/logs/access.log;
    client_body_temp_path $W/run/logs/body;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location /fetch { oauth2_http_test; }
        location /plain { return 200 "plain\n"; }
    }
}
EOF
}

wait_port() {
    i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1',
$1), 1)" 2>/dev/null
    do
        i=$((i + 1))
        [ $i -lt 300 ] || { say "nothing on port $1"; exit 1; }
        sleep 0.1
    done
}

SERVER_LIFETIME=900 python3 "$HERE/server.py" $SRV_PORT $TLS_PORT \
    srv.crt srv.key > server.log 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT INT TERM
wait_port $SRV_PORT

bad_logs() {
    grep -E '\[(alert|crit|emerg)\]' logs/error.log || true
}


say "1. two workers, accept_mutex on"
: > logs/error.log
conf 2 ""
/usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf"
wait_port $NGX_PORT
python3 "$HERE/check.py" $NGX_PORT $SRV_PORT $TLS_PORT "$W/run/ca.crt" \
    || STATUS=1
/usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf" -s quit
sleep 1
if [ -n "$(bad_logs)" ]; then
    bad_logs
    STATUS=1
fi


say "2. valgrind, master_process off"
: > logs/error.log
conf 1 ""
valgrind --leak-check=full --keep-debuginfo=yes --num-callers=30 \
    --errors-for-leak-kinds=definite --error-exitcode=99 \
    --log-file=valgrind.log \
    /usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf" \
    -g 'daemon off; master_process off;' &
VG_PID=$!
wait_port $NGX_PORT
python3 "$HERE/check.py" $NGX_PORT $SRV_PORT $TLS_PORT "$W/run/ca.crt" quick \
    || STATUS=1

# a fetch pending while quitting: single process mode quits at once
python3 -c "import urllib.request; urllib.request.urlopen(
'http://127.0.0.1:$NGX_PORT/fetch?url=http%3A%2F%2F127.0.0.1%3A$SRV_PORT%2Fhang',
timeout=30)" 2>/dev/null &
sleep 1
kill -QUIT $VG_PID
rc=0
wait $VG_PID || rc=$?
grep -E "ERROR SUMMARY|definitely lost:|Invalid|uninitialised" valgrind.log \
    || true

# leaks in libldap/libsasl2/nginx itself are not ours
if grep -B2 -A30 "definitely lost in" valgrind.log \
   | grep -qE "ngx_http_oauth2_http(_multi)?\.c"
then
    say "valgrind: a leak through the HTTP client"
    STATUS=1
fi
if grep -qE "Invalid (read|write|free)|uninitialised|Mismatched" valgrind.log
then
    say "valgrind: memory errors"
    STATUS=1
fi
say "valgrind exit code $rc (99: errors or definite leaks, see above)"
if [ -n "$(bad_logs)" ]; then
    bad_logs
    STATUS=1
fi


# $1: title, $2: extra main-level conf, $3: fetch arguments,
# $4: max ms to exit, $5: HTTP code the clients must get
quit_test() {
    say "3. nginx -s quit with fetches pending: $1"
    : > logs/error.log
    conf 1 "$2"
    /usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf"
    wait_port $NGX_PORT
    rm -f client*.out
    for i in 1 2 3; do
        curl -s -m 30 -o /dev/null -w "%{http_code}\n" \
            "http://127.0.0.1:$NGX_PORT/fetch?$3" > client$i.out &
    done
    sleep 0.5
    MASTER=$(cat logs/nginx.pid)
    T0=$(date +%s%N)
    /usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf" -s quit
    # gone, or a zombie nobody reaps yet
    while [ -d /proc/$MASTER ] \
          && ! grep -q '^State:.*Z' /proc/$MASTER/status 2>/dev/null
    do
        sleep 0.01
    done
    MS=$(( ($(date +%s%N) - T0) / 1000000 ))
    sleep 0.5
    CODES=$(cat client*.out | sort | uniq -c | tr -s ' \n' ' ')
    say "nginx exited ${MS} ms after -s quit; clients got:$CODES"
    if [ $MS -gt $4 ] || [ "$(sort -u client*.out)" != "$5" ]; then
        STATUS=1
        say "FAILED: want at most $4 ms and code $5"
    fi
    if [ -n "$(bad_logs)" ]; then
        bad_logs
        STATUS=1
    fi
}

FETCH="url=http%3A%2F%2F127.0.0.1%3A$SRV_PORT"

quit_test "fetches of 1.5 s finish, then the worker exits" "" \
    "$FETCH%2Fslow%3Fms%3D1500" 2500 200
quit_test "hung provider, fetch timeout 2 s" "" \
    "$FETCH%2Fhang&timeout=2000" 3000 200
quit_test "hung provider, worker_shutdown_timeout 1s" \
    "worker_shutdown_timeout 1s;" "$FETCH%2Fhang" 2000 000

kill $SERVER_PID 2>/dev/null || true

if [ $STATUS -eq 0 ]; then
    say "all good"
else
    say "FAILED"
fi

exit $STATUS
