# Multi-tenant issuers: "issuer" with "{tenantid}" (Entra ID's common and
# organizations endpoints).  nginx -t checks the template; the callback's
# RFC 9207 iss may name any valid tenant of it.  The ID token rules (tid
# fills the template) are tested end to end in t/e2e/48-tenants.test.js.

use Test::Nginx::Socket 'no_plan';

use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;
our $State = 'TeNaNtS00123456789012345678901234567890123x';

sub state_cookie {
    my $name = 'oauth2_mt_st_' . substr($State, 0, 8);
    my $json = sprintf '{"created":%d,"state":"%s","nonce":"n-0123456789",'
                       . '"verifier":"%s","return_url":"/page"}',
                       time, $State, 'v' x 43;
    return "Cookie: " . seal_state($name, $json);
}

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<"_EOC_");
    oauth2_provider mt {
        issuer         "http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/tenants-1/{tenantid}";
        client_id      fake-client;
        client_secret  fake-secret-0123456789abcdefghijkl;
    }
    oauth2_cookie_secret $Secret;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", "    location / {\n        oauth2 mt;\n    }\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a template issuer is discovered at its common tenant: the login goes to the common endpoints
--- more_headers
Accept: text/html
--- request
GET /page
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/tenants-1/common/authorize\?.*



=== TEST 2: the callback's iss may name a tenant of the template (the code is then exchanged)
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=not-a-real-code&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftenants-1%2F00000000-0000-0000-0000-000000000001"
--- error_code: 401
--- error_log
token request refused: "invalid_grant"
--- no_error_log
mix-up



=== TEST 3: an iss whose tenant is not a tenant id is a mix-up
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftenants-1%2Fevil.example%2Fx"
--- error_code: 401
--- error_log
is not the provider's issuer (mix-up?)



=== TEST 4: an iss of another template is a mix-up
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftenants-2%2F00000000-0000-0000-0000-000000000001"
--- error_code: 401
--- error_log
is not the provider's issuer (mix-up?)



=== TEST 5: the literal template as iss is no tenant
--- more_headers eval
main::state_cookie()
--- request eval
"GET /oauth2/callback?code=abc&state=$main::State&iss=http%3A%2F%2F127.0.0.1%3A$ENV{TEST_NGINX_FAKE_OP_PORT}%2Ftenants-1%2F%7Btenantid%7D"
--- error_code: 401
--- error_log
is not the provider's issuer (mix-up?)



=== TEST 6: "{tenantid}" in the host is refused
--- http_config
    oauth2_provider mt {
        issuer     "https://{tenantid}.example.com/v2.0";
        client_id  fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
a multi-tenant "issuer" has one "{tenantid}" in its path



=== TEST 7: two placeholders are refused
--- http_config
    oauth2_provider mt {
        issuer     "https://login.example.com/{tenantid}/{tenantid}";
        client_id  fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
a multi-tenant "issuer" has one "{tenantid}" in its path



=== TEST 8: another placeholder is refused
--- http_config
    oauth2_provider mt {
        issuer     "https://login.example.com/{tenant}/v2.0";
        client_id  fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
a multi-tenant "issuer" has one "{tenantid}" in its path



=== TEST 9: a template needs OpenID Connect (the ID token's tid fills it)
--- http_config
    oauth2_provider mt {
        issuer             "https://login.example.com/{tenantid}/v2.0";
        client_id          fake-client;
        scope              "email";
        userinfo_endpoint  https://login.example.com/userinfo;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- must_die
--- error_log
and needs OpenID Connect



=== TEST 10: Entra ID's common template is accepted
--- http_config
    oauth2_provider mt {
        issuer     "https://login.microsoftonline.com/{tenantid}/v2.0";
        client_id  fake-client;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        return 200 "ok\n";
    }
--- request
GET /
--- response_body
ok
