# Requests that carry a session cookie: a valid one passes and feeds the
# variables; expired, tampered, foreign or misplaced ones are no session.
# Cookies are minted with t/tools/seal.js, an independent implementation
# of docs/session-format.md.

use Test::Nginx::Socket 'no_plan';
use lib 't/lib-oauth2';
use OAuth2Seal;

our $Secret = $SECRET;

sub seal {
    my ($json) = @_;
    return seal_session('oauth2_fake', $json, $Secret);
}

sub seal_plain_hex {
    my ($hex) = @_;
    return seal_plain('oauth2_fake', $hex, $Secret);
}

sub flip {
    my ($cookie, $pos) = @_;
    my ($name, $value) = split /=/, $cookie, 2;
    my $c = substr($value, $pos, 1);
    substr($value, $pos, 1) = $c eq 'A' ? 'B' : 'A';
    return "$name=$value";
}

$ENV{TEST_NGINX_FAKE_OP_PORT} ||= 1990;

# provider blocks for the http_config of the tests; $Default when a test
# has none
our $Fake = <<"_EOC_";
    oauth2_provider fake {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
    }
_EOC_

our $Other = <<"_EOC_";
    oauth2_provider other {
        issuer         http://127.0.0.1:$ENV{TEST_NGINX_FAKE_OP_PORT}/ok;
        client_id      fake-client;
        redirect_uri   /oauth2/other;
    }
_EOC_

our $Default = "$Fake    oauth2_cookie_secret $Secret;\n";

# a request that opens its session, then passes the cookie on to a
# protected location of the same nginx, which opens it again
our $Reopen = <<'_EOC_';
    location / {
        oauth2 fake;
        oauth2_strip_cookies off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p/;
    }
    location /p/ {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
    }
_EOC_

# the Cookie header a protected location passes upstream, echoed back
our $Echo = <<'_EOC_';
    location / {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        oauth2 off;
        return 200 "cookie=[$http_cookie]\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $Default);
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> index.html\nsecret page\n");
    }
});

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a valid session passes and its claims become variables
--- config
    location / {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
        add_header X-Email $oauth2_email;
        add_header X-Claim-Email $oauth2_claim_email;
        add_header X-Groups $oauth2_claim_groups;
        add_header X-Provider $oauth2_provider;
        add_header X-Expires-In $oauth2_expires_in;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","expires":' . (time + 600)
    . ',"email":"alice@example.com","claims":{"email":"alice@example.com",'
    . '"groups":["users","admin"]}}')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page
--- response_headers
X-Sub: alice
X-Email: alice@example.com
X-Claim-Email: alice@example.com
X-Groups: users,admin
X-Provider: fake
--- response_headers_like
X-Expires-In: ^(59\d|600)$
--- no_error_log
[error]



=== TEST 2: an expired session is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","created":' . (time - 7200)
    . ',"expires":' . (time - 10) . '}') . "\nAccept: text/html"
--- request
GET /index.html
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?.*



=== TEST 3: a tampered session cookie is no session, logged at info level
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::flip(main::seal('{"sub":"alice"}'), 30)
    . "\nAccept: application/json\nSec-Fetch-Mode: cors"
--- request
GET /index.html
--- error_code: 401
--- error_log
session cookie "oauth2_fake" does not open
--- no_error_log
[error]



=== TEST 4: a cookie sealed with another secret is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
local $main::Secret = 'another-secret-another-secret-another-secret';
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401



=== TEST 5: a session value moved to another cookie name does not open
--- http_config eval
"$::Fake$::Other    oauth2_cookie_secret $::Secret;\n"
--- config
    location / {
        oauth2 other;
    }
--- more_headers eval
my $c = main::seal('{"sub":"alice"}');
$c =~ s/^oauth2_fake=/oauth2_other=/;
"Cookie: $c\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401



=== TEST 6: a truncated cookie is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . substr(main::seal('{"sub":"alice"}'), 0, 40)
    . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401
--- no_error_log
[error]



=== TEST 7: the module's cookies are not passed upstream, the others are
--- config eval
$::Echo
--- more_headers eval
"Cookie: a=1; " . main::seal('{"sub":"alice"}') . "; b=2"
--- request
GET /app
--- error_code: 200
--- response_body
cookie=[a=1; b=2]



