# oauth2_bearer and oauth2_auth_request: what the configuration must say
# (a provider that takes access tokens names their audience; only
# asymmetric algorithms), and the answers that need no provider call:
# no token, a malformed Authorization header, a token that is no JWS.

use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(sha256);
use HTTP::Tiny;

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

# Opaque tokens the fake provider's introspection calls active, after the
# delay in their name, whose keys fall in one slot of a worker's cache of
# token sessions (bearer.c: two bytes of SHA-256 over 'b', the provider's
# name, NUL and the token), with subs of one length.

sub slot {
    my @b = unpack('C2', sha256("b" . "fake" . "\0" . $_[0]));
    return ($b[0] | ($b[1] << 8)) & 1023;
}

sub colliding {
    my ($delay, $slot) = @_;

    for my $n (0 .. 1_000_000) {
        my $t = sprintf("act-%d-x%07d", $delay, $n);
        return $t if !defined $slot || slot($t) == $slot;
    }

    die "no colliding token";
}

our $T1 = colliding(0);
our $T2 = colliding(150, slot($T1));
our $T3 = colliding(300, slot($T1));
our $Sub1 = 'u-' . (split /-/, $T1)[2];
# JWT access tokens from the fake provider's client credentials grant,
# signed RS256, from a provider whose discovery lists RS256 ("ok") and
# from one whose discovery lists ES256 only

sub mint {
    my ($scenario) = @_;
    my $url = "http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/$scenario/token";
    my $res = HTTP::Tiny->new->post_form($url,
        { grant_type => 'client_credentials', client_id => 'fake-client',
          client_secret => 'fake-secret-0123456789abcdefghijkl' });
    die "$url: $res->{status}" unless $res->{success}
        && $res->{content} =~ /"access_token":"([^"]+)"/;
    return $1;
}

our $Jwt = mint('ok');
our $JwtEs = mint('discovery-algs-es256');

our $T4 = 'act-0-flood';
our $T5 = 'act-600-slow';

# the provider of TESTs 10 and 11: opaque tokens only, introspected by the
# fake provider, at most $_[0] calls at once
sub introspecting {
    return "    oauth2_provider fake {
        issuer                 http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id              fake-client;
        client_secret          fake-secret-0123456789abcdefghijkl;
        bearer_audience        https://api.example.com;
        bearer_validation      introspection;
        introspection_endpoint http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok/introspect;
        introspection_concurrency $_[0];
    }
";
}

# /race: a mirrored request with a token introspected in 600 ms, then
# (one hop later) a request with another new token
our $Race = "    location /fast/ {
        oauth2_bearer fake;
        add_header X-Sub \$oauth2_sub always;
        proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok/jwks;
    }
    location = /race {
        mirror /slow;
        proxy_pass http://127.0.0.1:\$server_port/hop;
    }
    location = /hop {
        proxy_set_header Authorization \"Bearer $main::T4\";
        proxy_pass http://127.0.0.1:\$server_port/fast/;
    }
    location = /slow {
        internal;
        proxy_set_header Authorization \"Bearer $main::T5\";
        proxy_pass http://127.0.0.1:\$server_port/fast/;
    }
";

# the provider of TESTs 13 to 15: JWT access tokens of scenario $_[0],
# bearer_algs $_[1] when given
sub jwt_provider {
    my ($scenario, $algs) = @_;
    my $p = "    oauth2_provider fake {
        issuer            http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/$scenario;
        client_id         fake-client;
        bearer_audience   https://api.example.com;
        bearer_validation jwt;\n";
    $p .= "        bearer_algs       $algs;\n" if $algs;
    return $p . "    }\n";
}

our $Api = "    location /api/ {
        oauth2_bearer fake;
        add_header X-Sub \$oauth2_sub always;
        proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok/jwks;
    }
";

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



