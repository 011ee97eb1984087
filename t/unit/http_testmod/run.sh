#!/bin/sh
#
# Builds the test module around ngx_http_oauth2_http.c against a copy of
# Debian's nginx source and runs the checks:
#
#   1. check.py against nginx with 2 workers and accept_mutex on (events
#      posted, not handled at once);
#   2. check.py against nginx under valgrind (master_process off), then
#      "nginx -s quit" with a fetch pending; valgrind must report no error;
#   3. "nginx -s quit" with fetches pending: the worker must exit at once.
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
valgrind --leak-check=full --error-exitcode=99 --log-file=valgrind.log \
    --suppressions=/dev/null \
    /usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf" \
    -g 'daemon off; master_process off;' &
VG_PID=$!
wait_port $NGX_PORT
python3 "$HERE/check.py" $NGX_PORT $SRV_PORT $TLS_PORT "$W/run/ca.crt" quick \
    || STATUS=1

# a fetch pending while quitting
python3 -c "import urllib.request; urllib.request.urlopen(
'http://127.0.0.1:$NGX_PORT/fetch?url=http%3A%2F%2F127.0.0.1%3A$SRV_PORT%2Fhang',
timeout=30)" 2>/dev/null &
sleep 1
kill -QUIT $VG_PID
rc=0
wait $VG_PID || rc=$?
say "valgrind exit code $rc"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|Invalid" valgrind.log \
    || true
if [ $rc -ne 0 ] || grep -q "Invalid " valgrind.log; then
    STATUS=1
fi
if [ -n "$(bad_logs)" ]; then
    bad_logs
    STATUS=1
fi


say "3. nginx -s quit with fetches pending"
: > logs/error.log
conf 1 ""
/usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf"
wait_port $NGX_PORT
for i in 1 2 3; do
    python3 -c "import urllib.request; urllib.request.urlopen(
'http://127.0.0.1:$NGX_PORT/fetch?url=http%3A%2F%2F127.0.0.1%3A$SRV_PORT%2Fhang',
timeout=30)" 2>/dev/null &
done
sleep 1
MASTER=$(cat logs/nginx.pid)
T0=$(date +%s%N)
/usr/sbin/nginx -p "$W/run" -c "$W/run/nginx.conf" -s quit
while kill -0 "$MASTER" 2>/dev/null; do
    sleep 0.01
done
T1=$(date +%s%N)
MS=$(( (T1 - T0) / 1000000 ))
say "nginx exited ${MS} ms after -s quit"
if [ $MS -gt 2000 ]; then
    STATUS=1
fi
if [ -n "$(bad_logs)" ]; then
    bad_logs
    STATUS=1
fi

wait 2>/dev/null || true

if [ $STATUS -eq 0 ]; then
    say "all good"
else
    say "FAILED"
fi

exit $STATUS
