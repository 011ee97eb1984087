package Test::Nginx::Socket;

# The project's own fallback for OpenResty's Test::Nginx::Socket.
#
# Used only when the real Test::Nginx cannot be installed (see t/run-tests).
# Test files written for the real module run unchanged: like the real one,
# this class is a Test::Base subclass, so "use Test::Nginx::Socket 'no_plan';"
# / "plan tests => ...", blocks(), the "=== TEST" / "--- section" data format,
# filters (eval, chomp, ...) and ONLY/SKIP/LAST all come from Test::Base.
#
# This file implements the client side: building the request(s) of a block,
# talking to nginx over a plain socket, and the response / log checks.  The
# checks are made with the same number of Test::More assertions per section
# as the real module, so "plan tests => repeat_each() * blocks() * N" counts
# stay valid.  Everything about starting nginx lives in Test::Nginx::Util.

use strict;
use warnings;

use Test::Base -base;
use Test::Nginx::Util;

use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use HTTP::Response ();
use IO::Socket::INET ();
use List::Util qw(min);
use Test::LongString ();
use Time::HiRes qw(sleep);

our $VERSION = '0.01';

# What a test file gets on top of Test::Base's exports (ok, is, like,
# plan, blocks, ...).  Same list as the real module.
our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test
    repeat_each config_preamble worker_connections
    master_process_enabled
    no_long_string workers master_on master_off
    log_level no_shuffle no_root_location use_hup
    server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check
);

our @ResponseBodyChecks;

$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

sub set_http_config_filter ($) {
    $FilterHttpConfig = shift;
}

#----------------------------------------------------------------------------
# Building requests.
#----------------------------------------------------------------------------

