# Without a session: a browser's page load is sent to the provider with
# state, nonce and PKCE, the state travels in a sealed cookie; scripts and
# APIs get 401.  Needs the fake provider (t/fake/provider.js), which
# ./build.sh test starts on $TEST_NGINX_FAKE_OP_PORT.

use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a page load without a session is redirected to the authorization endpoint
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
        scope          "openid email";
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- user_files
>>> page.html
secret page
--- request
GET /page.html?a=1&b=2
--- more_headers
Accept: text/html,application/xhtml+xml
Sec-Fetch-Mode: navigate
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?response_type=code&client_id=fake-client&redirect_uri=http%3A%2F%2Flocalhost(%3A\d+)?%2Foauth2%2Fcallback&scope=openid%20email&state=[A-Za-z0-9_-]{43}&nonce=[A-Za-z0-9_-]{43}&code_challenge=[A-Za-z0-9_-]{43}&code_challenge_method=S256$
Set-Cookie: ^oauth2_fake_st_[A-Za-z0-9_-]{8}=[A-Za-z0-9_-]{40,};(?=.* Path=/(;|$))(?=.* Max-Age=600(;|$))(?=.* HttpOnly(;|$))(?=.* SameSite=Lax(;|$))(?!.*Secure).*
Cache-Control: no-store
--- response_body_unlike: secret page
--- no_error_log
[error]



=== TEST 2: a fetch() without a session gets 401, no redirect, no state cookie
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /api/data
--- more_headers
Accept: application/json
Sec-Fetch-Mode: cors
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="fake"
! Set-Cookie
! Location



=== TEST 3: an XMLHttpRequest without a session gets 401
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /api/data
--- more_headers
X-Requested-With: XMLHttpRequest
--- error_code: 401
--- response_headers
! Location



=== TEST 4: a POST without a session gets 401, not a redirect
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
POST /form
a=1
--- error_code: 401



=== TEST 5: a WebSocket upgrade without a session gets 401
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /ws
--- more_headers
Upgrade: websocket
--- error_code: 401



=== TEST 6: an unprotected location is not touched
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
    location /public/ {
        oauth2 off;
    }
--- user_files
>>> public/index.html
hello
--- request
GET /public/
--- error_code: 200
--- response_body
hello
--- response_headers
! Set-Cookie



=== TEST 7: an https request gets a Secure state cookie when oauth2_cookie_secure is on
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
    oauth2_cookie_secure on;
    oauth2_cookie_domain example.com;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 302
--- response_headers_like
Set-Cookie: ^oauth2_fake_st_.*(; Secure(;.*)?; Domain=example\.com|; Domain=example\.com(;.*)?; Secure)(;.*)?



=== TEST 8: the provider is down: a clear 503 page and one error line
--- http_config
    oauth2_provider down {
        issuer           http://127.0.0.1:1/nothing;
        client_id        fake-client;
        connect_timeout  1s;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 down;
    }
--- request
GET /
--- error_code: 503
--- response_body_like: The login service is unavailable
--- error_log eval
qr/oauth2 provider "down": discovery request to "http:\/\/127\.0\.0\.1:1\/nothing\/\.well-known\/openid-configuration" failed: /



=== TEST 9: the discovery document names another issuer: refused
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/discovery-issuer-mismatch;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 503
--- error_log
the discovery document's "issuer" differs from the configured issuer



=== TEST 10: discovery answering 500
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/discovery-500;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 503
--- error_log
failed: HTTP status 500



=== TEST 11: discovery answering invalid JSON
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/discovery-badjson;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 503
--- error_log eval
qr/oauth2 provider "fake": discovery request to "\S+" failed: .*(JSON|json|parse)/



=== TEST 12: discovery answering 10 MB: over the size cap
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/discovery-huge;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 503
--- error_log
response too large



=== TEST 13: discovery slower than the timeout
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/discovery-slow-3000;
        client_id      fake-client;
        timeout        500ms;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 503
--- error_log eval
qr/discovery request to "\S+" failed: .*(timed out|Timeout|timeout)/



=== TEST 14: authorization_params are appended to the authorization request
--- http_config
    oauth2_provider fake {
        issuer                http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id             fake-client;
        authorization_params  "access_type=offline&prompt=consent";
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- request
GET /
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?response_type=code&.*&code_challenge_method=S256&access_type=offline&prompt=consent$
