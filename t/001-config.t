# The configuration surface: nginx accepts a complete provider block and
# refuses bad ones with a message that says what is wrong.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: the module loads and a complete provider configuration starts
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123.apps.googleusercontent.com;
        client_secret  not-a-real-secret;
        scope          "openid email profile";
        redirect_uri   /oauth2/callback;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
    location / {
        oauth2 google;
    }
--- request
GET /public
--- error_code: 200
--- response_body
public
--- no_error_log
[error]
[emerg]



=== TEST 2: an unknown provider name is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 gogle;
    }
--- must_die
--- error_log
unknown oauth2 provider "gogle"



=== TEST 3: a provider without client_id is refused
--- http_config
    oauth2_provider google {
        issuer  https://accounts.google.com;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
oauth2 provider "google" has no "client_id"



=== TEST 4: a cookie secret shorter than 32 bytes is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcde;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_cookie_secret" is too short: at least 32 bytes are required



=== TEST 5: a malformed URL is refused
--- http_config
    oauth2_provider google {
        issuer     accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid URL "accounts.google.com" in "issuer": must start with "https://"



=== TEST 6: plain http to a host that is not loopback is refused
--- http_config
    oauth2_provider corp {
        issuer     http://idp.example.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
insecure URL "http://idp.example.com" in "issuer": plain http is only allowed to loopback addresses



=== TEST 7: plain http to loopback starts, with a warning
--- http_config
    oauth2_provider local {
        issuer     http://127.0.0.1:1990/ok;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 200
--- error_log
"issuer" uses plain http to a loopback address, for testing only
--- no_error_log
[emerg]



=== TEST 8: a duplicate directive in a provider block is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
        client_id  456;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
"client_id" directive is duplicate



=== TEST 9: a duplicate provider name is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  456;
    }
--- config
--- must_die
--- error_log
duplicate oauth2 provider "google"



=== TEST 10: oauth2_provider inside a server block is refused
--- config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
--- must_die
--- error_log
"oauth2_provider" directive is not allowed here



=== TEST 11: oauth2 without a cookie secret is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
needs "oauth2_cookie_secret"



=== TEST 12: an unknown directive inside a provider block is refused
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
        client_sekret abc;
    }
--- config
--- must_die
--- error_log
unknown directive "client_sekret" in oauth2_provider block



=== TEST 13: a secret from an unset environment variable is refused, naming the variable only
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123;
        client_secret  env:OAUTH2_TEST_SURELY_UNSET;
    }
--- config
--- must_die
--- error_log
environment variable "OAUTH2_TEST_SURELY_UNSET" is not set or empty



=== TEST 14: a cookie secret read from a file
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret file:../html/secret.key;
--- config
    location / {
        oauth2 google;
    }
    location = /t {
        oauth2 off;
        return 200 "ok\n";
    }
--- user_files
>>> secret.key
0123456789abcdef0123456789abcdef0123456789abcdef
--- request
GET /t
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 15: a cookie secret file too short is refused without printing it
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret file:../html/short.key;
--- config
--- user_files
>>> short.key
tooshortsecret
--- must_die
--- error_log
"oauth2_cookie_secret" is too short
--- no_error_log
tooshortsecret



=== TEST 16: a plain OAuth 2.0 provider needs a userinfo endpoint
--- http_config
    oauth2_provider plain {
        authorization_endpoint  https://idp.example.com/authorize;
        token_endpoint          https://idp.example.com/token;
        client_id               123;
        scope                   "read";
    }
--- config
--- must_die
--- error_log
is plain OAuth 2.0 (its scope has no "openid") and needs "userinfo_endpoint"



=== TEST 17: an unknown ID token algorithm is refused
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123;
        id_token_algs  RS256 none;
    }
--- config
--- must_die
--- error_log
unsupported ID token algorithm "none"



