# shellcheck shell=sh
#
# Runs the tests' nginx with a module built by SANITIZE=1 (AddressSanitizer
# and UndefinedBehaviorSanitizer).  Sourced by build.sh's cmd_test after
# cmd_build:
#
#   . "$ROOT/t/sanitize-env.sh"      # NGINX_BIN becomes a wrapper
#   ... the tests ...
#   sanitize_check || status=1        # any report fails the run
#
# Debian's /usr/sbin/nginx is not instrumented: the sanitizer runtimes the
# module links with (libasan, libubsan: found with ldd) must be in the
# process from its start, so nginx runs through a small wrapper,
# $BUILD_DIR/sanitize/nginx, that sets LD_PRELOAD and the options for
# nginx alone (not for perl, node or curl) and execs it.  The wrapper
# becomes NGINX_BIN and TEST_NGINX_BINARY, which Test::Nginx (t/run-tests)
# and the e2e suite (t/e2e/lib/config.js) both use.  Workers are forked,
# so they keep the runtime whatever environment nginx gives them.
#
# Reports go to files, one per process, in SANITIZE_LOG_DIR (default
# $BUILD_DIR/sanitize-logs, emptied here, writable by the workers that run
# as nobody): asan.PID and ubsan.PID.  A report aborts the process
# (abort_on_error, halt_on_error, and the module is built with
# -fno-sanitize-recover=undefined), so the test that caused it fails too.
#
# Leaks: SANITIZE_LEAKS=1 turns LeakSanitizer on (off by default: it
# slows every process exit).  nginx never frees some of what it allocates
# at start-up (its events and connections), so every process exit
# reports leaks; sanitize_check only fails on leak stacks that go through
# the module or the libraries it calls (OpenSSL, yajl, libcurl).  The
# module is preloaded too, so that nginx's dlclose() at exit does not
# unmap it: its frames keep their names and what its static data points
# to stays reachable.
#
# The e2e valgrind case (t/e2e/05-nonblocking) cannot run an ASan module:
# VALGRIND_BIN is pointed at a missing program, so it is skipped.
#
# Needs: ROOT, BUILD_DIR, NGINX_BIN, OAUTH2_MODULE_SO (set by cmd_build).
#
# Alone, for running the suites by hand with the wrapper:
#
#   SANITIZE=1 BUILD_DIR=.build-asan ./build.sh build
#   eval "$(ROOT=$PWD BUILD_DIR=$PWD/.build-asan \
#           OAUTH2_MODULE_SO=$PWD/.build-asan/nginx/objs/ngx_http_oauth2_module.so \
#           sh t/sanitize-env.sh --print)"
#   t/run-tests; node --test t/e2e/
#   sh t/sanitize-env.sh --check $PWD/.build-asan/sanitize-logs


sanitize_die() {
    printf '%s\n' "t/sanitize-env.sh: error: $*" >&2
    exit 1
}


# the sanitizer runtimes the module needs, in preload order
sanitize_runtimes() {
    ldd "$1" 2>/dev/null | awk '
        $1 ~ /^libasan\.so/  { asan = $3 }
        $1 ~ /^libubsan\.so/ { ubsan = $3 }
        END {
            if (asan == "") exit 1
            printf "%s", asan
            if (ubsan != "") printf ":%s", ubsan
        }'
}


# The leak blocks of an LSan report that concern the module: a frame in
# the module or in the libraries it calls (OpenSSL, yajl, libcurl).  Blocks
# of nginx's own allocations are left out: its cycle, events and
# connections (made once, never freed), and the one PCRE2 compile context
# ngx_regex_compile() makes for the first regex compiled, whoever asks.
sanitize_our_leaks() {
    awk '
        function flush() {
            if (block != "" && ours && !core) { printf "%s\n", block; n++ }
            block = ""; ours = 0; core = 0
        }
        /^(Direct|Indirect) leak of / { flush(); block = $0; next }
        block != "" && /^ +#[0-9]+ / {
            block = block "\n" $0
            if ($0 ~ /ngx_http_oauth2|libcrypto|libssl|libyajl|libcurl/) {
                ours = 1
            }
            if ($0 ~ /pcre2_compile_context_create/) {
                core = 1
            }
            next
        }
        { flush() }
        END { flush(); exit n ? 0 : 1 }
    ' "$1"
}


