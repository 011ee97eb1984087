# response_mode form_post: the provider's answer is a form the browser
# POSTs to the callback.  The callback takes a POSTed form only from a
# form_post provider and a query only from a query one; the form is read
# without blocking, bounded, and never logged; the state cookie is
# SameSite=None; Secure so that the provider's cross-site POST carries it.
# State cookies are minted with t/tools/seal.js.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;
our $State = 'FoRmPoSt0123456789012345678901234567890123x';
our $Code = 'SeCrEtCoDe-0123456789';

sub state_cookie {
    my $name = 'oauth2_fake_st_' . substr($State, 0, 8);
    my $json = sprintf '{"created":%d,"state":"%s","nonce":"n-0123456789",'
                       . '"verifier":"%s","return_url":"/page"}',
                       time, $State, 'v' x 43;
    return "Cookie: " . seal_state($name, $json);
}

sub form {
    return "code=$Code&state=$State&iss=http%3A%2F%2F127.0.0.1%3A"
           . "$ENV{TEST_NGINX_FAKE_OP_PORT}%2Fok";
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
        response_mode  form_post;
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

=== TEST 1: form_post: the login asks for it and its state cookie is SameSite=None; Secure
--- more_headers
Accept: text/html
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?.*&response_mode=form_post(&|$)
Set-Cookie: ^oauth2_fake_st_[A-Za-z0-9_-]{8}=[^;]+; Path=/; Max-Age=600; HttpOnly; SameSite=None; Secure$



=== TEST 2: without form_post: no response_mode, the state cookie stays SameSite=Lax without Secure over http
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers
Accept: text/html
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?(?!.*response_mode).*
Set-Cookie: ^oauth2_fake_st_[A-Za-z0-9_-]{8}=[^;]+; Path=/; Max-Age=600; HttpOnly; SameSite=Lax$



=== TEST 3: the POSTed form's code is exchanged (the fake refuses this code: its error shows the call was made), the state cookie deleted
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\n" . main::form()
--- error_code: 401
--- response_body_like: invalid_grant
--- response_headers_like
Set-Cookie: ^oauth2_fake_st_FoRmPoSt=; Path=/; Max-Age=0; .*; HttpOnly; SameSite=None; Secure$
--- error_log
token request refused: "invalid_grant"



=== TEST 4: the form's state must match its cookie
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\ncode=abc&state=FoRmPoStZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
--- error_code: 401
--- error_log
callback state does not match



=== TEST 5: the form's iss naming another issuer is refused (mix-up)
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\ncode=abc&iss=https%3A%2F%2Fevil.example&state=$main::State"
--- error_code: 401
--- error_log
is not the provider's issuer (mix-up?)



=== TEST 6: a form_post provider refuses the answer in a query (GET with code)
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?" . main::form()
--- error_code: 400
--- response_body_like: The login response is not valid
--- error_log
callback refused: a GET, but the provider's response_mode is form_post
--- no_error_log
token request



=== TEST 7: a query provider refuses a POSTed form, valid as it may be
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\n" . main::form()
--- error_code: 405
--- no_error_log
token request



=== TEST 8: a body that is not a form is refused with a 400 page
--- more_headers eval
main::state_cookie() . "\nContent-Type: text/plain"
--- request eval
"POST /oauth2/callback\n" . main::form()
--- error_code: 400
--- response_body_like: The login response is not valid
--- error_log
callback refused: not a form



=== TEST 9: a form of more than 16 KB (Content-Length) is refused with a 400 page, not read
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\n" . main::form() . "&pad=" . ('x' x 20000)
--- error_code: 400
--- response_body_like: The login response is not valid
--- error_log
callback refused: too large a form



=== TEST 10: a chunked form of more than 16 KB is refused with a 400 page once read
--- raw_request eval
my $body = main::form() . "&pad=" . ('x' x 20000);
my $chunks = '';
while (length $body) {
    my $c = substr($body, 0, 4000, '');
    $chunks .= sprintf("%x\r\n%s\r\n", length $c, $c);
}
"POST /oauth2/callback HTTP/1.1\r
Host: localhost\r
Connection: close\r
" . main::state_cookie() . "\r
Content-Type: application/x-www-form-urlencoded\r
Transfer-Encoding: chunked\r
\r
" . $chunks . "0\r\n\r\n"
--- error_code: 400
--- response_body_like: The login response is not valid
--- error_log
callback refused: too large a form



=== TEST 11: a malformed form (a control character in state) is a 400 page, not a 500
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\ncode=abc&state=FoRmPoSt%00%0d%0a%ff%&&&==&"
--- error_code: 400
--- response_body_like: The login response is incomplete
--- error_log
callback without a valid "state"



=== TEST 12: a form with "+" for spaces and percent-encoding is decoded as a browser writes it
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8"
--- request eval
"POST /oauth2/callback\nerror=access_denied&error_description=The+user+said+no&state=" . substr($main::State, 0, 8) . "%" . sprintf("%02X", ord(substr($main::State, 8, 1))) . substr($main::State, 9)
--- error_code: 403
--- error_log
oauth2 provider "fake" returned error "access_denied"



=== TEST 13: the provider's error comes in the form too
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\nerror=server_error&state=$main::State"
--- error_code: 401
--- response_body_like: <code>server_error</code>



=== TEST 14: other methods are refused
--- request
PUT /oauth2/callback
code=abc
--- error_code: 405



=== TEST 15: the form's code and state never reach the error log, even at debug level
--- main_config
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\n" . main::form()
--- error_code: 401
--- log_level: debug
--- no_error_log eval
[$main::Code, substr($main::State, 8)]



=== TEST 16: a path redirect_uri on a plain-http, non-loopback host: form_post refuses to start the login
--- config
    server_name app.example.com;
    location / {
        oauth2 fake;
    }
--- more_headers
Host: app.example.com
Accept: text/html
--- request
GET /page
--- error_code: 403
--- response_body_like: This login needs https
--- response_headers
! Set-Cookie
--- error_log
"response_mode form_post" needs https



=== TEST 17: an https redirect_uri is fine with form_post on a plain-http request
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        response_mode  form_post;
        redirect_uri   https://app.example.com/oauth2/callback;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers
Accept: text/html
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: .*redirect_uri=https%3A%2F%2Fapp\.example\.com%2Foauth2%2Fcallback.*response_mode=form_post.*



=== TEST 18: nginx -t refuses form_post with a plain-http redirect_uri to a host that is not loopback
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        response_mode  form_post;
        redirect_uri   http://app.example.com/oauth2/callback;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
plain http is only allowed to loopback addresses



=== TEST 19: form_post with a plain-http loopback redirect_uri is accepted (testing)
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        response_mode  form_post;
        redirect_uri   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/oauth2/callback;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers
Accept: text/html
--- request
GET /page
--- error_code: 302



=== TEST 20: an unknown response_mode is refused
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
        response_mode  fragment;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
invalid value "fragment"



=== TEST 21: authorization_params cannot set response_mode behind the module's back
--- http_config
    oauth2_provider fake {
        issuer                http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id             fake-client;
        authorization_params  response_mode=form_post;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
"authorization_params" cannot set "response_mode"



=== TEST 22: providers sharing the callback path: the form's state picks the form_post provider
--- http_config
    oauth2_provider other {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/token-500;
        client_id      fake-client;
        response_mode  form_post;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\ncode=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftoken-500"
--- error_code: 502
--- error_log
oauth2 provider "fake": token request to



=== TEST 23: providers sharing the callback path: a form whose state is the query provider's is refused
--- http_config
    oauth2_provider fake {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/ok;
        client_id      fake-client;
    }
    oauth2_provider post {
        issuer         http://127.0.0.1:$TEST_NGINX_FAKE_OP_PORT/token-500;
        client_id      fake-client;
        response_mode  form_post;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- more_headers eval
main::state_cookie() . "\nContent-Type: application/x-www-form-urlencoded"
--- request eval
"POST /oauth2/callback\ncode=abc&state=$main::State"
--- error_code: 400
--- error_log
oauth2 provider "fake": callback refused: a POST, but the provider's response_mode is query
--- no_error_log
token request



=== TEST 24: a form nginx wrote to a temporary file is refused, never read back: the code stays off the disk
--- config
    client_body_in_file_only clean;
    location / {
        oauth2 fake;
    }
--- raw_request eval
my $body = main::form() . "&pad=" . ('x' x 600);
"POST /oauth2/callback HTTP/1.1\r
Host: localhost\r
Connection: close\r
" . main::state_cookie() . "\r
Content-Type: application/x-www-form-urlencoded\r
Content-Length: " . length($body) . "\r
\r
" . $body
--- error_code: 400
--- response_body_like: The login response is not valid
--- error_log
the form_post body was written to a temporary file and is refused
