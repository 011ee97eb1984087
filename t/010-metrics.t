# The oauth2_metrics location: the Prometheus text format, what it
# counts without a provider round trip (logins started, refused
# sessions), and its configuration errors.  The end-to-end counts of
# logins, failures and calls are in t/e2e/60-metrics.test.js.

use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a scrape answers the text format, every family once, zero counts
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location = /metrics {
        oauth2_metrics;
    }
--- request
GET /metrics
--- error_code: 200
--- response_headers_like
Content-Type: ^text/plain; version=0\.0\.4; charset=utf-8$
--- response_body_like eval
qr/\A# HELP nginx_oauth2_logins_total .*
# TYPE nginx_oauth2_logins_total counter
nginx_oauth2_logins_total\{provider="fake",result="started"\} 0
nginx_oauth2_logins_total\{provider="fake",result="completed"\} 0
nginx_oauth2_logins_total\{provider="fake",result="failed"\} 0
.*nginx_oauth2_login_failures_total\{provider="fake",reason="state_mismatch"\} 0
.*nginx_oauth2_sessions_refused_total\{provider="fake",reason="tampered"\} 0
.*nginx_oauth2_provider_request_duration_seconds_bucket\{provider="fake",endpoint="token",le="0\.005"\} 0
.*# TYPE nginx_oauth2_zone_size_bytes gauge
nginx_oauth2_zone_size_bytes \d+
\z/s
--- no_error_log
[error]



=== TEST 2: only GET and HEAD
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location = /metrics {
        oauth2_metrics;
    }
--- request
POST /metrics
hello
--- error_code: 405



=== TEST 3: a login started and a tampered session are counted, the discovery call too
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
    location = /metrics {
        oauth2_metrics;
    }
--- request eval
["GET /page.html", "GET /page.html", "GET /metrics"]
--- more_headers eval
["Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n",
 "Accept: application/json\r\nCookie: oauth2_fake=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n",
 ""]
--- error_code eval
[302, 401, 200]
--- response_body_like eval
[qr//, qr//,
 qr/nginx_oauth2_logins_total\{provider="fake",result="started"\} 1\n.*nginx_oauth2_sessions_refused_total\{provider="fake",reason="tampered"\} 1\n.*nginx_oauth2_provider_requests_total\{provider="fake",endpoint="discovery",outcome="ok"\} 1\n/s]



=== TEST 4: oauth2_metrics without a provider is refused
--- http_config
--- config
    location = /metrics {
        oauth2_metrics;
    }
--- must_die
--- error_log
"oauth2_metrics" is used but no "oauth2_provider" is configured



=== TEST 5: oauth2_metrics takes no argument and lives in a location
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
    oauth2_metrics;
--- config
--- must_die
--- error_log
"oauth2_metrics" directive is not allowed here



=== TEST 6: API callers are counted: no token, a malformed header, a token that fails validation
--- http_config
    oauth2_provider fake {
        issuer             http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id          fake-client;
        bearer_audience    https://api.example.com;
        bearer_validation  jwt;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /api/ {
        oauth2_bearer fake;
    }
    location = /metrics {
        oauth2_metrics;
    }
--- request eval
["GET /api/x", "GET /api/x", "GET /api/x", "GET /metrics"]
--- more_headers eval
["",
 "Authorization: Bearer a b\r\n",
 "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2ln\r\n",
 ""]
--- error_code eval
[401, 400, 401, 200]
--- response_body_like eval
[qr//, qr//, qr//,
 qr/nginx_oauth2_bearer_validations_total\{provider="fake",result="valid"\} 0\nnginx_oauth2_bearer_validations_total\{provider="fake",result="invalid"\} 1\n.*nginx_oauth2_bearer_refused_total\{provider="fake",reason="no_token"\} 1\nnginx_oauth2_bearer_refused_total\{provider="fake",reason="invalid_token"\} 1\nnginx_oauth2_bearer_refused_total\{provider="fake",reason="insufficient_scope"\} 0\nnginx_oauth2_bearer_refused_total\{provider="fake",reason="invalid_request"\} 1\n/s]