=== TEST 18: the github preset needs only a client id and secret
--- http_config
    oauth2_provider gh {
        preset         github;
        client_id      abc;
        client_secret  def;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 gh;
    }
    location = /t {
        oauth2 off;
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 19: nginx -t warns when kept tokens may not fit large_client_header_buffers
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
    large_client_header_buffers 4 2k;
--- config
    location / {
        oauth2 google;
        proxy_set_header Authorization "Bearer $oauth2_access_token";
        proxy_pass http://127.0.0.1:1;
    }
    location = /t {
        oauth2 off;
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 200
--- error_log eval
qr/the oauth2 session cookie may reach \d+ bytes with the tokens it keeps, more than "large_client_header_buffers" \(2048\) allows/



=== TEST 20: no such warning when only identity claims are kept
--- http_config
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
        refresh    off;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
    large_client_header_buffers 4 2k;
--- config
    location / {
        oauth2 google;
        proxy_set_header X-Email $oauth2_email;
        proxy_pass http://127.0.0.1:1;
    }
    location = /t {
        oauth2 off;
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
the oauth2 session cookie may reach



=== TEST 21: authorization_params cannot override what the module sends
--- http_config
    oauth2_provider google {
        issuer                https://accounts.google.com;
        client_id             123;
        authorization_params  "prompt=consent&redirect_uri=https://evil.example/";
    }
--- config
--- must_die
--- error_log
"authorization_params" cannot set "redirect_uri", the module sends it



=== TEST 22: oauth2_session_cache takes a size or off, within bounds
--- http_config
    oauth2_session_cache 1k;
--- config
    location / {
        return 200;
    }
--- must_die
--- error_log
"oauth2_session_cache" must be between 16k and 1g, or "off"



=== TEST 23: oauth2_session_cache refuses what is not a size
--- http_config
    oauth2_session_cache lots;
--- config
    location / {
        return 200;
    }
--- must_die
--- error_log
invalid size "lots" in "oauth2_session_cache": a size such as "512k" or "off"



=== TEST 24: providers whose cookies would clash are refused ("op_1" is also the name of op's first chunk)
--- http_config
    oauth2_provider op {
        issuer     https://op.example.com;
        client_id  a;
    }
    oauth2_provider op_1 {
        issuer     https://op.example.com;
        client_id  b;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
the cookies of oauth2 providers "op" and "op_1" would clash: "oauth2_op" and "oauth2_op_1"; set "cookie_name" in one of them



=== TEST 25: a cookie_name of its own resolves the clash
--- http_config
    oauth2_provider op {
        issuer     https://op.example.com;
        client_id  a;
    }
    oauth2_provider op_1 {
        issuer       https://op.example.com;
        client_id    b;
        cookie_name  oauth2_second;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 op_1;
    }
--- request
GET /
--- more_headers
Accept: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="op_1"



=== TEST 26: userinfo takes off, on or auto (the default)
--- http_config
    oauth2_provider a {
        issuer     https://op.example.com;
        client_id  a;
        userinfo   auto;
    }
    oauth2_provider b {
        issuer     https://op.example.com;
        client_id  b;
        userinfo   off;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 a;
    }
--- request
GET /
--- more_headers
Accept: application/json
--- error_code: 401
--- no_error_log
[emerg]



=== TEST 27: an OpenID Connect provider without issuer is refused: its ID tokens' iss could never match
--- http_config
    oauth2_provider op {
        authorization_endpoint  https://op.example.com/authorize;
        token_endpoint          https://op.example.com/token;
        jwks_uri                https://op.example.com/jwks;
        client_id               a;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
oauth2 provider "op" needs "issuer" (always with "openid" in its scope)



=== TEST 28: private_key_jwt without client_key is refused
--- http_config
    oauth2_provider op {
        issuer              https://op.example.com;
        client_id           a;
        client_auth_method  private_key_jwt;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
oauth2 provider "op": "client_auth_method private_key_jwt" needs "client_key"



=== TEST 29: client_secret_jwt without client_secret is refused
--- http_config
    oauth2_provider op {
        issuer              https://op.example.com;
        client_id           a;
        client_auth_method  client_secret_jwt;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
oauth2 provider "op": "client_auth_method client_secret_jwt" needs "client_secret"



=== TEST 30: a client_key file that does not exist is refused
--- http_config
    oauth2_provider op {
        issuer      https://op.example.com;
        client_id   a;
        client_key  file:/nonexistent/oauth2-client.pem;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
"client_key": cannot open "/nonexistent/oauth2-client.pem"



=== TEST 31: a client_key that is not PEM is refused without showing it
--- http_config
    oauth2_provider op {
        issuer      https://op.example.com;
        client_id   a;
        client_key  file:/etc/passwd;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
"client_key": no PEM private key found
--- no_error_log
root:



=== TEST 32: a client_key written literally is refused
--- http_config
    oauth2_provider op {
        issuer      https://op.example.com;
        client_id   a;
        client_key  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
"client_key" directive takes "file:/path" or "env:NAME" (a PEM private key)



=== TEST 33: pushed_authorization_requests on with named endpoints and no PAR endpoint is refused
--- http_config
    oauth2_provider op {
        authorization_endpoint         https://op.example.com/authorize;
        token_endpoint                 https://op.example.com/token;
        userinfo_endpoint              https://op.example.com/userinfo;
        scope                          email;
        client_id                      a;
        pushed_authorization_requests  on;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
oauth2 provider "op" has "pushed_authorization_requests on" and its endpoints configured (no discovery): it needs "pushed_authorization_request_endpoint"



=== TEST 34: pushed_authorization_requests takes on, off or auto; a named PAR endpoint is enough
--- http_config
    oauth2_provider op {
        authorization_endpoint                 https://op.example.com/authorize;
        token_endpoint                         https://op.example.com/token;
        userinfo_endpoint                      https://op.example.com/userinfo;
        pushed_authorization_request_endpoint  https://op.example.com/par;
        scope                                  email;
        client_id                              a;
        pushed_authorization_requests          on;
    }
    oauth2_provider b {
        issuer                         https://op.example.com;
        client_id                      b;
        pushed_authorization_requests  auto;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 op;
    }
--- request
GET /
--- more_headers
Accept: application/json
--- error_code: 401
--- no_error_log
[emerg]



=== TEST 35: pushed_authorization_requests refuses other values
--- http_config
    oauth2_provider op {
        issuer                         https://op.example.com;
        client_id                      a;
        pushed_authorization_requests  always;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid value "always"



=== TEST 36: client_secret_jwt with a short secret starts, with a warning
--- http_config
    oauth2_provider op {
        issuer              https://op.example.com;
        client_id           a;
        client_secret       short-secret;
        client_auth_method  client_secret_jwt;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 op;
    }
--- request
GET /
--- more_headers
Accept: application/json
--- error_code: 401
--- error_log
a "client_secret" of 12 bytes is a weak key for client_secret_jwt
--- no_error_log
short-secret
