# oauth2_redis and its companions: what nginx -t accepts and refuses, and
# a host whose Redis is unreachable starts, serves, and says so once per
# connection without the URL's password.  (The fleet itself, with a real
# redis-server and several hosts: t/e2e/75-fleet.test.js.)

use Test::Nginx::Socket 'no_plan';

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: Redis unreachable: the host starts and serves; one line per connection, no password
--- http_config
    oauth2_redis redis://someone:sekrit-pw@127.0.0.1:1/2;
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123.apps.googleusercontent.com;
        client_secret  not-a-real-secret;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
    location / {
        oauth2 google;
    }
--- request
GET /public
--- error_code: 200
--- wait: 0.3
--- error_log eval
qr/oauth2 redis "redis:\/\/127\.0\.0\.1:1\/2" \(subscriber; revocations may be stale\) unavailable/
--- no_error_log
sekrit-pw
[emerg]
[alert]



=== TEST 2: a host name is refused (hiredis would resolve it blocking)
--- http_config
    oauth2_redis redis://redis.example:6379/0;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis": the URL needs an IPv4 address



=== TEST 3: another scheme is refused
--- http_config
    oauth2_redis http://127.0.0.1:6379/;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis": the URL must start with "redis://" or "unix:"



=== TEST 4: a bad database number is refused
--- http_config
    oauth2_redis redis://127.0.0.1:6379/x;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis": the URL has an invalid database number



=== TEST 5: oauth2_redis_prefix without oauth2_redis is refused
--- http_config
    oauth2_redis_prefix app1:;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis_password" and "oauth2_redis_prefix" need "oauth2_redis"



=== TEST 6: a prefix with a hash tag of its own is refused
--- http_config
    oauth2_redis redis://127.0.0.1:6379;
    oauth2_redis_prefix "{app1}:";
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis_prefix" directive may hold only visible ASCII characters



=== TEST 7: a password from an unset environment variable is refused
--- http_config
    oauth2_redis unix:/run/redis/redis.sock;
    oauth2_redis_password env:OAUTH2_TEST_NO_SUCH_VARIABLE;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
environment variable "OAUTH2_TEST_NO_SUCH_VARIABLE" is not set or empty



=== TEST 8: oauth2_redis twice is refused
--- http_config
    oauth2_redis redis://127.0.0.1:6379;
    oauth2_redis redis://127.0.0.1:6380;
    oauth2_provider google {
        issuer     https://accounts.google.com;
        client_id  123;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"oauth2_redis" directive is duplicate



=== TEST 9: session_store redis without oauth2_redis is refused
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123;
        session_store  redis;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
"session_store redis" of oauth2 provider "google" needs "oauth2_redis"



=== TEST 10: session_store redis with oauth2_redis is accepted; a page without a session never waits for Redis
--- http_config
    oauth2_redis redis://127.0.0.1:1/0;
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123.apps.googleusercontent.com;
        client_secret  not-a-real-secret;
        session_store  redis;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
    location / {
        oauth2 google;
    }
--- request
GET /public
--- error_code: 200
--- response_body
public
--- no_error_log
[emerg]
session_store redis:



=== TEST 11: an unknown session_store is refused
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123;
        session_store  memcached;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location / {
        oauth2 google;
    }
--- must_die
--- error_log
invalid value "memcached"



=== TEST 12: session_store cookie (the default) is accepted
--- http_config
    oauth2_provider google {
        issuer         https://accounts.google.com;
        client_id      123.apps.googleusercontent.com;
        client_secret  not-a-real-secret;
        session_store  cookie;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
    location / {
        oauth2 google;
    }
--- request
GET /public
--- error_code: 200
--- response_body
public
--- no_error_log
[emerg]
