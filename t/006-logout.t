# logout_uri: deletes the session and state cookies and sends the browser
# to the provider's end_session_endpoint (RP-Initiated Logout) or to
# post_logout_uri; a cross-site request only gets a confirmation page.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;

sub seal {
    my ($name, $json) = @_;
    return seal_session($name, $json);
}

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<"_EOC_");
    oauth2_provider oidc {
        issuer           http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id        fake-client;
        logout_uri       /logout;
        post_logout_uri  /bye.html;
    }
    oauth2_provider plain {
        authorization_endpoint  http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/github/login/oauth/authorize;
        token_endpoint          http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/github/login/oauth/access_token;
        userinfo_endpoint       http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/github/api/user;
        client_id               fake-client;
        scope                   read;
        redirect_uri            /cb/plain;
        logout_uri              /logout/plain;
        post_logout_uri         /bye.html;
    }
    oauth2_cookie_secret $Secret;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", "    location / {\n        oauth2 oidc;\n    }\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a same-origin logout deletes the session and goes to the end_session_endpoint with the ID token as hint
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice","id_token":"aaa.bbb.ccc"}')
. "; oauth2_oidc_st_ABCDEFGH=x\nSec-Fetch-Site: same-origin"
--- request
GET /logout
--- error_code: 303
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/logout\?client_id=fake-client&post_logout_redirect_uri=http%3A%2F%2Flocalhost(%3A\d+)?%2Fbye\.html&id_token_hint=aaa\.bbb\.ccc$
--- raw_response_headers_like eval
qr/Set-Cookie: oauth2_oidc=; [^\r\n]*Max-Age=0[^\r\n]*\r?\nSet-Cookie: oauth2_oidc_st_ABCDEFGH=; [^\r\n]*Max-Age=0/
--- error_log
oauth2 provider "oidc": user "alice" logged out



=== TEST 2: a plain OAuth 2.0 provider goes to post_logout_uri
--- more_headers eval
"Cookie: " . main::seal('oauth2_plain', '{"sub":"42"}') . "\nSec-Fetch-Site: same-origin"
--- request
GET /logout/plain
--- error_code: 303
--- response_headers_like
Location: ^http://localhost(:\d+)?/bye\.html$
Set-Cookie: ^oauth2_plain=; .*Max-Age=0.*



=== TEST 3: a cross-site GET only gets a confirmation page, the session stays
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice"}') . "\nSec-Fetch-Site: cross-site"
--- request
GET /logout
--- error_code: 200
--- response_body_like: <form method="post"><button type="submit">Log out</button></form>
--- response_headers
! Set-Cookie
! Location



=== TEST 4: a cross-site POST (logout forcing) only gets the confirmation page
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice"}')
. "\nOrigin: https://evil.example\nContent-Type: application/x-www-form-urlencoded"
--- request
POST /logout
--- error_code: 200
--- response_headers
! Set-Cookie



=== TEST 5: a GET without any origin signal asks for confirmation
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice"}')
--- request
GET /logout
--- error_code: 200
--- response_body_like: Log out\?



=== TEST 6: the confirmation's POST from the same origin logs out
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice"}')
. "\nOrigin: http://localhost\nContent-Type: application/x-www-form-urlencoded"
--- request
POST /logout
--- error_code: 303
--- response_headers_like
Set-Cookie: ^oauth2_oidc=; .*Max-Age=0.*



=== TEST 7: a Referer of another host is cross-site
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice"}')
. "\nReferer: http://localhost.evil.example/page"
--- request
GET /logout
--- error_code: 200
--- response_headers
! Set-Cookie



=== TEST 8: revoke_tokens sends the refresh token to the revocation endpoint, without delaying the logout
--- http_config
    oauth2_provider oidc {
        issuer               http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id            fake-client;
        logout_uri           /logout;
        revocation_endpoint  http://127.0.0.1:$TEST_NGINX_SERVER_PORT/revoke-sink;
        revoke_tokens        on;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 oidc;
    }
    location = /revoke-sink {
        oauth2 off;
        return 503;
    }
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"alice","refresh_token":"rt-123"}')
. "\nSec-Fetch-Site: same-origin"
--- request
GET /logout
--- error_code: 303
--- error_log eval
qr{oauth2 provider "oidc": revocation request to "http://127\.0\.0\.1:\d+/revoke-sink" failed: .*HTTP status 503}
--- no_error_log
rt-123



=== TEST 9: the audit line escapes a sub the provider chose: quotes, spaces and non-ASCII cannot forge a log line
--- more_headers eval
"Cookie: " . main::seal('oauth2_oidc', '{"sub":"x\" logged out, client: 10.0.0.1 \u00e9"}')
. "\nSec-Fetch-Site: same-origin"
--- request
GET /logout
--- error_code: 303
--- error_log
oauth2 provider "oidc": user "x%22%20logged%20out%2C%20client%3A%2010.0.0.1%20%C3%A9" logged out
--- no_error_log
user "x"
