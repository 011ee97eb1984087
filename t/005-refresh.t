# Session refresh and back-channel logout: what one request shows (the
# concurrency, the real OP and the logout token matrix are in
# t/e2e/50-refresh.test.js and t/e2e/55-backchannel.test.js).  Sessions
# are minted with t/tools/seal.js; refresh tokens are the fake provider's
# self-contained "rt.<base64url JSON>".

use Test::Nginx::Socket 'no_plan';
use MIME::Base64 qw(encode_base64url);
use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

sub seal {
    my ($json) = @_;
    return seal_session('oauth2_fake', $json);
}

# an expired session holding a refresh token for this fake scenario
sub expired {
    my ($scenario) = @_;
    my $rt = 'rt.' . encode_base64url('{"sub":"alice","client_id":"fake-client",'
        . '"scope":"openid","scenario":"' . $scenario . '","auth_time":'
        . (time - 100) . ',"jti":"' . int(rand(1e9)) . time . '"}');
    return "Cookie: " . seal('{"sub":"alice","created":' . (time - 100)
        . ',"expires":' . (time - 5) . ',"refresh_token":"' . $rt . '"}')
        . "\nAccept: application/json";
}

# a session good for an hour holding the access token "at-old", which
# expires in $in seconds, with a refresh token for the scenario if given
sub access {
    my ($in, $scenario, $accept) = @_;
    my $rt = '';
    if (defined $scenario) {
        $rt = ',"refresh_token":"rt.' . encode_base64url('{"sub":"alice",'
            . '"client_id":"fake-client","scope":"openid","scenario":"'
            . $scenario . '","auth_time":' . (time - 100) . ',"jti":"'
            . int(rand(1e9)) . time . '"}') . '"';
    }
    return "Cookie: " . seal('{"sub":"alice","created":' . (time - 100)
        . ',"expires":' . (time + 3600) . ',"access_expires":' . (time + $in)
        . ',"access_token":"at-old"' . $rt . '}')
        . "\nAccept: " . ($accept // 'application/json');
}

# the fake provider of a scenario, and a location forwarding the access
# token (the configuration uses $oauth2_access_token)
sub provider {
    my ($scenario) = @_;
    return "oauth2_provider fake {\n"
        . "    issuer http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/$scenario;\n"
        . "    client_id fake-client;\n"
        . "    client_secret fake-secret-0123456789abcdefghijkl;\n"
        . "}\noauth2_cookie_secret 0123456789abcdef0123456789abcdef;\n";
}

sub forward {
    my ($extra) = @_;
    return "location / {\n    oauth2 fake;\n"
        . '    add_header X-Access-Token $oauth2_access_token;' . "\n"
        . "    " . ($extra // '') . "\n}\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> index.html\nsecret page\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: an expired session with a refresh token is refreshed: 200 and a new cookie
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ttl-611;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
        add_header X-Expires-In $oauth2_expires_in;
    }
--- more_headers eval
main::expired('ttl-611')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page
--- response_headers
X-Sub: alice
--- response_headers_like
Set-Cookie: ^oauth2_fake=A[A-Za-z0-9_-]+; Path=/;
X-Expires-In: ^(60\d|61[01])$
--- error_log
oauth2 provider "fake": session refreshed
--- no_error_log
[error]



=== TEST 2: "refresh off": an expired session is no session
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ttl-612;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
        refresh        off;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
main::expired('ttl-612')
--- request
GET /index.html
--- error_code: 401
--- no_error_log
session refreshed
[error]



=== TEST 3: the provider refuses the refresh token: 401, one info line
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/refresh-error;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
main::expired('refresh-error')
--- request
GET /index.html
--- error_code: 401
--- error_log
the refresh token was refused (invalid_grant)
--- no_error_log
[error]



=== TEST 4: an oauth2_zone_size below 8 pages is refused
--- http_config
    oauth2_zone_size 16k;
    oauth2_provider fake {
        issuer     http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id  fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- must_die
--- error_log
"oauth2_zone_size" of 16384 bytes is too small



=== TEST 5: backchannel_logout_uri needs an OpenID Connect provider with an issuer
--- http_config
    oauth2_provider gh {
        preset                  github;
        client_id               abc;
        backchannel_logout_uri  /oauth2/backchannel;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 gh;
    }
--- must_die
--- error_log
"backchannel_logout_uri" needs an OpenID Connect provider with "issuer"



=== TEST 6: backchannel_logout_uri must not be another path of the module
--- http_config
    oauth2_provider fake {
        issuer                  http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id               fake-client;
        backchannel_logout_uri  /oauth2/callback;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 fake;
    }
--- must_die
--- error_log
"backchannel_logout_uri" "/oauth2/callback" is already used by provider "fake"



=== TEST 7: the back-channel logout URI takes POSTs only: 405 with a JSON error, no-store
--- http_config
    oauth2_provider fake {
        issuer                  http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id               fake-client;
        backchannel_logout_uri  /oauth2/backchannel;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 off;
    }
--- request
GET /oauth2/backchannel
--- error_code: 405
--- response_headers
Cache-Control: no-store
Content-Type: application/json
--- response_body_like
^\{"error":"invalid_request","error_description":"[^"]+"\}$



=== TEST 8: a logout token that is not a JWT: 400 with a JSON error, an info line
--- http_config
    oauth2_provider fake {
        issuer                  http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id               fake-client;
        backchannel_logout_uri  /oauth2/backchannel;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 off;
    }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /oauth2/backchannel
logout_token=not-a-jwt
--- error_code: 400
--- response_headers
Cache-Control: no-store
--- response_body
{"error":"invalid_request","error_description":"invalid logout token"}
--- error_log
oauth2 provider "fake": back-channel logout token rejected:
--- no_error_log
[error]



=== TEST 9: a logout request that is not a form is refused
--- http_config
    oauth2_provider fake {
        issuer                  http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id               fake-client;
        backchannel_logout_uri  /oauth2/backchannel;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 off;
    }
--- more_headers
Content-Type: application/json
--- request
POST /oauth2/backchannel
{"logout_token":"x"}
--- error_code: 400
--- error_log
back-channel logout token rejected: not a form



=== TEST 10: the access token forwarded has expired, no refresh token: 401, though the ID token has not
--- http_config eval
main::provider('ok')
--- config eval
main::forward()
--- more_headers eval
main::access(-5)
--- request
GET /index.html
--- error_code: 401
--- response_headers
! X-Access-Token
--- no_error_log
[error]



=== TEST 11: the same for a page load: sent to log in again
--- http_config eval
main::provider('ok')
--- config eval
main::forward()
--- more_headers eval
main::access(-5, undef, 'text/html')
--- request
GET /index.html
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?.+
--- no_error_log
[error]



=== TEST 12: the access token forwarded expires within refresh_margin: refreshed, the new one is forwarded
--- http_config eval
main::provider('ttl-613')
--- config eval
main::forward('add_header X-Expires-In $oauth2_expires_in;')
--- more_headers eval
main::access(10, 'ttl-613')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page
--- response_headers_like
X-Access-Token: ^(?!at-old$).+
X-Expires-In: ^(60\d|61[0-3])$
--- error_log
oauth2 provider "fake": session refreshed
--- no_error_log
[error]