# --- more_headers text to "Key: value\r\n" lines.  Returns the header text
# and whether "Transfer-Encoding: chunked" was given.
sub parse_more_headers {
    my ($text) = @_;
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $text // '') {
        next if $line =~ /^\s*#/ || $line !~ /\S/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turn the short request notation ("GET /t", optionally followed by a body
# on the next lines) into a full HTTP request: the request line gets its
# defaults (URI "/", HTTP/1.1), then Host / Connection / --- more_headers /
# Content-Length are inserted.  $packets is the request split into the
# pieces the test wants written separately; the same split points are kept
# in the result (headers travel with the request line).
sub build_request {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;

    my $whole = join '', @$packets;

    my ($lead) = $whole =~ /\A(\s*)/;
    my $start = length $lead;
    my $nl = index $whole, "\n", $start;
    my $line_end = $nl < 0 ? length($whole) : $nl + 1;
    my $first = substr $whole, $start, $line_end - $start;
    my $body  = substr $whole, $line_end;

    if ($first !~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/) {
        bail_out("$name - Request line is not valid. Should be "
                 . "'meth [url [version]]' but got \"$first\".");
    }
    my ($meth, $url, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my $len_header = '';
    my $body_lead_trim = 0;
    if (!$is_chunked && $body ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        ($lead) = $body =~ /\A(\s*)/;
        $body_lead_trim = length $lead;
        $body =~ s/^\s+|\s+$//g;
        $len_header = 'Content-Length: ' . length($body) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/g;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/i;
    $headers .= "Connection: $conn\r\n" if $more_headers !~ /(?:^|\n)Connection/i;
    $headers .= "$more_headers$len_header\r\n";

    my $req_line = "$meth $url $ver\r\n";
    my $head = $req_line . $headers;
    my $out  = $head . $body;

    # Map the original split points onto the new text.
    my @cuts;
    my $off = 0;
    for my $i (0 .. $#$packets - 1) {
        $off += length $packets->[$i];
        my $pos;
        if ($off >= $line_end) {
            my $q = $off - $line_end - $body_lead_trim;
            $q = 0 if $q < 0;
            $q = length $body if $q > length $body;
            $pos = length($head) + $q;
        } else {
            $pos = $off - $start;
            $pos = 0 if $pos < 0;
            $pos = length($req_line) - 2 if $pos > length($req_line) - 2;
        }
        $pos = $cuts[-1] if @cuts && $pos < $cuts[-1];
        push @cuts, $pos;
    }

    my @result;
    my $prev = 0;
    for my $cut (@cuts, length $out) {
        push @result, substr $out, $prev, $cut - $prev;
        $prev = $cut;
    }
    return \@result;
}

# Pick the --- more_headers entry for the $i-th request.
sub headers_for_request {
    my ($name, $more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $h = $more_headers->[$i];
        bail_out("$name - --- more_headers lacks data for request $i")
            unless defined $h;
        return parse_more_headers($h);
    }
    return parse_more_headers($more_headers);
}

# All requests of a block: a list of requests, each a list of packets
# ({ value => ..., delay_before => ... }).  Each request uses its own
# connection, except --- pipelined_requests (one connection, one packet).
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;

    my $raw = $block->raw_request;
    if (defined $raw) {
        my @list = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[ map { ref $_ eq 'HASH' ? $_ : { value => $_ } } @list ]];
    }

    my $request;
    if (defined $block->request_eval) {
        diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # leading comment lines and blank space are not part of it
            1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//;
        }
    }

    my $more_headers = $block->more_headers // '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $data = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = headers_for_request($name, $more_headers, $i);
            $data .= join '', @{ build_request($name, $hdr, $chunked, $conn, [$reqs->[$i]]) };
        }
        return [[ { value => $data } ]];
    }

    bail_out("$name - no --- request section") unless defined $request;

    my @requests = ref $request eq 'ARRAY' ? @$request : ($request);
    bail_out("$name - invalid --- request: MUST be string or array of requests")
        if ref $request && ref $request ne 'ARRAY';

    my @list;
    for my $i (0 .. $#requests) {
        my $one = $requests[$i];
        my ($hdr, $chunked) = headers_for_request($name, $more_headers,
                                                  ref $request ? $i : 0);
        if (!ref $one) {
            my $packets = build_request($name, $hdr, $chunked, 'close', [$one]);
            push @list, [ { value => $packets->[0] } ];
        } elsif (ref $one eq 'ARRAY') {
            my @src = map {
                !ref $_            ? { value => $_ }
              : ref $_ eq 'HASH'   ? { %$_ }
              : bail_out("$name - Invalid syntax. $_ should be a string or hash with value.")
            } @$one;
            my $packets = build_request($name, $hdr, $chunked, 'close',
                                        [ map { $_->{value} } @src ]);
            $src[$_]{value} = $packets->[$_] for 0 .. $#src;
            push @list, \@src;
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an array of packets.");
        }
    }
    return \@list;
}

#----------------------------------------------------------------------------
# Talking to nginx.
#----------------------------------------------------------------------------

# Connect, retrying while nginx is still coming up (valgrind can be slow).
sub connect_to_server {
    my ($name, $addr, $timeout) = @_;
    my $port = $ServerPortForClient;
    my $max_tries = $Test::Nginx::Util::TotalFailedConnects ? 20 : 50;
    my $err = '';

    for my $try (1 .. $max_tries) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr,
            PeerPort => $port,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        return $sock if $sock;
        $err = "$!";

        my $child = $Test::Nginx::Util::ChildPid;
        if ($child && !is_running($child)) {
            warn "WARNING: Child process $child is already gone.\n";
            Test::More->builder->no_ending(1);
            fail("$name - Can't connect to $addr:$port: $err (aborted)");
            return undef;
        }

        my $wait = (sleep_time() + sleep_time() * $try) * $try / 2;
        $wait = 1 if $wait > 1;
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$port: $err\n"
                 . "\tRetry connecting after $wait sec\n";
        }
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)";
    if (++$Test::Nginx::Util::TotalFailedConnects < 3) {
        Test::More->builder->no_ending(1);
        fail($msg);
    } else {
        bail_out($msg);
    }
    return undef;
}

