# The provider block's "proxy": an http(s)://[user:password@]host:port URL
# or "off" is accepted; anything else is refused by nginx -t, which never
# echoes the credentials.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: http proxies with and without trailing slash, and off, are accepted
--- http_config
    oauth2_provider a {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          http://proxy.example.com:3128;
    }
    oauth2_provider b {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          HTTP://10.0.0.1:8080/;
    }
    oauth2_provider c {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          http://[::1]:8080;
    }
    oauth2_provider d {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          off;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
--- request
GET /public
--- error_code: 200
--- no_error_log
[error]
[emerg]



=== TEST 2: an https proxy is accepted (this libcurl has HTTPS-proxy)
--- http_config
    oauth2_provider a {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          https://proxy.example.com:3129;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
--- request
GET /public
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 3: a SOCKS proxy is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      socks5://proxy.example.com:1080;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy": must be "off" or start with "http://" or "https://"



=== TEST 4: credentials in the URL are accepted, percent-decoded, and never echoed
--- http_config
    oauth2_provider a {
        issuer         https://idp.example.com;
        client_id      123;
        client_secret  not-a-real-secret;
        proxy          http://user:s3cr3t%40pw@proxy.example.com:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
    location /public {
        oauth2 off;
        return 200 "public\n";
    }
--- request
GET /public
--- error_code: 200
--- no_error_log
[emerg]
s3cr3t



=== TEST 5: a path is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com:3128/path;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com:3128/path": only "http(s)://host:port" is allowed



=== TEST 6: a query is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com?x=1;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
only "http(s)://host:port" is allowed



=== TEST 7: port 0 is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com:0;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com:0": invalid port



=== TEST 8: a port past 65535 is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com:65536;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com:65536": invalid port



=== TEST 9: an empty port is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com:;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com:": invalid port



=== TEST 10: no host is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://:3128": no host



=== TEST 11: a bare word is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      proxy.example.com:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy": must be "off" or start with "http://" or "https://"



=== TEST 12: a second proxy in one block is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com:3128;
        proxy      off;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
is duplicate



=== TEST 13: a proxy without a port is refused (libcurl would use 1080)
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://proxy.example.com;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com": the port is required



=== TEST 14: an https proxy without a port is refused too
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      https://proxy.example.com/;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "https://proxy.example.com/": the port is required



=== TEST 15: an error in a proxy URL with credentials shows the URL without them
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://user:s3cr3t-pw@proxy.example.com:99999;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy" "http://proxy.example.com:99999": invalid port
--- no_error_log
s3cr3t-pw



=== TEST 16: a malformed percent escape in the credentials is refused without echo
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://user:s3cr3t%zz@proxy.example.com:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy": invalid user information
--- no_error_log
s3cr3t



=== TEST 17: an encoded control character in the credentials is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://user:pw%0d%0aX-Injected:1@proxy.example.com:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy": invalid user information



=== TEST 18: a password without a user is refused
--- http_config
    oauth2_provider a {
        issuer     https://idp.example.com;
        client_id  123;
        proxy      http://:s3cr3t@proxy.example.com:3128;
    }
    oauth2_cookie_secret 0123456789abcdef0123456789abcdef;
--- config
--- must_die
--- error_log
invalid "proxy": invalid user information
--- no_error_log
s3cr3t
