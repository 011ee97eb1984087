#!/bin/sh
#
# Builds the libFuzzer harnesses of t/fuzz/ and runs each for a bounded
# time; fails on any crash, sanitizer report, leak or timeout.
#
#   t/fuzz/run.sh [seconds] [harness...]
#
#   harnesses: cookie plain jwt jwks json query url authz (default: all)
#
# Each harness is compiled with clang -fsanitize=fuzzer,address,undefined
# together with the module files it exercises and t/shim/ngx_shim.c (the
# nginx core functions they call), against the headers of the configured
# nginx tree, as t/unit/ does (t/shim/build-env.sh).  Then, per harness:
#
#   1. every input of t/fuzz/regressions/<harness>/ is replayed: any
#      failure fails the run (a regression input is a crash found once);
#   2. libFuzzer runs for the given time, starting from the seeds of
#      t/fuzz/corpus/<harness>/ and what earlier runs found
#      ($BUILD_DIR/fuzz/corpus/<harness>/, not committed);
#   3. a crash is copied to t/fuzz/regressions/<harness>/ (commit it once
#      the bug is fixed) and its report is shown; the run fails.
#
# Environment:
#   FUZZ_SECONDS=60    time per harness (the first argument wins)
#   BUILD_DIR=dir      where build.sh configured nginx (default: .build)
#   NGX_TREE=dir       the configured nginx tree itself
#   CC=clang           a clang with libFuzzer (Debian: clang,
#                      libclang-rt-14-dev)
#   FUZZ_BUILD_ONLY=1  build and replay the regressions, do not fuzz
#   FUZZ_ARGS=...      more libFuzzer options (e.g. -jobs=2 -workers=2)

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHIM_WHO=t/fuzz/run.sh
. "$ROOT/t/shim/build-env.sh"

ALL="cookie plain jwt jwks json query url authz"

seconds=${FUZZ_SECONDS:-60}
case ${1:-} in
[0-9]*) seconds=$1; shift ;;
esac

harnesses=${*:-$ALL}

say() {
    printf '%s\n' "t/fuzz/run.sh: $*" >&2
}

shim_tree || exit 1

CC=${CC:-clang}
FUZZ=$ROOT/t/fuzz
OUT=$BUILD_DIR/fuzz
mkdir -p "$OUT"

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
     | $CC -fsanitize=fuzzer,address,undefined -x c - -o "$OUT/probe" \
           2> "$OUT/probe.log"
then
    cat "$OUT/probe.log" >&2
    say "$CC cannot build libFuzzer programs (Debian: apt-get install" \
        "clang libclang-rt-14-dev)"
    exit 1
fi
rm -f "$OUT/probe" "$OUT/probe.log"

CFLAGS="-g -O1 -fno-omit-frame-pointer -W -Wall -Wno-unused-parameter"
CFLAGS="$CFLAGS -Wno-deprecated-declarations -Wno-unused-function"
CFLAGS="$CFLAGS -fsanitize=fuzzer,address,undefined"
CFLAGS="$CFLAGS -fno-sanitize-recover=all"
CFLAGS="$CFLAGS -DFUZZ_KEYS_DIR=\"$FUZZ/keys\""

INCS="$SHIM_INCS -I $FUZZ -I $OUT"


sources() {
    case $1 in
    cookie|plain) echo "$SHIM_SEAL_SRCS" ;;
    jwt|jwks)     echo "$SHIM_JWT_SRCS" ;;
    json)         echo "$SRC/ngx_http_oauth2_json.c" ;;
    query)        echo "$SRC/ngx_http_oauth2_form.c" ;;
    url)          echo "$SRC/ngx_http_oauth2_url.c" ;;
    authz)        echo "$SRC/ngx_http_oauth2_authz.c" ;;
    *)            return 1 ;;
    esac
}


