# The callback: the module checks state against the state cookie, honours
# the provider's error and iss parameters, and exchanges the code.  State
# cookies are minted with t/tools/seal.js.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;
our $State = 'AbCdEfGh0123456789012345678901234567890123x';

sub state_cookie {
    my (%st) = @_;
    my $name = 'oauth2_fake_st_' . substr($State, 0, 8);
    my $json = sprintf '{"created":%d,"state":"%s","nonce":"n-0123456789",'
                       . '"verifier":"%s","return_url":"%s"}',
                       $st{created} // time, $st{state} // $State,
                       'v' x 43, $st{return_url} // '/page?x=1';
    return "Cookie: " . seal_state($name, $json);
}

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<"_EOC_");
    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret $Secret;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", "    location / {\n        oauth2 fake;\n    }\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a callback without state is refused
--- request
GET /oauth2/callback?code=abc
--- error_code: 400
--- response_body_like: The login response is incomplete
--- response_headers
Cache-Control: no-store
--- error_log
callback without a valid "state"



=== TEST 2: a callback whose state has no state cookie is refused
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State"
--- error_code: 401
--- response_body_like: not started in this browser
--- error_log
callback state does not match a login started in this browser
--- no_error_log
[error]



=== TEST 3: a state that differs from its cookie's (same first 8 characters) is refused
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=" . substr($main::State, 0, 8) . ('Z' x 35)
--- error_code: 401
--- error_log
callback state does not match



=== TEST 4: the provider's error is shown, HTML-escaped, 403 for access_denied, and the state cookie is deleted
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?error=access_denied&error_description=no&state=$main::State"
--- error_code: 403
--- response_body_like: Provider error: <code>access_denied</code>
--- response_headers_like
Set-Cookie: ^oauth2_fake_st_AbCdEfGh=;.*Max-Age=0.*
--- error_log
oauth2 provider "fake" returned error "access_denied"



=== TEST 5: an error code with markup is not reflected
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=$main::State"
--- error_code: 401
--- response_body_unlike: <script>
--- response_body_like: <code>invalid</code>



=== TEST 6: an iss parameter naming another issuer is refused (RFC 9207 mix-up)
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&iss=https%3A%2F%2Fevil.example&state=$main::State"
--- error_code: 401
--- response_body_like: wrong provider
--- error_log
is not the provider's issuer (mix-up?)



=== TEST 7: an expired state cookie is refused
--- more_headers eval
main::state_cookie(created => time - 3600)
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State"
--- error_code: 401
--- response_body_like: took too long



=== TEST 8: a token endpoint answering 500: 502 page and one error line
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/token-500;
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftoken-500"
--- error_code: 502
--- response_body_like: The login service failed
--- error_log eval
qr{oauth2 provider "fake": token request to "http://127\.0\.0\.1:\d+/token-500/token" failed: HTTP status 500}



=== TEST 9: a code the provider does not know: 401 with its error code
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=not-a-real-code&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Fok"
--- error_code: 401
--- response_body_like: invalid_grant
--- error_log
token request refused: "invalid_grant"



=== TEST 10: an oversized code is refused before anything is sent
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=" . ('c' x 5000) . "&state=$main::State"
--- error_code: 400
--- error_log
callback without "code"



=== TEST 11: the callback is handled in a location with oauth2 off too
--- config
    location / {
        oauth2 off;
    }
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State"
--- error_code: 401



=== TEST 12: the callback refuses POST
--- request
POST /oauth2/callback
code=abc
--- error_code: 405



=== TEST 13: two providers on the default callback path: the state cookie picks the provider
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_provider other {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/token-500;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers eval
# a state cookie of the second provider, sealed under its own name
"Cookie: " . OAuth2Seal::seal_state(
    'oauth2_other_st_' . substr($main::State, 0, 8),
    sprintf('{"created":%d,"state":"%s","nonce":"n","verifier":"%s",'
            . '"return_url":"/"}', time, $main::State, 'v' x 43))
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftoken-500"
--- error_code: 502
--- error_log
oauth2 provider "other": token request to
