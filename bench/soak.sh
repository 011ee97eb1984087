#!/bin/sh
#
# Soak test: one million requests against ONE nginx worker, and the
# worker's memory before and after.
#
#   bench/soak.sh
#
# nginx (worker_processes 1, master on) serves a protected location with
# the module; wrk (bench/soak.lua) rotates through the requests of
# bench/soak-requests.js: valid sessions (plain and chunked cookies minted
# with t/tools/seal.js), tampered, truncated and expired cookies, login
# redirects (navigations without a session), and callbacks with errors
# (no state, a wrong state, the provider's error with a valid state
# cookie).  Then SOAK_LOGINS whole logins (bench/soak-logins.js: the
# callback exchanges the code, fetches the JWKS and verifies the ID token
# at the fake provider, t/fake/provider.js).
#
# The worker's VmRSS (/proc/PID/status) is read after the first
# SOAK_WARMUP requests (and 500 logins) and after all of them; the test
# passes if it grew by
# at most SOAK_MAX_GROWTH_KB, every status was one the request table
# expects, wrk saw no socket errors, the worker is the same process, and
# error.log has no alert.  The figures are printed, and kept in
# bench/out/soak-latest.txt.
#
# Environment:
#   NGINX_BIN             nginx (default: /usr/sbin/nginx)
#   OAUTH2_MODULE_SO      the module (default: .build/nginx/objs/...)
#   SOAK_REQUESTS         1000000
#   SOAK_WARMUP           10000
#   SOAK_LOGINS           10000 whole logins after the requests (0: none)
#   SOAK_MAX_GROWTH_KB    1024
#   SOAK_PORT             2186 (nginx), SOAK_FAKE_PORT 2191 (fake provider)
#   SOAK_THREADS, SOAK_CONNECTIONS   wrk -t (1) and -c (32)
#   SOAK_DIR              bench/out/soak (the nginx prefix, logs)

