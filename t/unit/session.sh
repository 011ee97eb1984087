#!/bin/sh
#
# Builds and runs the unit tests of the session cookies (ngx_http_oauth2_
# seal.c, _codec.c, _cookie.c, _ocache.c), then checks that they and
# t/tools/seal.js agree byte for byte: keys, sealed values both ways, both
# plaintext formats, cookie chunks and Set-Cookie headers.
#
#   t/unit/session.sh
#
# session_test.c and t/shim/ngx_shim.c (stand-ins for the nginx core
# functions used) are compiled with the module files against the headers
# of the configured nginx tree (t/shim/build-env.sh).  The last line of
# the output is "N passed, M failed"; the exit status is non-zero on any
# failure.
#
# Environment:
#   BUILD_DIR=dir      where build.sh configured nginx (default: .build)
#   NGX_TREE=dir       the configured nginx tree itself
#   SANITIZE=0         build without AddressSanitizer and UBSan
#   CC=cc              the compiler
#   SESSION_TEST_VERBOSE=1   show what the code logs

set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHIM_WHO=t/unit/session.sh
. "$ROOT/t/shim/build-env.sh"

if ! shim_tree; then
    echo "0 passed, 1 failed"
    exit 1
fi

CC=${CC:-cc}
SEAL="node $ROOT/t/tools/seal.js"
OUT=$BUILD_DIR/unit
mkdir -p "$OUT"

shim_sanitize "$OUT"

BIN=$OUT/session_test

# shellcheck disable=SC2086
$CC $SHIM_CFLAGS $SHIM_SAN_CFLAGS $SHIM_INCS -o "$BIN" \
    "$ROOT/t/unit/session_test.c" "$ROOT/t/shim/ngx_shim.c" $SHIM_SEAL_SRCS \
    $SHIM_SAN_LDFLAGS -lcrypto

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

passed=0
failed=0

# the C tests: their last line is "session: N passed, M failed"
if "$BIN" > "$OUT/session_test.out" 2>&1; then
    :
fi
cat "$OUT/session_test.out"

line=$(tail -n 1 "$OUT/session_test.out")
case $line in
"session: "*" passed, "*" failed")
    set -- $line
    passed=$((passed + $2))
    failed=$((failed + $4))
    ;;
*)
    echo "not ok - session_test did not finish"
    failed=$((failed + 1))
    ;;
esac


# the cross-checks

ok() {
    passed=$((passed + 1))
}

fail() {
    echo "not ok - cross-check: $*"
    failed=$((failed + 1))
}

check() {
    what=$1
    shift
    if "$@" > "$OUT/session_check.out" 2>&1; then
        ok
    else
        fail "$what"
        sed 's/^/    /' "$OUT/session_check.out"
    fi
}

same() {
    # same JSON, key_index aside
    node -e '
        const a = JSON.parse(process.argv[1]);
        const b = JSON.parse(process.argv[2]);
        delete a.key_index;
        delete b.key_index;
        require("node:assert").deepStrictEqual(a, b);
    ' "$1" "$2"
}

if ! command -v node > /dev/null; then
    fail "node is not installed"
    echo "$passed passed, $failed failed"
    exit 1
fi

S1="cross-check-secret-0123456789abcdef-0123456789"
S2="cross-check-other-secret-abcdef0123456789-xyz"
N=oauth2_session
NS=oauth2_state_Xy3

# 1. keys
check "derived keys" test "$("$BIN" keys "$S1")" = "$($SEAL keys --secret "$S1")"
check "derived keys, binary-ish secret" \
    test "$("$BIN" keys "é€-secret-with-utf8-bytes-and-more-bytes")" \
       = "$($SEAL keys --secret "é€-secret-with-utf8-bytes-and-more-bytes")"

# 2. C seals a session, seal.js opens it
v=$("$BIN" seal-session "$S1" "$N" 1800000000 1700000000 1700003600 \
        "alice@example" "at.1" "" "id.token.x" \
        email "a@x" name 'Alice "A" Liddell' groups '["a","b"]')
expect='{"expires":1800000000,"created":1700000000,"access_expires":1700003600,"sub":"alice@example","email":"","claims":{"email":"a@x","name":"Alice \"A\" Liddell","groups":"[\"a\",\"b\"]"},"access_token":"at.1","refresh_token":"","id_token":"id.token.x"}'
got=$($SEAL open --secret "$S2" --secret "$S1" --cookie "$N" --value "$v" \
      || true)
check "C seal, seal.js open" same "$got" "$expect"
check "seal.js refuses another name" \
    sh -c "! $SEAL open --secret '$S1' --cookie other --value '$v' 2>/dev/null"
check "seal.js refuses the state purpose" \
    sh -c "! $SEAL open-state --secret '$S1' --cookie '$N' --value '$v' \
           2>/dev/null"

