# The module's refusals go through nginx's error_page machinery: with an
# error_page for the status, the operator's page is served (even from the
# protected location itself) with $oauth2_error saying why; without one,
# the module's own page.  $oauth2_error also reaches log_format.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

our $Fake = <<"_EOC_";
    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
    }
    oauth2_cookie_secret $Secret;
    log_format oauth2 '\$request_method \$status error=\$oauth2_error';
_EOC_

our $Errors = <<'_EOC_';
    location / {
        oauth2 fake;
        oauth2_require groups admin;
        ssi on;
        error_page 401 403 502 503 /oauth2-error.html;
        add_header X-Error $oauth2_error always;
        access_log logs/oauth2.log oauth2;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $Fake);
    }

    if (!defined $block->config) {
        $block->set_value("config", $Errors);
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", <<'_EOF_');
>>> index.html
secret page
>>> oauth2-error.html
Sorry: <!--# echo var="oauth2_error" default="none" -->.
_EOF_
    }
});

log_level('info');

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a forged callback: the operator's page from the protected location, with the reason
--- request
GET /oauth2/callback?code=abc&state=AbCdEfGh0123456789012345678901234567890123x
--- error_code: 401
--- response_body
Sorry: state_mismatch.
--- response_headers
X-Error: state_mismatch
! Location



=== TEST 2: a script without a session: 401 through error_page, reason no_session
--- more_headers
Accept: application/json
--- request
GET /index.html
--- error_code: 401
--- response_body
Sorry: no_session.
--- response_headers
X-Error: no_session
WWW-Authenticate: Bearer realm="fake"



=== TEST 3: a session that fails oauth2_require: 403 through error_page, reason forbidden
--- more_headers eval
"Cookie: " . OAuth2Seal::seal_session('oauth2_fake', '{"sub":"alice","expires":'
    . (time + 600) . ',"claims":{"groups":["users"]}}', $main::Secret)
--- request
GET /index.html
--- error_code: 403
--- response_body
Sorry: forbidden.
--- response_headers
X-Error: forbidden



=== TEST 4: a valid session passes, $oauth2_error is empty
--- more_headers eval
"Cookie: " . OAuth2Seal::seal_session('oauth2_fake', '{"sub":"alice","expires":'
    . (time + 600) . ',"claims":{"groups":["admin"]}}', $main::Secret)
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page
--- response_headers
! X-Error



=== TEST 5: without an error_page the module's own page, still with the reason
--- config
    location / {
        oauth2 fake;
        add_header X-Error $oauth2_error always;
    }
--- request
GET /oauth2/callback?code=abc&state=AbCdEfGh0123456789012345678901234567890123x
--- error_code: 401
--- response_body_like: not started in this browser
--- response_headers
X-Error: state_mismatch



=== TEST 6: the provider unavailable: 503 through error_page, reason provider_unavailable
--- http_config eval
"    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/discovery-500;
        client_id      fake-client;
    }
    oauth2_cookie_secret $main::Secret;
    log_format oauth2 '\$request_method \$status error=\$oauth2_error';"
--- request
GET /index.html
--- error_code: 503
--- response_body
Sorry: provider_unavailable.
--- response_headers
X-Error: provider_unavailable



=== TEST 7: $oauth2_error reaches the access log
--- config
    location / {
        oauth2 fake;
        access_log logs/oauth2.log oauth2;
    }
    location = /log {
        oauth2 off;
        access_log off;
        default_type text/plain;
        alias logs/oauth2.log;
    }
--- more_headers
Accept: application/json
--- request eval
["GET /index.html", "GET /log"]
--- error_code eval
[401, 200]
--- response_body_like eval
[".*", "^GET 401 error=no_session\n\\z"]