set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
OAUTH2_MODULE_SO=${OAUTH2_MODULE_SO:-$ROOT/.build/nginx/objs/ngx_http_oauth2_module.so}
TOTAL=${SOAK_REQUESTS:-1000000}
WARMUP=${SOAK_WARMUP:-10000}
MAX_GROWTH=${SOAK_MAX_GROWTH_KB:-1024}
PORT=${SOAK_PORT:-2186}
FAKE_PORT=${SOAK_FAKE_PORT:-2191}
THREADS=${SOAK_THREADS:-1}
CONNECTIONS=${SOAK_CONNECTIONS:-32}
LOGINS=${SOAK_LOGINS:-10000}
WARMUP_LOGINS=$(( LOGINS < 500 ? LOGINS : 500 ))
DIR=${SOAK_DIR:-$ROOT/bench/out/soak}
case $DIR in /*) ;; *) DIR=$ROOT/$DIR ;; esac

SECRET=soak-cookie-secret-0123456789abcdef-0123456789abcdef
CLIENT_SECRET=fake-secret-0123456789abcdefghijkl

say() {
    printf '%s\n' "soak: $*" >&2
}

die() {
    say "error: $*"
    exit 1
}

for c in wrk node; do
    command -v $c > /dev/null || die "$c is not installed"
done
[ -x "$NGINX_BIN" ] || die "no nginx at $NGINX_BIN"
[ -f "$OAUTH2_MODULE_SO" ] \
    || die "no module at $OAUTH2_MODULE_SO (./build.sh build)"
[ "$WARMUP" -lt "$TOTAL" ] || die "SOAK_WARMUP must be below SOAK_REQUESTS"

FAKE_PID=
NGINX_PID=
WRK_PID=

cleanup() {
    if [ -n "$WRK_PID" ]; then
        kill "$WRK_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        i=0
        while kill -0 "$NGINX_PID" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill "$NGINX_PID" 2>/dev/null || true
    fi
    if [ -n "$FAKE_PID" ]; then
        kill "$FAKE_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

rm -rf "$DIR"
mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/html/deep" "$DIR/html/soak"
echo '<p>protected</p>' > "$DIR/html/index.html"
cp "$DIR/html/index.html" "$DIR/html/deep/path"
cp "$DIR/html/index.html" "$DIR/html/soak/page"

# the fake provider, for discovery
node "$ROOT/t/fake/provider.js" --port "$FAKE_PORT" \
    > "$DIR/logs/fake.log" 2>&1 &
FAKE_PID=$!

i=0
until grep -q 'FAKE ready' "$DIR/logs/fake.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || die "the fake provider did not start: $(cat "$DIR/logs/fake.log")"
    sleep 0.1
done

ISSUER=http://127.0.0.1:$FAKE_PORT/ok

cat > "$DIR/conf/nginx.conf" <<EOF
load_module $OAUTH2_MODULE_SO;

worker_processes 1;
master_process on;
daemon off;
pid $DIR/logs/nginx.pid;
error_log $DIR/logs/error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    default_type text/html;
    large_client_header_buffers 4 16k;
    client_body_temp_path $DIR/tmp;
    proxy_temp_path $DIR/tmp;
    fastcgi_temp_path $DIR/tmp;
    uwsgi_temp_path $DIR/tmp;
    scgi_temp_path $DIR/tmp;

    oauth2_provider op {
        issuer         $ISSUER;
        client_id      fake-client;
        client_secret  $CLIENT_SECRET;
        redirect_uri   /oauth2/callback;
    }

    oauth2_cookie_secret $SECRET;
    oauth2_cookie_secure off;

    server {
        listen 127.0.0.1:$PORT;
        root $DIR/html;

        location / {
            oauth2 op;
        }
    }
}
EOF
mkdir -p "$DIR/tmp"

"$NGINX_BIN" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" -t -q \
    || die "nginx -t failed ($DIR/conf/nginx.conf)"

"$NGINX_BIN" -p "$DIR/" -c "$DIR/conf/nginx.conf" -e "$DIR/logs/error.log" \
    > "$DIR/logs/nginx.out" 2>&1 &
NGINX_PID=$!

worker=
i=0
while [ $i -lt 100 ]; do
    worker=$(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null \
             | awk '{ print $1 }')
    if [ -n "$worker" ] \
       && node -e "require('net').connect($PORT, '127.0.0.1')
                       .on('connect', () => process.exit(0))
                       .on('error', () => process.exit(1))" 2>/dev/null
    then
        break
    fi
    kill -0 "$NGINX_PID" 2>/dev/null \
        || die "nginx exited: $(cat "$DIR/logs/nginx.out" "$DIR/logs/error.log")"
    i=$((i + 1))
    sleep 0.1
done
[ -n "$worker" ] || die "no nginx worker"

node "$ROOT/bench/soak-requests.js" "$SECRET" "$ISSUER" > "$DIR/requests.lua"

# every kind of request once, with its status
node "$ROOT/bench/soak-requests.js" "$SECRET" "$ISSUER" \
    --check "http://127.0.0.1:$PORT/" > "$DIR/check.txt" 2>&1 \
    || die "a request does not get the expected status:
$(cat "$DIR/check.txt")"

rss() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# runs wrk until it has had $1 responses (soak.lua writes a file per
# thread when its share is done; wrk itself would wait for its -d)
run_wrk() {
    rm -f "$DIR/done".*
    t0=$(date +%s.%N)

    SOAK_REQUESTS=$DIR/requests.lua SOAK_TOTAL=$1 SOAK_THREADS=$THREADS \
    SOAK_DONE=$DIR/done \
        wrk -t "$THREADS" -c "$CONNECTIONS" -d 600s --timeout 10s \
            -s "$ROOT/bench/soak.lua" "http://127.0.0.1:$PORT/" \
            > "$DIR/wrk-$2.txt" 2>&1 &
    WRK_PID=$!

    while kill -0 "$WRK_PID" 2>/dev/null; do
        n=$(ls "$DIR" | grep -c '^done\.' || true)
        if [ "$n" -ge "$THREADS" ]; then
            t1=$(date +%s.%N)
            kill -INT "$WRK_PID" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done

    wait "$WRK_PID" || die "wrk failed: $(cat "$DIR/wrk-$2.txt")"
    WRK_PID=
    t1=${t1:-$(date +%s.%N)}

    line=$(grep '^SOAK ' "$DIR/wrk-$2.txt") \
        || die "wrk printed no summary: $(cat "$DIR/wrk-$2.txt")"
    rate=$(echo "$t0 $t1" | awk -v n="$1" '{ printf "%.0f", n / ($2 - $1) }')
    say "$2: $line ($rate req/s)"

    set -- $line
    # SOAK responses N errors E statuses ... unexpected U
    responses=$3
    errors=$5
    unexpected=$(printf '%s\n' "$line" | sed 's/.* unexpected //')
}


# whole logins: token exchange, JWKS, ID token verification
run_logins() {
    if node "$ROOT/bench/soak-logins.js" "http://127.0.0.1:$PORT/" "$1" 16 \
        > "$DIR/logins-$2.txt" 2>&1
    then
        :
    else
        status=1
    fi
    say "$2: $(tail -n 1 "$DIR/logins-$2.txt")"
    grep -v '^LOGINS' "$DIR/logins-$2.txt" | head -5 >&2 || true
}

status=0

start=$(date +%s)
run_wrk "$WARMUP" warmup
warm_responses=$responses
[ "$errors" = 0 ] && [ "$unexpected" = 0 ] || status=1
[ "$LOGINS" -gt 0 ] && run_logins "$WARMUP_LOGINS" warmup
rss1=$(rss "$worker")
say "worker $worker VmRSS after $warm_responses requests" \
    "(+ $WARMUP_LOGINS logins): $rss1 kB"

run_wrk $((TOTAL - WARMUP)) main
[ "$errors" = 0 ] && [ "$unexpected" = 0 ] || status=1
[ "$LOGINS" -gt 0 ] && run_logins "$LOGINS" main
kill -0 "$worker" 2>/dev/null || die "the worker $worker is gone"
rss2=$(rss "$worker")
end=$(date +%s)

done_total=$((warm_responses + responses))
growth=$((rss2 - rss1))

now_worker=$(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" | awk '{ print $1 }')
if [ "$now_worker" != "$worker" ]; then
    say "the worker was replaced ($worker -> $now_worker)"
    status=1
fi

if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$DIR/logs/error.log"; then
    say "error.log has alerts"
    status=1
fi

if [ "$growth" -gt "$MAX_GROWTH" ]; then
    status=1
fi

if [ $status -eq 0 ]; then verdict=PASS; else verdict=FAIL; fi

report="soak: $verdict: $done_total requests and $((WARMUP_LOGINS + LOGINS)) whole logins in $((end - start)) s against one worker (pid $worker)
soak: VmRSS after $warm_responses requests and $WARMUP_LOGINS logins: $rss1 kB
soak: VmRSS after $done_total requests and $((WARMUP_LOGINS + LOGINS)) logins: $rss2 kB
soak: growth: $growth kB (limit $MAX_GROWTH kB)"

printf '%s\n' "$report"
printf '%s\n' "$report" "$(grep -h '^SOAK ' "$DIR/wrk-warmup.txt" "$DIR/wrk-main.txt")" \
    > "$ROOT/bench/out/soak-latest.txt"

exit $status