# 3. seal.js seals, C opens (key rotation: the second key opens it)
j='{"sub":"bob","expires":1900000000,"created":1800000000,"access_expires":0,"email":"b@y","claims":{"email":"b@y","groups":["a,b","c"],"level":3,"staff":false},"access_token":"","refresh_token":"rt-1","id_token":""}'
v=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j" --format value)
got=$("$BIN" open-session "$N" "$v" "$S2" "$S1" || true)
check "seal.js seal, C open" same "$got" "$j"
check "C open reports the key" \
    sh -c "echo '$got' | grep -q '\"key_index\":1}'"
check "C refuses the wrong key" \
    sh -c "! '$BIN' open-session '$N' '$v' '$S2'"
check "C refuses another name" \
    sh -c "! '$BIN' open-session other '$v' '$S1'"

# 4. a fixed-nonce vector: both sides agree on every byte
v1=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j" --format value \
       --nonce 000102030405060708090a0b)
v2=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j" --format value \
       --nonce 000102030405060708090a0b)
check "seal.js is deterministic with a fixed nonce" test "$v1" = "$v2"
check "fixed-nonce value opens in C" \
    sh -c "'$BIN' open-session '$N' '$v1' '$S1' > /dev/null"

# 5. state, both ways
st='{"created":1700000000,"state":"st-abc","nonce":"n-123","verifier":"ver-0123456789abcdef0123456789abcdef0123456","return_url":"/p?q=1&r=%20"}'
v=$($SEAL seal-state --secret "$S1" --cookie "$NS" --json "$st" \
      --format value)
got=$("$BIN" open-state "$NS" "$v" "$S1" || true)
check "seal.js state, C open" same "$got" "$st"
check "a state is not a session" \
    sh -c "! '$BIN' open-session '$NS' '$v' '$S1'"
v=$("$BIN" seal-state "$S1" "$NS" 1700000000 st-abc n-123 \
      ver-0123456789abcdef0123456789abcdef0123456 "/p?q=1&r=%20")
got=$($SEAL open-state --secret "$S1" --cookie "$NS" --value "$v" || true)
check "C state, seal.js open" same "$got" "$st"

# 6. tampering with a seal.js value: C refuses every changed character
v=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j" --format value)
bad=0
i=1
while [ $i -le ${#v} ]; do
    c=$(printf '%s' "$v" | cut -c$i)
    r=A
    [ "$c" = A ] && r=B
    t=$(printf '%s' "$v" | sed "s/./$r/$i")
    if "$BIN" open-session "$N" "$t" "$S1" > /dev/null; then
        # the last character may carry spare bits
        [ $i -eq ${#v} ] || bad=$((bad + 1))
    fi
    i=$((i + 5))
done
check "tampered values are refused" test $bad -eq 0

# 7. chunked cookies: the same Set-Cookie headers, and both reassemble
big=$(node -e 'process.stdout.write("x".repeat(7000))')
j='{"sub":"carol","expires":1900000000,"created":1800000000,"access_token":"'$big'","id_token":"'$big'"}'
v=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j" --format value)
for args in "3600 0 -" "1209600 1 example.com" "0 1 -"; do
    set -- $args
    dom=$3
    [ "$dom" = - ] && dom=
    secure=
    [ "$2" = 1 ] && secure=--secure
    c_out=$("$BIN" set-cookie "$N" "$v" "$1" "$2" "$dom" \
              "$N=chunks.9; ${N}_1=a; ${N}_7=b; ${N}_9=c" || echo C failed)
    js_out=$($SEAL set-cookie --secret "$S1" --cookie "$N" --value "$v" \
               --max-age "$1" $secure ${dom:+--domain "$dom"} \
               --present 1,7,9 || echo seal.js failed)
    check "same Set-Cookie headers (max-age $1, secure $2, domain '$dom')" \
        test "$c_out" = "$js_out"
done

hdr=$($SEAL seal --secret "$S1" --cookie "$N" --json "$j")
check "the session needs chunks" \
    sh -c "echo '$hdr' | grep -q '${N}_1=.*; $N=chunks\.[0-9]'"
got=$("$BIN" get-cookie "$N" "a=b; $hdr; c=d" || true)
got=$("$BIN" open-session "$N" "$got" "$S1" || true)
check "C reassembles and opens seal.js chunks" \
    same "$got" "$($SEAL open --secret "$S1" --cookie "$N" --value "$hdr")"

# the C Set-Cookie headers, replayed as a browser would, open in seal.js
c_hdr=$("$BIN" set-cookie "$N" "$v" 3600 0 "" | sed 's/;.*//' \
          | paste -sd ';' | sed 's/;/; /g')
got=$($SEAL open --secret "$S1" --cookie "$N" --value "$c_hdr" || true)
check "seal.js reassembles and opens C chunks" \
    same "$got" "$("$BIN" open-session "$N" "$v" "$S1")"

# an inconsistent set
check "a missing chunk is refused" \
    sh -c "! '$BIN' get-cookie '$N' \
           '$(echo "$hdr" | sed "s/; ${N}_2=[^;]*//")' > /dev/null"

echo "$passed passed, $failed failed"

[ $failed -eq 0 ]
