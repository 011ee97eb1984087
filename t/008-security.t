# Attacks on the module itself (issue 11): Host poisoning of the
# redirect_uri, open redirects through request URLs, authorization
# secrets in the error log, subrequests that skip the access phase,
# framing of the module's pages, module cookies reaching upstreams, and
# callbacks without the RFC 9207 "iss" the provider promises.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;
our $State = 'AbCdEfGh0123456789012345678901234567890123x';

sub session {
    my ($name, $sub) = @_;
    return seal_session($name, '{"sub":"' . $sub . '","expires":'
                               . (time + 600) . '}', $Secret);
}

sub state_cookie {
    my $name = 'oauth2_fake_st_' . substr($State, 0, 8);
    my $json = sprintf '{"created":%d,"state":"%s","nonce":"n-0123456789",'
                       . '"verifier":"%s","return_url":"/"}',
                       time, $State, 'v' x 43;
    return seal_state($name, $json);
}

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

our $Fake = <<"_EOC_";
    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
    }
    oauth2_provider other {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
        redirect_uri   /oauth2/other;
    }
    oauth2_cookie_secret $Secret;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $Fake);
    }

    if (!defined $block->config) {
        $block->set_value("config", "    location / {\n        oauth2 fake;\n    }\n");
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> index.html\nsecret page\n");
    }
});

# the info lines are what the log tests read
log_level('info');

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: Host with "@": 400, never a redirect_uri on another host
--- more_headers
Host: victim.example@attacker.example
--- request
GET /index.html
--- error_code: 400
--- response_body_like: The request names no valid host
--- response_headers
! Location
! Set-Cookie
--- error_log
the "Host" header is not a valid host name



=== TEST 2: Host with "#": 400
--- more_headers
Host: victim.example#.attacker.example
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 3: Host with "?": 400
--- more_headers
Host: victim.example?x=.attacker.example
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 4: Host with "\\": 400
--- more_headers
Host: attacker.example\\victim
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 5: Host with a port over 65535: 400
--- more_headers
Host: victim.example:99999
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 6: Host with an empty port: 400
--- more_headers
Host: victim.example:
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 7: Host with a label starting with "-": 400
--- more_headers
Host: -victim.example
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 8: Host with an empty label: 400
--- more_headers
Host: victim..example
--- request
GET /index.html
--- error_code: 400
--- response_headers
! Location



=== TEST 9: a Host the server_name does not list: the server's own name is used
--- more_headers
Host: attacker.example:8080
--- request
GET /index.html
--- error_code: 302
--- response_headers_like
Location: ^http://[^?]+\?.*&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Foauth2%2Fcallback&.*



=== TEST 10: a Host that is one of the server's names is kept, port and all
--- config
    server_name *.app.example;
    location / {
        oauth2 fake;
    }
--- more_headers
Host: www.App.example:8443
--- request
GET /index.html
--- error_code: 302
--- response_headers_like
Location: ^http://[^?]+\?.*&redirect_uri=http%3A%2F%2Fwww\.App\.example%3A8443%2Foauth2%2Fcallback&.*



=== TEST 11: the callback refuses a poisoned Host before the code exchange
--- more_headers eval
"Host: victim.example\@attacker.example\nCookie: " . main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Fok"
--- error_code: 400
--- no_error_log
token request



=== TEST 12: the chooser links to nginx's path, not to a raw "//host" URL
--- config
    location /multi/ {
        oauth2 fake other;
    }
--- request
GET //evil.example/..%2Fmulti/?a=1
--- error_code: 200
--- response_body_like: <a href="/multi/\?a=1&amp;oauth2_provider=fake">
--- response_body_unlike: href="//



=== TEST 13: the chooser of a URL with raw UTF-8 links to it percent-encoded
--- config
    location /multi/ {
        oauth2 fake other;
    }
--- request eval
"GET /multi/\xc3\xa9t\xc3\xa9?b=2"
--- error_code: 200
--- response_body_like: <a href="/multi/%C3%A9t%C3%A9\?b=2&amp;oauth2_provider=other">



=== TEST 14: the chooser of a URL with "\\" links to nginx's path, escaped
--- config
    location /multi/ {
        oauth2 fake other;
    }
--- request eval
"GET /multi/a\\/evil.example?b=2"
--- error_code: 200
--- response_body_like: <a href="/multi/a%5C/evil\.example\?b=2&amp;oauth2_provider=fake">