=== TEST 9: a token session found in the worker's cache stays the request's while others replace it
A request (/race) is let in by a cached token, then waits 400 ms for its
upstream; meanwhile two requests (mirrors) with tokens of the same cache
slot replace the entry, the second one taking its memory. The waiting
request's headers still carry its own sub (and under ASan no use after
free is reported): a request copies what it takes from the cache.
--- http_config eval
"    oauth2_provider fake {
        issuer                 http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id              fake-client;
        client_secret          fake-secret-0123456789abcdefghijkl;
        bearer_audience        https://api.example.com;
        bearer_validation      introspection;
        introspection_endpoint http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok/introspect;
    }
"
--- config eval
"    location /api/ {
        oauth2_bearer fake;
        add_header X-Sub \$oauth2_sub always;
        add_header X-Claim-Sub \$oauth2_claim_sub always;
        proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/jwks-slow-400/jwks;
    }
    location /fast/ {
        oauth2_bearer fake;
        add_header X-Sub \$oauth2_sub always;
        proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok/jwks;
    }
    location = /warm {
        proxy_set_header Authorization \"Bearer $main::T1\";
        proxy_pass http://127.0.0.1:\$server_port/fast/;
    }
    location = /race {
        mirror /m2;
        mirror /m3;
        proxy_set_header Authorization \"Bearer $main::T1\";
        proxy_pass http://127.0.0.1:\$server_port/api/;
    }
    location = /m2 {
        internal;
        proxy_set_header Authorization \"Bearer $main::T2\";
        proxy_pass http://127.0.0.1:\$server_port/fast/;
    }
    location = /m3 {
        internal;
        proxy_set_header Authorization \"Bearer $main::T3\";
        proxy_pass http://127.0.0.1:\$server_port/fast/;
    }
"
--- request eval
["GET /warm", "GET /race"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Sub: $main::Sub1", "X-Sub: $main::Sub1\nX-Claim-Sub: $main::Sub1"]
--- timeout: 5
--- no_error_log
[error]



=== TEST 10: introspection_concurrency 1: a new opaque token while another is introspected gets 503
/race mirrors a request whose token the fake provider introspects in
600 ms, then sends one with another new token: the worker already makes
its one call, so the second is answered 503 at once, with one warning.
--- http_config eval
main::introspecting(1)
--- config eval
$main::Race
--- request
GET /race
--- error_code: 503
--- error_log
1 introspection calls running (introspection_concurrency), new opaque tokens are answered 503
--- no_error_log
[error]



=== TEST 11: with introspection_concurrency 2 the same two tokens are both introspected
--- http_config eval
main::introspecting(2)
--- config eval
$main::Race
--- request
GET /race
--- error_code: 200
--- response_headers
X-Sub: u-flood
--- no_error_log
introspection_concurrency
[error]



=== TEST 12: introspection_concurrency takes a number from 1
--- http_config
    oauth2_provider op {
        issuer                    https://op.example.com;
        client_id                 a;
        bearer_audience           https://api.example.com;
        introspection_concurrency 0;
    }
--- config
--- must_die
--- error_log
value must be between 1 and 65535



=== TEST 13: bearer_algs by default: an RS256 access token from a provider whose discovery lists RS256 passes
--- http_config eval
main::jwt_provider('ok', '')
--- config eval
$main::Api
--- request
GET /api/
--- more_headers eval
"Authorization: Bearer $main::Jwt"
--- error_code: 200
--- response_headers eval
"X-Sub: fake-client"
--- no_error_log
[error]



=== TEST 14: bearer_algs by default: the provider lists only ES256, so its RS256 access token is refused
--- http_config eval
main::jwt_provider('discovery-algs-es256', '')
--- config eval
$main::Api
--- request
GET /api/
--- more_headers eval
"Authorization: Bearer $main::JwtEs"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="fake", error="invalid_token", error_description="alg not allowed"
--- no_error_log
[error]



=== TEST 15: bearer_algs set: what the configuration says, whatever discovery lists
--- http_config eval
main::jwt_provider('discovery-algs-es256', 'RS256')
--- config eval
$main::Api
--- request
GET /api/
--- more_headers eval
"Authorization: Bearer $main::JwtEs"
--- error_code: 200
--- response_headers eval
"X-Sub: fake-client"
--- no_error_log
[error]
