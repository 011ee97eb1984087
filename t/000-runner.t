# Tests of the test scaffold itself (t/run-tests, Test::Nginx::Socket).
#
# Only directives of the modules a stock ./configure builds are used (no
# sub_filter, say: it runs against any nginx built with NGINX_SRC), and
# this file must pass both with the real Test::Nginx::Socket and with the
# project's fallback in t/lib.
# The plan is explicit on purpose: it checks that the fallback makes as
# many assertions per section as the real module.

use Test::Nginx::Socket;

repeat_each(2);

# Assertions per repetition, block by block (TEST 1 .. TEST 13).  TEST 5
# checks its error log once per request, like the real module does.
plan tests => repeat_each() * (6 + 3 + 2 + 2 + 6 + 3 + 1 + 2 + 3 + 4 + 3 + 2 + 4);

run_tests();

__DATA__

=== TEST 1: status, headers (same-name ones joined by ", "), body, no_error_log
--- config
    location = /t {
        add_header X-Foo "bar baz";
        add_header X-Dup one;
        add_header X-Dup two;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
X-Dup: one, two
! X-Bar
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: error_code, error_log, response_body_like
--- config
    location /missing/ {
        root html;
    }
--- request
GET /missing/file.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
No such file or directory



=== TEST 3: error_log eval with a regex and an array
--- config
    location /missing/ {
        root html;
    }
--- request
GET /missing/other.txt
--- error_code: 404
--- error_log eval
[qr/open\(\) "[^"]+other\.txt" failed/]



=== TEST 4: more_headers and a request body (Content-Length is computed)
--- config
    location = /t {
        return 200 "method=$request_method len=$content_length foo=$http_x_foo\n";
    }
--- more_headers
X-Foo: hi there
--- request
POST /t
hello world
--- response_body
method=POST len=11 foo=hi there



=== TEST 5: several requests with eval'ed expectations
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 403; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 403]
--- response_body_like eval
["^A\n\\z", "403 Forbidden"]
--- no_error_log
[alert]



=== TEST 6: response_headers_like is anchored
--- config
    location = /t {
        add_header X-Num 12345;
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like
X-Num: \d+
--- response_body
ok



=== TEST 7: must_die
--- config
    location = /t {
        this_directive_does_not_exist;
    }
--- request
GET /t
--- must_die



=== TEST 8: user_files
--- config
    location /files/ {
        alias html/;
    }
--- user_files
>>> hello.txt
Hello from a user file
--- request
GET /files/hello.txt
--- response_body
Hello from a user file



=== TEST 9: chunked response (ssi drops Content-Length)
--- config
    location = /ssi.html {
        root html;
        ssi on;
    }
--- user_files
>>> ssi.html
<!--# set var="word" value="rocks" -->It <!--# echo var="word" -->!
It <!--# echo var="word" -->!
--- request
GET /ssi.html
--- response_headers
Transfer-Encoding: chunked
--- response_body_like: It rocks!.*It rocks!



=== TEST 10: pipelined requests on one connection
--- config
    location = /a { return 200 "first\n"; }
    location = /b { return 200 "second\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["first\n", "second\n"]



=== TEST 11: raw_request, HTTP/1.0
--- config
    location = /t { return 200 "raw\n"; }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_headers
Content-Length: 4
--- response_body
raw



=== TEST 12: error_code_like and access_log
--- config
    location = /t { return 204; }
--- request
GET /t?from=access-log-check
--- error_code_like: ^20[04]$
--- access_log
GET /t?from=access-log-check



=== TEST 13: TEST_NGINX_* variables are expanded in the config
--- config
    location = /t {
        return 200 "port=$TEST_NGINX_SERVER_PORT server_port=$server_port\n";
    }
--- request
GET /t
--- response_body_like: ^port=(\d+) server_port=\1$
--- no_error_log
[error]
[crit]