=== TEST 15: the module's pages may not be framed
--- config
    location /multi/ {
        oauth2 fake other;
    }
--- request
GET /multi/
--- error_code: 200
--- response_headers
X-Frame-Options: DENY
Content-Security-Policy: frame-ancestors 'none'



=== TEST 16: error pages may not be framed either
--- request
GET /oauth2/callback?code=abc
--- error_code: 400
--- response_headers
X-Frame-Options: DENY
Content-Security-Policy: frame-ancestors 'none'



=== TEST 17: neither the code nor the state reaches the error log
--- request
GET /oauth2/callback?code=SECRET-CODE-4711&state=SECRET-STATE-0815&iss=x
--- error_code: 401
--- error_log
callback state does not match
request: "GET /oauth2/callback?code=***&state=***&iss=*** HTTP/1.1"
--- no_error_log
SECRET-CODE-4711
SECRET-STATE-0815



=== TEST 18: RFC 9207: a provider that promises "iss" must send it
--- http_config eval
"    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/token-500;
        client_id      fake-client;
    }
    oauth2_cookie_secret $main::Secret;"
--- more_headers eval
"Cookie: " . main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State"
--- error_code: 401
--- response_body_like: came from the wrong provider
--- error_log
the callback has no "iss" though the provider promises it
--- no_error_log
token request



=== TEST 19: auth_request into a protected location: no session, no entry
--- config
    location /private/ {
        auth_request /auth;
    }
    location = /auth {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/ok;
    }
    location = /ok {
        oauth2 off;
        return 204;
    }
--- user_files
>>> private/x
private
--- request
GET /private/x
--- error_code: 401
--- response_body_unlike: private



=== TEST 20: auth_request into a protected location: a valid session enters
--- config
    location /private/ {
        auth_request /auth;
        auth_request_set $sub $oauth2_sub;
        add_header X-Sub $sub;
    }
    location = /auth {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/ok;
    }
    location = /ok {
        oauth2 off;
        return 204;
    }
--- more_headers eval
"Cookie: " . main::session('oauth2_fake', 'alice')
--- user_files
>>> private/x
private
--- request
GET /private/x
--- error_code: 200
--- response_body
private
--- response_headers
X-Sub: alice



=== TEST 21: an SSI include of a protected location is not served without a session
--- config
    location = /page.html {
        ssi on;
    }
    location /inner/ {
        oauth2 fake;
    }
--- user_files
>>> page.html
[<!--# include virtual="/inner/index.html" -->]
>>> inner/index.html
secret page
--- request
GET /page.html
--- response_body_unlike: secret page



=== TEST 22: a location with "oauth2 off" does not pass sealed sessions upstream
--- config
    location /open/ {
        oauth2 off;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        return 200 "cookie=[$http_cookie]\n";
    }
--- more_headers eval
"Cookie: a=1; " . main::session('oauth2_fake', 'alice')
    . "; oauth2_other=x; oauth2_fake_st_AbCdEfGh=y; b=2"
--- request
GET /open/
--- error_code: 200
--- response_body
cookie=[a=1; b=2]



=== TEST 23: a protected location passes no provider's cookies upstream
--- config
    location / {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        return 200 "cookie=[$http_cookie]\n";
    }
--- more_headers eval
"Cookie: a=1; " . main::session('oauth2_fake', 'alice')
    . "; " . main::session('oauth2_other', 'bob') . "; b=2"
--- request
GET /x
--- error_code: 200
--- response_body
cookie=[a=1; b=2]



=== TEST 24: stripped in an open location, the session still serves after an internal redirect
--- config
    location /open/ {
        oauth2 off;
        try_files /nonexistent @app;
    }
    location @app {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        return 200 "cookie=[$http_cookie]\n";
    }
--- more_headers eval
"Cookie: a=1; " . main::session('oauth2_fake', 'alice')
--- request
GET /open/x
--- error_code: 200
--- response_body
cookie=[a=1]
--- response_headers
X-Sub: alice



=== TEST 25: "oauth2_strip_cookies off" keeps them for an open location
--- config
    location /open/ {
        oauth2 off;
        oauth2_strip_cookies off;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        return 200 "cookie=[$http_cookie]\n";
    }
--- more_headers
Cookie: a=1; oauth2_fake=x
--- request
GET /open/
--- error_code: 200
--- response_body
cookie=[a=1; oauth2_fake=x]