options() {
    case $1 in
    cookie) echo "-max_len=16384 -dict=$FUZZ/dict/cookie.dict" ;;
    plain)  echo "-max_len=4096" ;;
    jwt)    echo "-max_len=8192" ;;
    jwks)   echo "-max_len=16384 -dict=$FUZZ/dict/json.dict" ;;
    json)   echo "-max_len=8192 -dict=$FUZZ/dict/json.dict" ;;
    query)  echo "-max_len=4096 -dict=$FUZZ/dict/query.dict" ;;
    url)    echo "-max_len=512 -dict=$FUZZ/dict/url.dict" ;;
    authz)  echo "-max_len=20000" ;;
    esac
}


build() {
    h=$1
    src=$(sources "$h") || { say "unknown harness \"$h\""; return 1; }

    # shellcheck disable=SC2086
    $CC $CFLAGS $INCS -o "$OUT/fuzz_$h" "$FUZZ/fuzz_$h.c" \
        "$ROOT/t/shim/ngx_shim.c" $src -lcrypto -lyajl \
        > "$OUT/fuzz_$h.build.log" 2>&1 \
    || { cat "$OUT/fuzz_$h.build.log" >&2; say "$h: build failed"; return 1; }

    if [ -s "$OUT/fuzz_$h.build.log" ]; then
        cat "$OUT/fuzz_$h.build.log" >&2
    fi
}


export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}


replay() {
    h=$1
    dir=$FUZZ/regressions/$h
    [ -d "$dir" ] || return 0

    set -- "$dir"/*
    [ -e "$1" ] || return 0

    if "$OUT/fuzz_$h" -runs=1 "$@" > "$OUT/fuzz_$h.replay.log" 2>&1; then
        say "$h: $# regression input(s) pass"
        return 0
    fi

    say "$h: a regression input fails:"
    grep -E '^(==[0-9]+==|SUMMARY|Running: |    #[0-9]+ )' \
        "$OUT/fuzz_$h.replay.log" | head -60 >&2
    say "$h: full log: $OUT/fuzz_$h.replay.log"
    return 1
}


fuzz() {
    h=$1
    corpus=$OUT/corpus/$h
    art=$OUT/artifacts/$h
    log=$OUT/fuzz_$h.log
    mkdir -p "$corpus" "$art"
    rm -f "$art"/*

    # shellcheck disable=SC2046,SC2086
    if "$OUT/fuzz_$h" -max_total_time="$seconds" -timeout=10 \
           -rss_limit_mb=2048 -print_final_stats=1 \
           -artifact_prefix="$art/" $(options "$h") ${FUZZ_ARGS:-} \
           "$corpus" "$FUZZ/corpus/$h" > "$log" 2>&1
    then
        rc=0
    else
        rc=$?
    fi

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    found=0

    for a in "$art"/*; do
        [ -f "$a" ] || continue
        found=$((found + 1))
        mkdir -p "$FUZZ/regressions/$h"
        cp "$a" "$FUZZ/regressions/$h/"
        say "$h: new regression input t/fuzz/regressions/$h/$(basename "$a")"
    done

    if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
        say "$h: FAILED after ${runs:-?} runs (exit $rc):"
        grep -E '^(==[0-9]+==|SUMMARY|    #[0-9]+ |fuzz_)|runtime error' \
            "$log" | head -60 >&2
        say "$h: full log: $log"
        return 1
    fi

    say "$h: ${seconds} s, ${runs:-?} runs, coverage ${cov:-?}," \
        "corpus $(ls "$corpus" | wc -l) + $(ls "$FUZZ/corpus/$h" | wc -l)" \
        "seeds: no crash"
}


status=0

for h in $harnesses; do
    if ! build "$h"; then
        status=1
        continue
    fi

    replay "$h" || status=1

    if [ -z "${FUZZ_BUILD_ONLY:-}" ]; then
        fuzz "$h" || status=1
    fi
done

if [ $status -eq 0 ]; then
    say "all passed: $harnesses"
else
    say "FAILED"
fi

exit $status