# Send one request (a list of packets) and read until nginx closes the
# connection.  $timeout limits the wait between two I/O events; when it
# expires the test fails unless the block has --- abort.
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my @bits = @$req;
    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = connect_to_server($name, $addr, $timeout)
        or return (undef, $head_req);
    $sock->blocking(0);

    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $wbuf = (shift @bits)->{value} // '';
    my $woff = 0;
    my $writing = 1;
    my $fd = fileno $sock;

    while (1) {
        my $rin = '';
        vec($rin, $fd, 1) = 1;
        my $win = $writing ? $rin : undef;
        my $nfound = select(my $rout = $rin, my $wout = $win, undef, $timeout);

        if ($nfound < 0) {
            next if $! == EINTR;
            warn "WARNING: $name - select() failed: $!\n";
            last;
        }

        if ($nfound == 0) {
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            last;
        }

        if ($writing && vec($wout, $fd, 1)) {
            my $n = syswrite $sock, $wbuf, length($wbuf) - $woff, $woff;
            if (!defined $n) {
                if ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                    # nginx may answer (e.g. 413) and close early; keep
                    # reading what it sent.
                    warn "WARNING: $name - write failed: $!\n";
                    $writing = 0;
                }
            } else {
                $woff += $n;
                while ($writing && $woff >= length $wbuf) {
                    my $next = shift @bits;
                    if (!$next) {
                        $writing = 0;
                        if (defined(my $how = $block->shutdown)) {
                            $how = 1 if $how !~ /\S/;
                            shutdown $sock, $how;
                        }
                        last;
                    }
                    my $delay = $next->{delay_before} // $middle_delay;
                    sleep $delay if $delay;
                    $wbuf = $next->{value} // '';
                    $woff = 0;
                }
            }
        }

        if (vec($rout, $fd, 1)) {
            my $n = sysread $sock, my $buf, 4096;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# Split a raw response into an HTTP::Response, the raw header text, and
# whatever bytes follow the response (the next pipelined response).
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $left;

    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $code = undef;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $data = $res->content // '';
        my $decoded = '';
        my $pos = 0;
        while (1) {
            pos($data) = $pos;
            if ($data =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = substr $data, pos($data) if pos($data) < length $data;
                last;
            }
            pos($data) = $pos;
            if ($data =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                my $size = hex $1;
                my $at = pos $data;
                if (length($data) - $at < $size) {
                    Test::More->builder->no_ending(1);
                    fail("$name - invalid chunked data received "
                         . "(not enough octets for the data section)");
                    return;
                }
                $decoded .= substr $data, $at, $size;
                $at += $size;
                if (substr($data, $at, 2) ne "\r\n") {
                    Test::More->builder->no_ending(1);
                    fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
                $pos = $at + 2;
                next;
            }
            Test::More->builder->no_ending(1);
            if ($pos < length $data) {
                fail("$name - invalid chunked body received: " . substr($data, $pos));
            } else {
                fail("$name - no last chunk found - $data");
            }
            return;
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $data = $res->content // '';
        if (length $data < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($data) . "\n" unless $head_req;
        } elsif (length $data > $len) {
            $left = substr $data, $len;
            $res->content(substr $data, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

#----------------------------------------------------------------------------
# Running one repetition of a block.
#----------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $i (0 .. $#$reqs) {
        my ($raw_resp, $head_req);
        if ($dry_run) {
            $raw_resp = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw_resp, $head_req) = send_request($reqs->[$i],
                $block->raw_request_middle_delay, $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        # A pipelined answer holds several responses: check them in turn.
        while (1) {
            $raw_resp //= '';
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    (my $shown = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/ge;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$shown\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array);
            }

            # Logs are checked after every request but the last one here;
            # the last one is checked below, after --- wait.
            if ($n || $req_idx < @$reqs - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    unless defined $block->ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep $block->wait if $block->wait;

    # --- stap needs systemtap (TEST_NGINX_USE_STAP), which the fallback
    # never has: the real module skips one test in that case.
    if ($block->{stap}) {
        SKIP: {
            skip("$name - stap_out - tests skipped due to env TEST_NGINX_USE_STAP is not set", 1);
        }
    }

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        unless defined $block->ignore_response;
}

#----------------------------------------------------------------------------
# Checks.  Each one is one Test::More assertion (skipped in dry-run mode).
#----------------------------------------------------------------------------

# With several requests, expectations must be arrays indexed by request.
sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if $req_idx != 0;
        return $value->[0];
    }
    return $value;
}

sub check_error_code {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    SKIP: {
        skip("$name - tests skipped due to $dry_run", 1) if $dry_run;

        if (defined $block->error_code_like) {
            my $pat = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
            like($got, qr/$pat/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($got,
                get_indexed_value($name, $block->error_code, $req_idx, $need_array),
                "$name - status code ok");
        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        SKIP: {
            skip("$name - raw_response_headers_like - tests skipped due to $dry_run", 1)
                if $dry_run;
            my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                        $req_idx, $need_array);
            like($raw_headers // '', qr/$pat/s, "$name - raw resp headers like");
        }
    }

    if (defined $block->raw_response_headers_unlike) {
        SKIP: {
            skip("$name - raw_response_headers_unlike - tests skipped due to $dry_run", 1)
                if $dry_run;
            my $pat = get_indexed_value($name, $block->raw_response_headers_unlike,
                                        $req_idx, $need_array);
            unlike($raw_headers // '', qr/$pat/s, "$name - raw resp headers unlike");
        }
    }
}

# "Name: value" lines in order; a later line for the same name replaces the
# earlier one (the real module keeps them in a hash).  "! Name" => undef.
sub header_expectations {
    my ($text) = @_;
    my (@order, %val);
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $v);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $v) = split /\s*:\s*/, $line, 2;
            $v = '' unless defined $v;
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return map { [$_, $val{$_}] } @order;
}

# --- response_headers: exact values (several same-name headers are joined
# with ", ", as HTTP::Headers does); "! Name" means the header is absent.
# --- response_headers_like: the value must match ^pattern$.  Only one of
# the two sections is used, like in the real module.
sub check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $spec = get_indexed_value($name, $block->response_headers, $req_idx, $need_array);
        for my $pair (header_expectations($spec)) {
            my ($key, $val) = @$pair;
            if (!defined $val) {
                SKIP: {
                    skip("$name - response_headers - tests skipped due to $dry_run", 1)
                        if $dry_run;
                    unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                           "$name - header $key not present in the raw headers");
                }
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;

            SKIP: {
                skip("$name - response_headers - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $spec = get_indexed_value($name, $block->response_headers_like, $req_idx, $need_array);
        for my $pair (header_expectations($spec)) {
            my ($key, $pat) = @$pair;
            $pat //= '';
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            SKIP: {
                skip("$name - response_headers_like - tests skipped due to $dry_run", 1)
                    if $dry_run;
                like($actual, qr/^$pat$/, "$name - header $key like ok");
            }
        }
    }
}

sub run_body_filter {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;

    return $filter->($content) if ref $filter eq 'CODE';
    bail_out("$name - the --- response_body_filters section only supports "
             . "subroutine reference values and string values") if ref $filter;

    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f->($content);
}

# --- response_body_filters: transform the actual body before comparing.
sub transform_response_body {
    my ($block, $res, $req_idx) = @_;
    return unless defined $res;
    my $content = $res->content;
    return unless defined $content;

    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $list = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        # one list of filters per request
        for my $elem (@$filters) {
            bail_out("$name - the --- response_body_filters two-dimensional "
                     . "array only be like [[uc], [lc]] not [[uc], lc]")
                if ref $elem ne 'ARRAY';
        }
        $list = $filters->[$req_idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") unless defined $list;
    }

    for my $f (ref $list eq 'ARRAY' ? @$list : ($list)) {
        $content = run_body_filter($block, $f, $content);
    }
    $res->content($content);
}

# --- response_body (exact; or a qr// via eval) / --- response_body_like /
# --- response_body_unlike (unanchored pattern, /s).
sub check_response_body {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
        $content =~ s/^Connection: TE, close\r\n//gm;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if ($block->response_body_eval) {
            diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        my $desc = "$name - response_body - response is expected "
                   . "(repeated req $repeated_req_idx, req $req_idx)";
        SKIP: {
            skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                like($content, $expected, "$name - response_body - like "
                     . "(repeated req $repeated_req_idx, req $req_idx)");
            } elsif ($NoLongString) {
                Test::Base::is($content, $expected, $desc);
            } else {
                Test::LongString::is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pats = $type eq 'like' ? $block->response_body_like
                                   : $block->response_body_unlike;
        my $pat = get_indexed_value($name, $pats, $req_idx, $need_array);
        if (!ref $pat) {
            $pat =~ s/\$ServerPort\b/$ServerPort/g;
            $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $summary = trim($content) // '';

        SKIP: {
            skip("$name - response_body_$type - tests skipped due to $dry_run", 1)
                if $dry_run;
            my $desc = "$name - response_body_$type - response is expected ($summary)";
            if ($type eq 'like') {
                like($content, qr/$pat/s, $desc);
            } else {
                unlike($content, qr/$pat/s, $desc);
            }
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, $dry_run);
    }
}

# Log patterns: text (one substring per line), a qr//, or an array of both.
sub pattern_list {
    my ($pats) = @_;
    return [] unless defined $pats;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [ @$pats ];
}

sub line_matches {
    my ($line, $pat) = @_;
    return $line =~ $pat if ref $pat eq 'Regexp';
    return index($line, $pat) >= 0;
}

sub value_contains {
    my ($val, $needle) = @_;
    return 0 unless defined $val;
    return scalar grep { defined && index("$_", $needle) >= 0 }
                  (ref $val eq 'ARRAY' ? @$val : ($val));
}

sub fmt_str {
    my ($str) = @_;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

# Every pattern must match some line: one pass/fail per pattern.
sub expect_patterns {
    my (%a) = @_;
    my ($name, $section, $file, $lines, $dry_run, $suffix) =
        @a{qw(name section file lines dry_run suffix)};

    my @pending = @{ $a{patterns} };
    for my $line (@$lines) {
        for my $pat (@pending) {
            next unless defined $pat;
            next unless line_matches($line, $pat);
            SKIP: {
                skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
                pass("$name - pattern \"$pat\" matches a line in $file$suffix");
            }
            undef $pat;
        }
    }
    for my $pat (grep { defined } @pending) {
        SKIP: {
            skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
            fail("$name - pattern \"$pat\" should match a line in $file$suffix");
        }
    }
}

# No pattern may match any line: one pass per clean pattern, one fail per
# offending line.
sub reject_patterns {
    my (%a) = @_;
    my ($name, $section, $file, $lines, $dry_run, $suffix) =
        @a{qw(name section file lines dry_run suffix)};
    my @pats = grep { defined } @{ $a{patterns} };

    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@pats) {
            next unless line_matches($line, $pat);
            # A second hit on the same pattern breaks the plan count;
            # that is a failure anyway.
            Test::More->builder->no_ending(1) if $found{$pat}++;
            SKIP: {
                skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
                my @more = @$lines[$i + 1 .. min($i + 9, $#$lines)];
                fail("$name - pattern \"" . fmt_str($pat) . "\" should not match "
                     . "any line in $file but matches line \"" . fmt_str($line)
                     . "\"$suffix\n" . join('', @more));
            }
        }
    }
    for my $pat (@pats) {
        next if $found{$pat};
        SKIP: {
            skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
            pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a line in $file$suffix");
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";

    # --- grep_error_log / --- grep_error_log_out
    my $grep_pat = $block->grep_error_log;
    if (ref $grep_pat eq 'ARRAY') {
        $grep_pat = $grep_pat->[$repeated_req_idx];
    }
    if (!defined $block->grep_error_log && defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }
    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$repeated_req_idx] if ref $expected eq 'ARRAY';

        SKIP: {
            skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                my $m;
                if (ref $grep_pat eq 'Regexp') {
                    $m = $& if $line =~ $grep_pat;
                } elsif ((my $at = index $line, $grep_pat) >= 0) {
                    $m = $grep_pat;
                }
                $matched .= "$m\n" if defined $m && $m !~ /\n/;
            }
            my $desc = "$name - grep_error_log_out$suffix";
            if (ref $expected eq 'Regexp') {
                like($matched, $expected, $desc);
            } elsif ($NoLongString) {
                Test::More::is($matched, $expected, $desc);
            } else {
                Test::LongString::is_string($matched, $expected, $desc);
            }
        }
    }

    my %warn_about = map { $_ => 1 } qw(alert crit emerg);
    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next unless defined $pats;
        for my $level (keys %warn_about) {
            delete $warn_about{$level} if value_contains($pats, "[$level");
        }
    }

    if (defined $block->error_log) {
        $lines ||= error_log_data();
        expect_patterns(name => $name, section => 'error_log', file => 'error.log',
                        lines => $lines, dry_run => $dry_run, suffix => $suffix,
                        patterns => pattern_list($block->error_log));
    }

    if (defined $block->no_error_log) {
        $lines ||= error_log_data();
        reject_patterns(name => $name, section => 'no_error_log', file => 'error.log',
                        lines => $lines, dry_run => $dry_run, suffix => $suffix,
                        patterns => pattern_list($block->no_error_log));
    }

    return if $dry_run;

    # Loud messages nobody asked about are worth a warning on the console.
    $lines ||= error_log_data();
    for my $line (@$lines) {
        for my $level (sort keys %warn_about) {
            warn "WARNING: $name - " . fmt_str($line) . "\n" if $line =~ /\[$level\]/;
        }
    }

    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            (my $l = $line) =~ s/\s+$//;
            fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $suffix = " (req $repeated_req_idx)";
    my $lines;

    if (defined $block->access_log) {
        $lines ||= access_log_data();
        expect_patterns(name => $name, section => 'access_log', file => 'access.log',
                        lines => $lines, dry_run => $dry_run, suffix => $suffix,
                        patterns => pattern_list($block->access_log));
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        reject_patterns(name => $name, section => 'no_access_log', file => 'access.log',
                        lines => $lines, dry_run => $dry_run, suffix => $suffix,
                        patterns => pattern_list($block->no_access_log));
    }
}

# Called (by Test::Nginx::Util) once the nginx of a block has been stopped:
# what it logged while shutting down.
sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $reason = $dry_run ? 'dry_run' : 0;
    my $lines = error_log_data();

    if (defined $block->no_shutdown_error_log) {
        reject_patterns(name => $name, section => 'no_shutdown_error_log',
                        file => 'error.log', lines => $lines, dry_run => $reason,
                        suffix => '', patterns => pattern_list($block->no_shutdown_error_log));
    }
    if (defined $block->shutdown_error_log) {
        expect_patterns(name => $name, section => 'shutdown_error_log',
                        file => 'error.log', lines => $lines, dry_run => $reason,
                        suffix => '', patterns => pattern_list($block->shutdown_error_log));
    }

    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*? failed\.$/) {
            Test::More->builder->no_ending(1);
            (my $l = $line) =~ s/\s+$//;
            fail("$name - $l");
        }
    }
}

1;
__END__

=encoding utf-8

=head1 NAME

Test::Nginx::Socket - the project's fallback implementation of OpenResty's
Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';

    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello
    --- no_error_log
    [error]

Run the suite with C<t/run-tests>; it uses the real Test::Nginx when it is
installed and this module (from F<t/lib>) otherwise.

=head1 DESCRIPTION

A from-scratch re-implementation of the subset of OpenResty's
Test::Nginx::Socket that this project's tests use, for machines where the
real module cannot be installed.  Test files must not depend on anything
that only this fallback offers: they have to run unchanged under the real
module too.

Per block (in shuffled order unless C<no_shuffle()>): the previous nginx is
stopped (QUIT), F<t/servroot> (C<TEST_NGINX_SERVROOT>) is recreated, so
F<logs/error.log> only holds this block's lines, C<--- user_files> are
written, F<conf/nginx.conf> is generated and nginx is started with
C<-p servroot/ -c conf/nginx.conf> (plus C<-e logs/error.log> on nginx
E<gt>= 1.19.5, so that start-up errors land in F<error.log> even with a
binary built with C<--error-log-path=stderr>).  Then the request(s) are sent
C<repeat_each()> times and checked.  nginx is stopped at the end of the file
(unless C<TEST_NGINX_NO_CLEAN>).

=head2 Sections

C<config>, C<http_config>, C<main_config>, C<post_main_config>,
C<server_name>, C<log_level>, C<error_log_file>, C<user_files>, C<init>,
C<request> (string, C<eval> array of requests, or arrays of packets with
C<delay_before>), C<request_eval>, C<raw_request>, C<pipelined_requests>,
C<more_headers> (string or array), C<raw_request_middle_delay>,
C<timeout>, C<abort>, C<shutdown>, C<wait>, C<ignore_response>,
C<http09>, C<server_addr_for_client>, C<error_code>, C<error_code_like>,
C<response_headers> (C<! Name> = absent), C<response_headers_like>
(anchored C<^...$>), C<raw_response_headers_like>/C<_unlike>,
C<response_body>, C<response_body_eval>, C<response_body_like>/C<_unlike>
(not anchored, C</s>), C<response_body_filters>, C<charset>,
C<error_log>, C<no_error_log>, C<grep_error_log>/C<grep_error_log_out>,
C<access_log>, C<no_access_log>, C<shutdown_error_log>,
C<no_shutdown_error_log>, C<must_die>, C<tcp_listen>, C<tcp_reply>,
C<tcp_reply_delay>, C<tcp_query>, C<tcp_query_len>, C<tcp_no_close>,
C<tcp_shutdown>, C<udp_listen>, C<udp_reply>, C<udp_reply_delay>,
C<udp_query>, C<skip_nginx>, C<skip_nginx2>, C<skip_eval>,
C<skip_openssl>, C<todo>, C<todo_nginx>, C<no_check_leak> (ignored),
C<stap> (always one skipped test, as without systemtap), and Test::Base's
C<ONLY>, C<SKIP>, C<LAST> and filters.

=head2 Environment

C<TEST_NGINX_BINARY>, C<TEST_NGINX_SERVER_PORT> / C<TEST_NGINX_PORT> /
C<TEST_NGINX_CLIENT_PORT>, C<TEST_NGINX_SERVROOT>, C<TEST_NGINX_LOAD_MODULES>
(C<load_module> lines at the top of F<nginx.conf>), C<TEST_NGINX_LOG_LEVEL>,
C<TEST_NGINX_MASTER_PROCESS>, C<TEST_NGINX_USE_HUP> (master on; nginx is
restarted, not reloaded), C<TEST_NGINX_USE_VALGRIND>, C<TEST_NGINX_NO_SHUFFLE>,
C<TEST_NGINX_NO_CLEAN>, C<TEST_NGINX_TIMEOUT>, C<TEST_NGINX_SLEEP>,
C<TEST_NGINX_RANDOMIZE>, C<TEST_NGINX_ERROR_LOG>, C<TEST_NGINX_EVENT_TYPE>,
C<TEST_NGINX_POSTPONE_OUTPUT>, C<TEST_NGINX_WORKER_USER>,
C<TEST_NGINX_FORCE_RESTART_ON_TEST>, C<TEST_NGINX_IGNORE_MISSING_DIRECTIVES>,
C<TEST_NGINX_NO_NGINX_MANAGER>, C<TEST_NGINX_VERBOSE>; C<$TEST_NGINX_*>
(and C<$TEST_NGINX_RAND_PORT_N>) are expanded in the config sections and
in user files.

=head2 Valgrind

With C<TEST_NGINX_USE_VALGRIND> nginx runs in the foreground under
C<valgrind -q> (memcheck, full leak check, C<valgrind.suppress> when
present, plus built-in suppressions for the allocations stock nginx never
frees at exit) and is stopped after every block; a valgrind report (in
F<logs/valgrind.log>) or valgrind's error exit code fails the block.

=head2 Not supported

HTTP/2 and HTTP/3 (C<--- http2>, C<--- http3>, C<TEST_NGINX_USE_HTTP2/3>:
bail out), the check-leak and benchmark modes, systemtap, C<--- curl>,
and real HUP reloads.

=cut
