# Several providers: a location that admits more than one shows a small
# chooser page, logs in with the one chosen, and accepts a session of any.

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
    oauth2_provider first {
        issuer     http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id  fake-client;
    }
    oauth2_provider second {
        issuer     http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/alg-es256;
        client_id  fake-client;
    }
    oauth2_cookie_secret $Secret;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<"_EOC_");
    location / {
        oauth2 first second;
        add_header X-Provider \$oauth2_provider;
        add_header X-Sub \$oauth2_sub;
    }
    location /only-first/ {
        oauth2 first;
    }
_EOC_
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> index.html\nsecret page\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: without a session, a page load gets the chooser, which keeps the URL
--- request
GET /index.html?a=1&b=<x>
--- error_code: 200
--- response_body_like: <li><a href="/index.html\?a=1&amp;b=&lt;x&gt;&amp;oauth2_provider=first">first</a></li>\n<li><a href="/index.html\?a=1&amp;b=&lt;x&gt;&amp;oauth2_provider=second">second</a></li>
--- response_headers
! Set-Cookie



=== TEST 2: choosing a provider starts its login and comes back without the choice
--- request
GET /index.html?a=1&oauth2_provider=second
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/alg-es256/authorize\?.*
Set-Cookie: ^oauth2_second_st_.*



=== TEST 3: a session of the second provider is accepted
--- more_headers eval
"Cookie: " . main::seal('oauth2_second', '{"sub":"bob"}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Provider: second
X-Sub: bob



=== TEST 4: a session of the first provider is accepted too
--- more_headers eval
"Cookie: " . main::seal('oauth2_first', '{"sub":"alice"}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Provider: first
X-Sub: alice



=== TEST 5: a location of one provider does not accept the other's session
--- more_headers eval
"Cookie: " . main::seal('oauth2_second', '{"sub":"bob"}') . "\nAccept: application/json"
--- request
GET /only-first/index.html
--- error_code: 401



=== TEST 6: an unknown choice shows the chooser again
--- request
GET /index.html?oauth2_provider=evil
--- error_code: 200
--- response_body_like: Log in with



=== TEST 7: scripts get 401, not the chooser
--- more_headers
Accept: application/json
Sec-Fetch-Mode: cors
--- request
GET /index.html
--- error_code: 401
