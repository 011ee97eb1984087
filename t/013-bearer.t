# oauth2_bearer and oauth2_auth_request: what the configuration must say
# (a provider that takes access tokens names their audience; only
# asymmetric algorithms), and the answers that need no provider call:
# no token, a malformed Authorization header, a token that is no JWS.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: oauth2_bearer for a provider without bearer_audience is refused
--- http_config
    oauth2_provider op {
        issuer     https://op.example.com;
        client_id  a;
    }
--- config
    location /api/ {
        oauth2_bearer op;
    }
--- must_die
--- error_log
oauth2 provider "op" takes access tokens ("oauth2_bearer") but has no "bearer_audience"



=== TEST 2: an unknown provider in oauth2_bearer is refused
--- http_config
    oauth2_provider op {
        issuer           https://op.example.com;
        client_id        a;
        bearer_audience  https://api.example.com;
    }
--- config
    location /api/ {
        oauth2_bearer po;
    }
--- must_die
--- error_log
unknown oauth2 provider "po" in "oauth2_bearer"



=== TEST 3: bearer_algs takes no HMAC algorithm: access tokens are never checked with a secret
--- http_config
    oauth2_provider op {
        issuer           https://op.example.com;
        client_id        a;
        bearer_audience  https://api.example.com;
        bearer_algs      RS256 HS256;
    }
--- config
--- must_die
--- error_log
"bearer_algs" takes asymmetric algorithms only



=== TEST 4: an unknown provider in oauth2_auth_request is refused
--- http_config
    oauth2_provider op {
        issuer     https://op.example.com;
        client_id  a;
    }
--- config
    location = /auth {
        oauth2_auth_request po;
    }
--- must_die
--- error_log
unknown oauth2 provider "po" in "oauth2_auth_request"



=== TEST 5: no token: 401 with a Bearer challenge without error, needing no cookie secret
--- http_config
    oauth2_provider op {
        issuer           https://op.example.com;
        client_id        a;
        bearer_audience  https://api.example.com;
    }
--- config
    location /api/ {
        oauth2_bearer op;
        return 200 "never\n";
    }
    location /data/ {
        oauth2_bearer op;
    }
--- request
GET /data/x?access_token=abc
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="op"
--- no_error_log
[error]



=== TEST 6: a malformed Authorization header: 400 invalid_request
--- http_config
    oauth2_provider op {
        issuer           https://op.example.com;
        client_id        a;
        bearer_audience  https://api.example.com;
    }
--- config
    location /data/ {
        oauth2_bearer op;
    }
--- request
GET /data/x
--- more_headers
Authorization: Bearer a,b
--- error_code: 400
--- response_headers
WWW-Authenticate: Bearer realm="op", error="invalid_request", error_description="malformed Bearer credentials"
--- no_error_log
[error]



=== TEST 7: with "bearer_validation jwt", a token that is no JWS is refused before any provider call
--- http_config
    oauth2_provider op {
        issuer             https://op.example.com;
        client_id          a;
        bearer_audience    https://api.example.com;
        bearer_validation  jwt;
    }
--- config
    location /data/ {
        oauth2_bearer op;
    }
--- request
GET /data/x
--- more_headers
Authorization: Bearer secret-opaque-token
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="op", error="invalid_token", error_description="token is not a JWS"
--- error_log
bearer token refused: token is not a JWS
--- no_error_log
[error]



=== TEST 8: oauth2_auth_request without a session or token: 401 with the challenge
--- http_config
    oauth2_provider op {
        issuer           https://op.example.com;
        client_id        a;
        bearer_audience  https://api.example.com;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location = /auth {
        oauth2_auth_request op;
    }
--- request
GET /auth
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="op"
--- no_error_log
[error]