=== TEST 8: oauth2_strip_cookies off passes them upstream
--- config
    location / {
        oauth2 fake;
        oauth2_strip_cookies off;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        oauth2 off;
        return 200 "cookie=[$http_cookie]\n";
    }
--- more_headers eval
"Cookie: a=1; " . main::seal('{"sub":"alice"}')
--- request
GET /app
--- error_code: 200
--- response_body_like: ^cookie=\[a=1; oauth2_fake=[A-Za-z0-9_-]+\]$



=== TEST 9: oauth2_require: array membership, regex and exact value all hold
--- config
    location / {
        oauth2 fake;
        oauth2_require groups admin;
        oauth2_require email ~@example\.com$;
        oauth2_require email_verified true;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"email":"alice@example.com",'
    . '"groups":["users","admin"],"email_verified":true}}')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page



=== TEST 10: oauth2_require: a missing group is 403 with a clear page
--- config
    location / {
        oauth2 fake;
        oauth2_require groups admin;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"bob","claims":{"groups":["users","administrators"]}}')
--- request
GET /index.html
--- error_code: 403
--- response_body_like: You are not allowed to see this page
--- error_log
access denied: claim "groups" does not satisfy "oauth2_require groups admin"



=== TEST 11: oauth2_require: a regex that does not match is 403
--- config
    location / {
        oauth2 fake;
        oauth2_require email ~@example\.com$;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"eve","claims":{"email":"eve@example.com.evil.org"}}')
--- request
GET /index.html
--- error_code: 403



=== TEST 12: the variables work in the rewrite phase too
--- config
    location / {
        oauth2 fake;
        set $who "user:$oauth2_sub";
        add_header X-Who $who;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"carol"}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Who: user:carol