# prints the reports in dir (default SANITIZE_LOG_DIR); 1 if there are any
sanitize_check() {
    san_dir=${1:-${SANITIZE_LOG_DIR:-}}
    [ -n "$san_dir" ] && [ -d "$san_dir" ] || return 0

    san_n=0
    san_core=0

    for san_f in "$san_dir"/asan.* "$san_dir"/ubsan.*; do
        case $san_f in *.ours) continue ;; esac
        [ -s "$san_f" ] || continue

        if grep -q 'ERROR: LeakSanitizer' "$san_f" \
           && ! grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' "$san_f"
        then
            if ! sanitize_our_leaks "$san_f" > "$san_f.ours"; then
                san_core=$((san_core + 1))
                rm -f "$san_f.ours"
                continue
            fi

            san_n=$((san_n + 1))
            printf '%s\n' "t/sanitize-env.sh: leaks of the module in $san_f:" >&2
            sed -n '1,120p' "$san_f.ours" >&2
            continue
        fi

        san_n=$((san_n + 1))
        printf '%s\n' "t/sanitize-env.sh: report $san_f:" >&2
        # the report, its stacks and where the memory came from
        sed -n '1,80p' "$san_f" >&2
    done

    if [ $san_core -gt 0 ]; then
        printf '%s\n' "t/sanitize-env.sh: $san_core process(es) leaked only\
 nginx's own start-up allocations (ignored)" >&2
    fi

    if [ $san_n -gt 0 ]; then
        printf '%s\n' "t/sanitize-env.sh: $san_n sanitizer report(s) in $san_dir" >&2
        return 1
    fi

    printf '%s\n' "t/sanitize-env.sh: no sanitizer reports" >&2
    return 0
}


sanitize_setup() {
    [ -n "${OAUTH2_MODULE_SO:-}" ] && [ -f "$OAUTH2_MODULE_SO" ] \
        || sanitize_die "OAUTH2_MODULE_SO is not set or missing"

    san_preload=$(sanitize_runtimes "$OAUTH2_MODULE_SO") \
        || sanitize_die "$OAUTH2_MODULE_SO links no libasan: build it" \
                        "with SANITIZE=1"

    # the module too: nginx dlclose()s it when a single-process nginx
    # exits, which would leave its frames unnamed and its static data
    # unmapped (what it points to would look leaked); load_module then
    # finds it already loaded
    san_preload=$san_preload:$OAUTH2_MODULE_SO

    san_real=${SANITIZE_REAL_NGINX:-${NGINX_BIN:-/usr/sbin/nginx}}
    case $san_real in
    */sanitize/nginx) san_real=/usr/sbin/nginx ;;
    esac

    SANITIZE_LOG_DIR=${SANITIZE_LOG_DIR:-$BUILD_DIR/sanitize-logs}
    rm -rf "$SANITIZE_LOG_DIR"
    mkdir -p "$SANITIZE_LOG_DIR" "$BUILD_DIR/sanitize"
    chmod 1777 "$SANITIZE_LOG_DIR"

    san_leaks=0
    if [ "${SANITIZE_LEAKS:-0}" = 1 ]; then
        san_leaks=1
    fi

    san_asan="log_path=$SANITIZE_LOG_DIR/asan:abort_on_error=1:halt_on_error=1"
    san_asan="$san_asan:detect_leaks=$san_leaks"
    san_asan="$san_asan:detect_stack_use_after_return=1"
    san_asan="$san_asan:print_cmdline=1:malloc_context_size=40"
    # nginx and its libraries have no frame pointers: the slow unwinder
    # gives whole allocation stacks (leak reports need them); leaks are
    # written to the log without changing the exit status (exitcode=0):
    # the daemonizing nginx exits once started, and a non-zero status
    # there would fail the start of every test (errors still abort)
    if [ $san_leaks = 1 ]; then
        san_asan="$san_asan:fast_unwind_on_malloc=0:exitcode=0"
    fi

    san_ubsan="log_path=$SANITIZE_LOG_DIR/ubsan:print_stacktrace=1"
    san_ubsan="$san_ubsan:halt_on_error=1:abort_on_error=1"

    san_wrapper=$BUILD_DIR/sanitize/nginx
    cat > "$san_wrapper" <<EOF
#!/bin/sh
# written by t/sanitize-env.sh: nginx with the sanitizer runtimes of
# $OAUTH2_MODULE_SO
LD_PRELOAD=$san_preload\${LD_PRELOAD:+:\$LD_PRELOAD}
ASAN_OPTIONS=$san_asan\${ASAN_OPTIONS:+:\$ASAN_OPTIONS}
UBSAN_OPTIONS=$san_ubsan
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec $san_real "\$@"
EOF
    chmod 755 "$san_wrapper"

    NGINX_BIN=$san_wrapper
    TEST_NGINX_BINARY=$san_wrapper
    VALGRIND_BIN=/nonexistent/valgrind-cannot-run-an-asan-module
    export NGINX_BIN TEST_NGINX_BINARY VALGRIND_BIN SANITIZE_LOG_DIR
}


case ${1:-} in
--check)
    sanitize_check "${2:-}"
    exit $?
    ;;
--print)
    [ -n "${ROOT:-}" ] && [ -n "${BUILD_DIR:-}" ] \
        || sanitize_die "--print needs ROOT and BUILD_DIR"
    sanitize_setup
    printf "export NGINX_BIN='%s' TEST_NGINX_BINARY='%s' VALGRIND_BIN='%s'" \
        "$NGINX_BIN" "$TEST_NGINX_BINARY" "$VALGRIND_BIN"
    printf " SANITIZE_LOG_DIR='%s' OAUTH2_MODULE_SO='%s'\n" \
        "$SANITIZE_LOG_DIR" "$OAUTH2_MODULE_SO"
    exit 0
    ;;
esac

# sourced
sanitize_setup