=== TEST 13: a session split over chunks opens, and the access token variable is whole
--- config
    location / {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/echo;
        proxy_set_header X-Token $oauth2_access_token;
    }
    location = /echo {
        oauth2 off;
        return 200 "token=$http_x_token\n";
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","access_token":"' . ('t' x 6000) . '"}')
--- request
GET /app
--- error_code: 200
--- response_body eval
"token=" . ('t' x 6000) . "\n"



=== TEST 14: a chunked session with a chunk missing is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
my $c = main::seal('{"sub":"alice","access_token":"' . ('t' x 6000) . '"}');
$c =~ s/oauth2_fake_2=[^;]*; // or die 'no chunk 2';
"Cookie: $c\nAccept: application/json"
--- request
GET /app
--- error_code: 401



=== TEST 15: a WebSocket upgrade with a valid session passes the access phase
--- config
    location / {
        oauth2 fake;
        proxy_pass http://127.0.0.1:$server_port/echo;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
    location = /echo {
        oauth2 off;
        return 200 "upgrade=[$http_upgrade]\n";
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nUpgrade: websocket"
--- request
GET /ws
--- error_code: 200
--- response_body
upgrade=[websocket]



=== TEST 16: oauth2_session_idle_timeout: a session idle for too long is no session
--- config
    location / {
        oauth2 fake;
        oauth2_session_idle_timeout 1h;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","created":' . (time - 5000)
    . ',"seen":' . (time - 4000) . '}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401
--- error_log
session "oauth2_fake" idle for too long



=== TEST 17: oauth2_session_idle_timeout: activity is recorded, at most once a minute
--- config
    location / {
        oauth2 fake;
        oauth2_session_idle_timeout 1h;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","created":' . (time - 500)
    . ',"seen":' . (time - 120) . '}')
--- request
GET /index.html
--- error_code: 200
--- response_headers_like
Set-Cookie: ^oauth2_fake=[A-Za-z0-9_-]+;.*



=== TEST 18: oauth2_session_idle_timeout: a recent activity is not rewritten
--- config
    location / {
        oauth2 fake;
        oauth2_session_idle_timeout 1h;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","created":' . (time - 500)
    . ',"seen":' . (time - 10) . '}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
! Set-Cookie



=== TEST 19: oauth2_session_timeout: an absolute maximum, whatever the session says
--- config
    location / {
        oauth2 fake;
        oauth2_session_timeout 1h;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","created":' . (time - 7200)
    . ',"expires":' . (time + 600) . '}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401



=== TEST 20: stripping a Cookie header with one-byte separators (a fuzzer's find): those after the session are rejoined with "; "
--- config eval
$::Echo
--- more_headers eval
"Cookie: a=1;b=2;" . main::seal('{"sub":"alice"}') . ";c=3;d=4;e=5;f=6;g=7;h=8"
--- request
GET /app
--- error_code: 200
--- response_body
cookie=[a=1;b=2; c=3; d=4; e=5; f=6; g=7; h=8]



=== TEST 21: a session sealed with an older oauth2_cookie_secret opens and is resealed with the first
--- http_config eval
"$::Fake    oauth2_cookie_secret new-secret-new-secret-new-secret-0123;
    oauth2_cookie_secret $::Secret;\n"
--- config
    location / {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Sub: alice
--- response_headers_like
Set-Cookie: ^oauth2_fake=[A-Za-z0-9_-]+;.*



=== TEST 22: a session sealed with a secret no longer listed is no session
--- http_config eval
"$::Fake    oauth2_cookie_secret new-secret-new-secret-new-secret-0123;\n"
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 401



=== TEST 23: an internal redirect (index) keeps the session although its cookie was stripped
--- config
    location / {
        oauth2 fake;
        add_header X-Sub $oauth2_sub;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}')
--- request
GET /
--- error_code: 200
--- response_body
secret page
--- response_headers
X-Sub: alice



=== TEST 24: an internal redirect to another provider's location does not carry the session over
--- http_config eval
"$::Fake$::Other    oauth2_cookie_secret $::Secret;\n"
--- config
    location / {
        oauth2 fake;
        try_files /nothing @other;
    }
    location @other {
        oauth2 other;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request
GET /page
--- error_code: 401



=== TEST 25: the cache of opened sessions keeps to each server's secret
A value opened (and cached) in this server's worker is still refused by a
server with another secret, then still accepted here.
--- http_config eval
$::Default . <<'_EOC_'
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        oauth2_cookie_secret another-secret-of-at-least-32-bytes-0123;
        location / {
            oauth2 fake;
            root html;
        }
    }
_EOC_
--- config
    location / {
        oauth2 fake;
    }
    location /b/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request eval
["GET /index.html", "GET /b/index.html", "GET /index.html",
 "GET /b/index.html"]
--- error_code eval
[200, 401, 200, 401]



=== TEST 26: a session opened again in the same worker comes from its cache
--- config eval
$::Reopen
--- user_files
>>> p/index.html
secret page
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Sub: alice
--- error_log
oauth2: session from the cache



=== TEST 27: oauth2_session_cache off: a session opened again is opened, not taken from a cache
--- http_config eval
"$::Default    oauth2_session_cache off;\n"
--- config eval
$::Reopen
--- user_files
>>> p/index.html
secret page
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "\nAccept: application/json"
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Sub: alice
--- no_error_log
oauth2: session from the cache



=== TEST 28: a Cookie header with the session only is not passed upstream
--- config eval
$::Echo
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}')
--- request
GET /app
--- error_code: 200
--- response_body
cookie=[]



=== TEST 29: the session before the other cookies: the rest of the header goes upstream as the browser sent it
--- config eval
$::Echo
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice"}') . "; oauth2_fake_st_abc=1;a=1;b=2"
--- request
GET /app
--- error_code: 200
--- response_body
cookie=[a=1;b=2]



=== TEST 30: oauth2_require: a string claim is not split at commas
--- config
    location / {
        oauth2 fake;
        oauth2_require groups admin;
        add_header X-Groups $oauth2_claim_groups always;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"mallory","claims":{"groups":"users,admin"}}')
--- request
GET /index.html
--- error_code: 403
--- response_headers
X-Groups: users,admin
--- error_log
access denied: claim "groups" does not satisfy "oauth2_require groups admin"



=== TEST 31: oauth2_require: the whole string matches
--- config
    location / {
        oauth2 fake;
        oauth2_require groups users,admin;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"groups":"users,admin"}}')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page



=== TEST 32: oauth2_require: an element of an array matches
--- config
    location / {
        oauth2 fake;
        oauth2_require groups admin;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"groups":["users","admin"]}}')
--- request
GET /index.html
--- error_code: 200
--- response_body
secret page



=== TEST 33: oauth2_require: an array element holding a comma matches whole
--- config
    location / {
        oauth2 fake;
        oauth2_require tags a,b;
        add_header X-Tags $oauth2_claim_tags;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"tags":["a,b","c"]}}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Tags: a,b,c



=== TEST 34: oauth2_require: ... and is not split either
--- config
    location / {
        oauth2 fake;
        oauth2_require tags a;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"tags":["a,b","c"]}}')
--- request
GET /index.html
--- error_code: 403



=== TEST 35: oauth2_require: a regex sees a string claim whole, commas included
--- config
    location / {
        oauth2 fake;
        oauth2_require email ~^[^@]+@example\.com$;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"mallory","claims":'
    . '{"email":"mallory@evil.example,boss@example.com"}}')
--- request
GET /index.html
--- error_code: 403



=== TEST 36: oauth2_require: a claim the session does not have denies
--- config
    location / {
        oauth2 fake;
        oauth2_require dept ~.*;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"groups":["dept"]}}')
--- request
GET /index.html
--- error_code: 403
--- error_log
access denied: claim "dept" does not satisfy "oauth2_require dept ~.*"



=== TEST 37: oauth2_require: numbers match as the provider wrote them
--- config
    location / {
        oauth2 fake;
        oauth2_require level 3;
        oauth2_require score 1.50;
        add_header X-Score $oauth2_claim_score;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"level":3,'
    . '"score":{"$number":"1.50"}}}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
X-Score: 1.50



=== TEST 38: oauth2_require: a boolean matches its JSON text only
--- config
    location / {
        oauth2 fake;
        oauth2_require staff true;
        add_header X-Staff $oauth2_claim_staff always;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"staff":false}}')
--- request
GET /index.html
--- error_code: 403
--- response_headers
X-Staff: false



=== TEST 39: $oauth2_email is the verified address only, the claim stays
--- config
    location / {
        oauth2 fake;
        add_header X-Email $oauth2_email;
        add_header X-Claim-Email $oauth2_claim_email;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"email":"alice@example.com"}}')
--- request
GET /index.html
--- error_code: 200
--- response_headers
! X-Email
X-Claim-Email: alice@example.com



=== TEST 40: a session whose claim holds CR LF is no session: nothing reaches upstream
--- config
    location / {
        oauth2 fake;
        proxy_set_header X-Name $oauth2_claim_name;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo {
        oauth2 off;
        return 200 "name=[$http_x_name] injected=[$http_x_injected]\n";
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":'
    . '{"name":"Eve\r\nX-Injected: 1"}}') . "\nAccept: text/html"
--- request
GET /app
--- error_code: 302
--- response_headers_like
Location: ^http://127\.0\.0\.1:\d+/ok/authorize\?.*
--- error_log
session cookie "oauth2_fake" is malformed



=== TEST 41: a session whose array element, sub or token holds a control character is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","claims":{"groups":["users","a\u0000b"]}}')
    . "\nAccept: application/json\nSec-Fetch-Mode: cors"
--- request
GET /index.html
--- error_code: 401



=== TEST 42: a sub with LF is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice\nX-Injected: 1"}')
    . "\nAccept: application/json\nSec-Fetch-Mode: cors"
--- request
GET /index.html
--- error_code: 401



=== TEST 43: an access token with DEL is no session
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal('{"sub":"alice","access_token":"at\u007f1"}')
    . "\nAccept: application/json\nSec-Fetch-Mode: cors"
--- request
GET /index.html
--- error_code: 401



=== TEST 44: a session in the old format (1, untyped claims) is refused: the user logs in again
--- config
    location / {
        oauth2 fake;
    }
--- more_headers eval
"Cookie: " . main::seal_plain_hex('01' . 'ffffffff0f' . '00' . '00'
    . '05616c696365' . '00' . '00' . '00' . '00') . "\nAccept: text/html"
--- request
GET /index.html
--- error_code: 302
