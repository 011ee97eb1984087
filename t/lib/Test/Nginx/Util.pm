package Test::Nginx::Util;

# The project's own fallback for OpenResty's Test::Nginx::Util.
#
# This file is only used when the real Test::Nginx (from CPAN) is not
# installed; t/run-tests decides which one is used.  It re-implements, from
# scratch, the parts of the real module's behaviour that our t/*.t files rely
# on: the global knobs (repeat_each(), workers(), log_level(), ...), the
# generated nginx.conf, the per-block nginx life cycle (start, stop, restart),
# the error-log bookkeeping and the optional valgrind mode.
#
# The request/response half (sending the requests of a block and checking the
# response, error.log, ...) lives in Test::Nginx::Socket, which plugs itself
# in through $RunTestHelper, $CheckErrorLog and $CheckShutdownErrorLog.

use strict;
use warnings;

use Exporter ();
our @ISA = ('Exporter');

use Config ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Scalar::Util qw(looks_like_number);
use Socket qw(SOCK_STREAM SOCK_DGRAM);
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests run_test bail_out add_cleanup_handler add_block_preprocessor
    repeat_each no_shuffle workers worker_connections log_level
    master_on master_off master_process_enabled use_hup
    no_root_location no_long_string check_accum_error_log no_nginx_manager
    env_to_nginx config_preamble timeout server_name server_addr
    server_port server_port_for_client server_root html_dir
    is_str is_running parse_time sleep_time verbose trim show_all_chars
    parse_headers get_pid_from_pidfile error_log_data access_log_data
    get_canon_version get_nginx_version setup_server_root write_config_file
    $NoLongString $ServerAddr $ServerName $ServerPort $ServerPortForClient
    $ServRoot $ConfFile $PidFile $NginxVersion $RepeatEach $NoNginxManager
    $RunTestHelper $CheckErrorLog $CheckShutdownErrorLog $FilterHttpConfig
    $UseValgrind $UseStap $CheckLeak $Benchmark $BenchmarkWarmup
);

#----------------------------------------------------------------------------
# Global settings.  Names and defaults follow the real Test::Nginx so that
# test files (and the TEST_NGINX_* environment) behave the same with both.
#----------------------------------------------------------------------------

our $Verbose            = $ENV{TEST_NGINX_VERBOSE};
our $RepeatEach         = 1;
our $NoShuffle          = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Workers            = 1;
our $WorkerConnections  = 64;
our $LogLevel           = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled      = 'on';
our $UseHup             = $ENV{TEST_NGINX_USE_HUP};
our $UseValgrind        = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules        = $ENV{TEST_NGINX_LOAD_MODULES};
our $EventType          = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput     = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $Timeout            = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep     = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoNginxManager     = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $CheckAccumErrLog   = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Randomize          = $ENV{TEST_NGINX_RANDOMIZE};
our $WorkerUser         = $ENV{TEST_NGINX_WORKER_USER};
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;

# Modes of the real module that this fallback does not implement.  They are
# exported (some test files look at them) but always stay false.
our $UseStap;
our $CheckLeak;
our $Benchmark;
our $BenchmarkWarmup;

our $NoLongString;
our $NoRootLocation = 0;
our $ConfigPreamble = '';
our $FilterHttpConfig;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

# Hooks filled in by Test::Nginx::Socket.
our $RunTestHelper;
our $CheckErrorLog;
our $CheckShutdownErrorLog;

# State of the current run.
our $NginxVersion;          # canonical form, e.g. 1.022001
our $NginxRawVersion;       # e.g. 1.22.1
our $OpenSSLVersion;
our $NginxBinary;           # resolved path of the nginx executable
our $ErrLogFilePos = 0;     # where the next error_log_data() starts reading
our $PrevBlock;             # for --- shutdown_error_log
our $PrevConfig;            # the --- config nginx currently runs with
our $NginxPid;              # pid of the nginx we started (from its pid file)
our $ChildPid;              # our direct child when nginx runs in foreground
our $TcpServerPid;
our $UdpServerPid;
our $InSubprocess;
our $TotalFailedConnects = 0;

# Forward declarations (so that prototypes are known before first use).
sub bail_out (@);
sub cleanup ();
sub kill_process ($$);
sub is_running ($);

if ($UseHup) {
    # Like the real one, the HUP mode needs the master process.  (We still
    # restart nginx for every block instead of reloading it; the results
    # of the checks are the same.)
    $MasterProcessEnabled = 'on';
}

if ($UseValgrind) {
    # nginx has to stay in the foreground so that valgrind can watch it.
    $DaemonEnabled = 'off';
}

for my $mode (qw(TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK TEST_NGINX_USE_STAP
                 TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3 TEST_NGINX_USE_RR))
{
    if ($ENV{$mode}) {
        warn "WARNING: $mode is not supported by the project's fallback "
             . "Test::Nginx; ignored.\n";
    }
}

# On Linux, become a "child subreaper": the daemonized nginx is then
# re-parented to this test process instead of PID 1, so that we can reap it
# once it has exited (some containers' PID 1 never reaps, leaving zombies).
if ($^O eq 'linux') {
    my $nr = eval {
        local $SIG{__WARN__} = sub {};
        package main;
        require 'syscall.ph';
        main::SYS_prctl();
    };
    syscall($nr, 36, 1, 0, 0, 0) if $nr;    # PR_SET_CHILD_SUBREAPER = 36
}

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

srand $$;

if ($Randomize) {
    $ServerPort = gen_rand_port(1000)
        or die "Cannot find an available listening port number.\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $ValgrindLogFile = File::Spec->catfile($LogDir, 'valgrind.log');

#----------------------------------------------------------------------------
# Small setters/getters exported to the test files.
#----------------------------------------------------------------------------

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle ()            { $NoShuffle = 1 }
sub no_root_location ()      { $NoRootLocation = 1 }
sub no_long_string ()        { $NoLongString = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub no_nginx_manager ()      { $NoNginxManager = 1 }
sub use_hup ()               { $UseHup = 1; $MasterProcessEnabled = 'on' }
sub master_on ()             { $MasterProcessEnabled = 'on' }
sub master_off ()            { $MasterProcessEnabled = 'off' }
sub config_preamble ($)      { $ConfigPreamble = shift }
sub sleep_time               { return $TestNginxSleep }
sub verbose                  { return $Verbose }
sub html_dir ()              { return $HtmlDir }
sub server_root ()           { return $ServRoot }

sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}

sub workers (@) {
    return $Workers unless @_;
    $Workers = shift;
}

sub worker_connections (@) {
    return $WorkerConnections unless @_;
    $WorkerConnections = shift;
}

sub log_level (@) {
    return $LogLevel unless @_;
    $LogLevel = shift;
}

sub timeout (@) {
    return $Timeout unless @_;
    $Timeout = shift;
}

sub server_name (@) {
    return $ServerName unless @_;
    $ServerName = shift;
}

sub server_addr (@) {
    return $ServerAddr unless @_;
    $ServerAddr = shift;
}

sub server_port (@) {
    return $ServerPort unless @_;
    $ServerPort = shift;
}

sub server_port_for_client (@) {
    return $ServerPortForClient unless @_;
    $ServerPortForClient = shift;
}

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            die "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

# Preprocessors added later run first, as in the real module.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

#----------------------------------------------------------------------------
# Generic helpers.
#----------------------------------------------------------------------------

# String comparison honouring no_long_string() and qr// expectations.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

# "1.5", "1.5s" and "300ms" are all accepted; the result is in seconds.
sub parse_time ($) {
    my $t = shift;
    return $t unless defined $t;
    if ($t =~ /^\s*([\d.]+)\s*ms\s*$/) {
        return $1 / 1000;
    }
    if ($t =~ /^\s*([\d.]+)\s*s?\s*$/) {
        return $1;
    }
    return $t;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\t/\\t/g;
    return $s;
}

# "Name: value" lines to a hash; "! Name" maps Name to undef (= must be
# absent).  Used for --- response_headers(_like).
sub parse_headers ($) {
    my $text = shift;
    my %headers;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
            next;
        }
        my ($key, $val) = split /\s*:\s*/, $line, 2;
        $headers{$key} = defined $val ? $val : '';
    }
    return \%headers;
}

sub get_canon_version (@) {
    return sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub canon_openssl_version {
    my ($maj, $min, $patch, $letter) = @_;
    my $v = get_canon_version($maj, $min, $patch);
    $v .= sprintf "%03d", ord($letter) - ord('a') if defined $letter;
    return $v;
}

# A process counts as running unless it is gone or a zombie.  Our own
# children (valgrind mode) are reaped here so that they do not linger.
our %ChildStatus;

sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid;
    my $r = waitpid($pid, WNOHANG);
    if ($r == $pid) {
        $ChildStatus{$pid} = $?;
        return 0;
    }
    return 0 unless kill 0, $pid;
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        close $fh;
        return 0 if $stat =~ /^\d+ \(.*\) [ZX] /s;
    }
    return 1;
}

# Only signal processes that are really "our" nginx: its command line must
# mention our server root (a stale pid file could name an unrelated process).
sub is_our_nginx ($) {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/cmdline" or return 1;   # no /proc: trust
    my $cmdline = do { local $/; <$fh> } // '';
    close $fh;
    return index($cmdline, $ServRoot) >= 0;
}

sub gen_rand_port {
    my ($tries, $used) = @_;
    $tries ||= 1000;
    $used  ||= {};
    for (1 .. $tries) {
        my $port = 1985 + int rand(65535 - 1985);
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr,
            LocalPort => $port,
            Proto     => 'tcp',
            ReuseAddr => 1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# Replace $TEST_NGINX_FOO by the environment value (bailing out when it is
# not set) and $TEST_NGINX_RAND_PORT_N by a free port, stable per block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);
                my $port = gen_rand_port(1000, \%used);
                bail_out("$name - Cannot find an available listening port number for $var.")
                    unless defined $port;
                $rand_ports->{$var} = $port;
            }
            $val = $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub find_nginx_binary {
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    if ($bin =~ m{/}) {
        return (-f $bin && -x _) ? $bin : undef;
    }
    my @dirs = grep { length } split /\Q$Config::Config{path_sep}\E/, ($ENV{PATH} // '');
    push @dirs, qw(/usr/sbin /usr/local/sbin /usr/local/nginx/sbin
                   /usr/local/openresty/nginx/sbin);
    for my $dir (@dirs) {
        my $path = File::Spec->catfile($dir, $bin);
        return $path if -f $path && -x _;
    }
    return undef;
}

sub get_nginx_version () {
    $NginxBinary ||= find_nginx_binary()
        or bail_out("Cannot find the nginx executable (set TEST_NGINX_BINARY "
                    . "or put nginx in PATH)");

    my $out = '';
    if (open my $fh, '-|') {
        $out = do { local $/; <$fh> } // '';
        close $fh;
    } else {
        open STDERR, '>&', \*STDOUT;
        { no warnings "exec"; exec { $NginxBinary } $NginxBinary, '-V'; }
        POSIX::_exit(127);
    }

    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}) {
        $OpenSSLVersion = canon_openssl_version($1, $2, $3, $4);
    }
    if ($out =~ m{(?:nginx|openresty)[^/\s]*/(\d+)\.(\d+)\.(\d+)}
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)})
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"$NginxBinary -V\": $out");
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> } // '';
    close $in;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub slurp_file {
    my $file = shift;
    open my $in, '<', $file or return undef;
    binmode $in;
    my $data = do { local $/; <$in> };
    close $in;
    return $data;
}

sub tail_of_file {
    my ($file, $n) = @_;
    my $data = slurp_file($file);
    return "(cannot read $file: $!)\n" unless defined $data;
    my @lines = split /^/m, $data;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

# The last lines of error.log worth reading: [debug] lines are left out
# (unless there is nothing else), they would drown the interesting ones.
sub error_log_summary {
    my ($n) = @_;
    my $data = slurp_file($ErrLogFile);
    return "(cannot read $ErrLogFile: $!)\n" unless defined $data;
    my @lines = grep { !/\[debug\]/ } split /^/m, $data;
    return tail_of_file($ErrLogFile, $n) unless @lines;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

# Lines of error.log written since the last call (or all of them with
# check_accum_error_log()).  The short sleep lets the log phase finish.
sub error_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

#----------------------------------------------------------------------------
# Server root and nginx.conf.
#----------------------------------------------------------------------------

sub setup_server_root {
    if (-d $ServRoot) {
        # Only remove what we create ourselves, so that a mistaken
        # TEST_NGINX_SERVROOT cannot wipe real data.
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    make_path($ServRoot);
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        -d $dir or mkdir $dir or bail_out("Failed to do mkdir $dir: $!");
    }
    write_file("$HtmlDir/index.html",
               '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print {$out} $data;
    close $out or bail_out("Can't write $path: $!");
}

# --- user_files: either text (">>> name [touch-date]" headers followed by
# the file body) or an eval'ed array of [name, body, date].  Relative names
# go into the html dir.
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name  = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+?))?\s*$/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{^(.*)/[^/]+$} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        write_file($path, expand_env_in_text($body, $name, $rand_ports));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - Failed to touch -t $date $path");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config      = expand_env_in_text($block->http_config, $name, $rand_ports) // '';
    my $main_config      = expand_env_in_text($block->main_config, $name, $rand_ports) // '';
    my $post_main_config = expand_env_in_text($block->post_main_config, $name, $rand_ports) // '';
    my $err_log_file     = $block->error_log_file || $ErrLogFile;
    my $server_name      = $block->server_name // $ServerName;
    $config //= '';

    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;

    my $extra_http = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput")
            unless $PostponeOutput =~ /^\d+$/;
        $extra_http = "    postpone_output $PostponeOutput;\n";
    }

    # load_module must come before anything that uses the module.
    my $load_modules = '';
    if ($LoadModules) {
        $load_modules = join '', map { "load_module $_;\n" }
                                 grep { length } split /\s+/, $LoadModules;
    }

    my $env_lines = '';
    for my $v (qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
                  LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
                  DYLD_FORCE_FLAT_NAMESPACE ASAN_OPTIONS), @EnvToNginx)
    {
        $env_lines .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    my $root_location = '';
    if (!$NoRootLocation) {
        $root_location = <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    my $events = "    accept_mutex off;\n    worker_connections  $WorkerConnections;\n";
    $events .= "    use $EventType;\n" if $EventType;

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    write_file($ConfFile, <<"_EOC_");
# Generated by the project's fallback Test::Nginx for:
# $name
$load_modules
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$env_lines
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;
$extra_http
$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
$events}

$user
_EOC_
}

#----------------------------------------------------------------------------
# Starting and stopping nginx.
#----------------------------------------------------------------------------

# nginx >= 1.19.5 has "-e": its start-up messages (e.g. "unknown directive"
# for --- must_die) then land in logs/error.log even when the binary was
# built with --error-log-path=stderr (like Debian's).
sub nginx_command {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    if (defined $NginxVersion && $NginxVersion >= 1.019005) {
        push @cmd, '-e', $ErrLogFile;
    }
    return @cmd;
}

# Allocations that stock nginx never frees when a single-process (master
# off) nginx exits; memcheck reports them as "definitely lost" on every run.
# They are suppressed so that only real problems (ours) fail a test.  The
# frames are matched exactly, so leaks from request processing or from a
# module's code still show up.
our $NginxCoreSuppressions = <<'_EOS_';
{
   nginx-core-pcre2-compile-context
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   obj:*libpcre2-8.so*
   fun:pcre2_compile_context_create_8
   fun:ngx_regex_compile
}
{
   nginx-core-set-environment
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
}
{
   nginx-core-event-process-init
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   fun:ngx_event_process_init
   fun:ngx_single_process_cycle
   fun:main
}
{
   nginx-core-event-process-init-stripped
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   obj:*nginx*
   fun:ngx_single_process_cycle
   fun:main
}
_EOS_

# TEST_NGINX_USE_VALGRIND=1 (any number) means memcheck with leak checks;
# any other value is taken as valgrind's options, as in the real module.
# valgrind.suppress in the current directory is used when present.
sub valgrind_command {
    my @opts;
    if ($UseValgrind =~ /^\d+$/) {
        @opts = ('--tool=memcheck', '--leak-check=full',
                 '--show-possibly-lost=no', '--errors-for-leak-kinds=definite',
                 '--num-callers=100', '--gen-suppressions=all');
        push @opts, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    } else {
        @opts = split ' ', $UseValgrind;
    }

    if (!grep { /^--tool=(?!memcheck)/ } @opts) {
        my $supp = File::Spec->catfile($LogDir, 'nginx-core.supp');
        write_file($supp, $NginxCoreSuppressions);
        push @opts, "--suppressions=$supp";
    }

    return ('valgrind', '-q', @opts, '--error-exitcode=99',
            "--log-file=$ValgrindLogFile");
}

# Run nginx in daemon mode and wait for the launcher to exit.  Returns the
# wait status.  stdout goes to /dev/null; without "-e" stderr is appended to
# error.log so that start-up errors can still be checked.
sub run_nginx_once {
    my @cmd = nginx_command();
    warn "running: @cmd\n" if $Verbose;
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        if (!grep { $_ eq '-e' } @cmd) {
            open STDERR, '>>', $ErrLogFile;
        }
        { no warnings "exec"; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# Wait (a little) for nginx to write its pid file and remember the pid.
sub wait_for_pid_file {
    my ($max_wait, $child) = @_;
    my $deadline = time + $max_wait;
    while (1) {
        my $pid = get_pid_from_pidfile('');
        return $pid if $pid && is_running($pid);
        return undef if time > $deadline;
        return undef if $child && !is_running($child);
        sleep 0.01;
    }
}

# Start nginx for a block.  Returns the "dry run" reason (only set when
# TEST_NGINX_IGNORE_MISSING_DIRECTIVES applies), bails out on failure.
sub start_nginx {
    my ($block) = @_;
    my $name = $block->name;

    if ($UseValgrind) {
        my @cmd = (valgrind_command(), nginx_command());
        warn "$name\n";
        my $pid = fork;
        bail_out("$name - fork() failed: $!") unless defined $pid;
        if ($pid == 0) {
            $InSubprocess = 1;
            setpgrp;
            open STDIN,  '<', '/dev/null';
            open STDOUT, '>', '/dev/null';
            { no warnings "exec"; exec { $cmd[0] } @cmd; }
            POSIX::_exit(127);
        }
        $ChildPid = $pid;
        $NginxPid = wait_for_pid_file(60, $pid);
        if (!$NginxPid) {
            startup_failure($name, "nginx under valgrind did not start");
        }
        sleep $TestNginxSleep;
        return undef;
    }

    my $deadline = time + 10;
    while (1) {
        my $log_size = -s $ErrLogFile || 0;
        my $status = run_nginx_once();
        if ($status == 0) {
            last;
        }
        my $new_log = substr(slurp_file($ErrLogFile) // '', $log_size);

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            && $new_log =~ /\[emerg\] .*?unknown directive "([^"]+)"/)
        {
            return "the lack of directive $1";
        }

        # The previous nginx (or a slow TIME_WAIT socket) may still hold
        # the port; everything else will not get better by retrying.
        if ($new_log =~ /Address already in use/ && time < $deadline) {
            sleep 0.2;
            next;
        }

        startup_failure($name, "Cannot start nginx (status code $status)");
    }

    $NginxPid = wait_for_pid_file(5);
    if (!$NginxPid) {
        startup_failure($name, "nginx started but wrote no pid file to $PidFile");
    }
    sleep $TestNginxSleep;
    return undef;
}

sub startup_failure {
    my ($name, $msg) = @_;
    Test::More::diag("$name - $msg\n"
        . "command: " . join(' ', nginx_command()) . "\n"
        . "nginx.conf: $ConfFile\n"
        . "error.log ($ErrLogFile), last non-debug lines:\n"
        . error_log_summary(30));
    if ($UseValgrind && -s $ValgrindLogFile) {
        Test::More::diag("valgrind log:\n" . tail_of_file($ValgrindLogFile, 60));
    }
    bail_out("$name - $msg (see $ErrLogFile)");
}

# Gracefully stop a process: QUIT, then TERM, then KILL.
sub kill_process ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);

    # Valgrind's leak check at exit can take a while.
    my $grace = $UseValgrind ? 30 : $Timeout;
    warn "sending QUIT signal to $pid\n" if $Verbose;
    kill SIGQUIT, $pid;
    my $deadline = time + $grace;
    while (is_running($pid) && time < $deadline) {
        sleep 0.02;
    }
    return unless is_running($pid);

    warn "$name - timeout when waiting for the process $pid to exit\n";
    for (1 .. 10) {
        kill SIGTERM, $pid;
        sleep 0.1;
        return unless is_running($pid);
    }

    warn "$name - WARNING: killing the process $pid with force\n";
    if (getpgrp($pid) == $pid) {
        kill SIGKILL, -$pid;
    } else {
        kill SIGKILL, $pid;
    }
    for (1 .. 50) {
        last unless is_running($pid);
        sleep 0.02;
    }
}

# Stop the nginx serving the previous block, if any.
sub stop_nginx {
    my ($name) = @_;
    my $pid = get_pid_from_pidfile($name) || $NginxPid;
    if ($pid && is_running($pid)) {
        if (is_our_nginx($pid)) {
            kill_process($pid, $name);
        } else {
            warn "WARNING: $PidFile names process $pid which is not our "
                 . "nginx; leaving it alone\n";
        }
    }
    if ($ChildPid) {
        # Our direct child (valgrind) exits by itself once nginx is gone,
        # possibly after a leak check; give it time before signalling it.
        my $deadline = time + ($UseValgrind ? 30 : $Timeout);
        while (is_running($ChildPid) && time < $deadline) {
            sleep 0.02;
        }
        kill_process($ChildPid, $name);
    }
    undef $NginxPid;
    unlink $PidFile if -f $PidFile && !is_running(get_pid_from_pidfile($name) // 0);
}

# In valgrind mode nginx is stopped after every block; valgrind reports
# (exit code 99 or anything in its log) fail the test.
sub stop_nginx_and_check_valgrind {
    my ($name) = @_;
    my $child = $ChildPid;
    stop_nginx($name);
    undef $ChildPid;

    my $status = defined $child ? $ChildStatus{$child} : undef;
    my $report = slurp_file($ValgrindLogFile) // '';
    if ((defined $status && WIFEXITED($status) && WEXITSTATUS($status) == 99)
        || $report =~ /\S/)
    {
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        Test::More::fail("$name - valgrind reported problems (see $ValgrindLogFile)");
        Test::More::diag($report) if $report =~ /\S/;
    }
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;
    return unless defined $block->shutdown_error_log
               || defined $block->no_shutdown_error_log;
    my $dry_run = ($UseHup || $ENV{TEST_NGINX_NO_CLEAN}) ? 1 : 0;
    $CheckShutdownErrorLog->($block, $dry_run) if $CheckShutdownErrorLog;
    undef $PrevBlock;
}

sub cleanup () {
    warn "cleaning up everything\n" if $Verbose;
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
    for my $pid ($UdpServerPid, $TcpServerPid) {
        kill_process($pid, 'cleanup') if defined $pid;
    }
    undef $UdpServerPid;
    undef $TcpServerPid;
}

#----------------------------------------------------------------------------
# Embedded TCP/UDP mock servers (--- tcp_listen / --- udp_listen).
#----------------------------------------------------------------------------

sub reply_list {
    my ($name, $reply, $query) = @_;
    if (ref $reply eq 'CODE') {
        $reply = $reply->($query);
    }
    return () unless defined $reply;
    return @$reply if ref $reply eq 'ARRAY';
    bail_out("$name - bad reply value") if ref $reply;
    return ($reply);
}

sub start_tcp_server {
    my ($block) = @_;
    my $name   = $block->name;
    my $target = $block->tcp_listen;
    my $reply  = $block->tcp_reply;

    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen is specified");
    }

    my $req_len = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $req_len) {
        $req_len //= length $block->tcp_query;
        (undef, $query_file) = File::Temp::tempfile(UNLINK => 1);
    }

    my $sock;
    for my $try (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(
                LocalHost => '127.0.0.1', LocalPort => $target,
                Proto => 'tcp', ReuseAddr => 1, Listen => 5);
        } elsif ($target =~ /\S+\.sock$/) {
            unlink $target if -e $target;
            $sock = IO::Socket::UNIX->new(
                Local => $target, Type => SOCK_STREAM, Listen => 5);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }
        last if $sock;
        sleep 0.2;
    }
    bail_out("$name - failed to create the tcp listening socket: $!") unless $sock;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        Test::More->builder->no_ending(1);
        my $client;
        until ($client = $sock->accept) { sleep $TestNginxSleep }

        my ($no_read, $no_write);
        if (defined(my $how = $block->tcp_shutdown)) {
            sleep parse_time($block->tcp_shutdown_delay) if $block->tcp_shutdown_delay;
            $client->shutdown($how);
            ($how == 0 || $how == 2) ? ($no_read = 1) : ($no_write = 1);
        }

        my $buf = '';
        unless ($no_read) {
            while (1) {
                my $chunk = '';
                my $ok = $client->recv($chunk, 4096);
                last if !defined $ok || $chunk eq '';
                $buf .= $chunk;
                if ($query_file) {
                    open my $out, '>', $query_file or die "$query_file: $!";
                    binmode $out;
                    print {$out} $buf;
                    close $out;
                }
                last if !$req_len || length($buf) >= $req_len;
            }
        }

        my $delay = parse_time($block->tcp_reply_delay);
        sleep $delay if $delay;

        unless ($no_write) {
            for my $r (reply_list($name, $reply, $buf)) {
                $client->send($r) // warn "WARNING: tcp server failed to send reply: $!\n";
            }
        }

        if (defined $block->tcp_no_close) {
            sleep 1 while 1;
        }
        $client->close;
        $sock->close;
        POSIX::_exit(0);
    }

    $TcpServerPid = $pid;
    return ($sock, $query_file);
}

sub start_udp_server {
    my ($block) = @_;
    my $name   = $block->name;
    my $target = $block->udp_listen;
    my $reply  = $block->udp_reply;

    bail_out("$name - no --- udp_reply specified but --- udp_listen is specified")
        unless defined $reply;

    my $query_file;
    (undef, $query_file) = File::Temp::tempfile(UNLINK => 1)
        if defined $block->udp_query;

    my ($sock, $uds_file);
    if ($target =~ /^\d+$/) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $target, Proto => 'udp',
                                      ReuseAddr => 1);
    } elsif ($target =~ /\S+\.sock$/) {
        unlink $target if -e $target;
        $sock = IO::Socket::UNIX->new(Local => $target, Type => SOCK_DGRAM);
        $uds_file = $target;
    } else {
        bail_out("$name - bad udp_listen target: $target");
    }
    bail_out("$name - failed to create the udp listening socket: $!") unless $sock;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        Test::More->builder->no_ending(1);
        my $buf = '';
        my $peer = $sock->recv($buf, 4096);
        warn "udp recv failed: $!\n" unless defined $peer;
        if ($query_file) {
            open my $out, '>', $query_file or die "$query_file: $!";
            binmode $out;
            print {$out} $buf;
            close $out;
        }
        my $delay = parse_time($block->udp_reply_delay);
        sleep $delay if $delay;
        for my $r (reply_list($name, $reply, $buf)) {
            $sock->send($r, 0, $peer)
                // warn "$name - udp server failed to send reply: $!\n";
        }
        POSIX::_exit(0);
    }

    $UdpServerPid = $pid;
    return ($sock, $query_file, $uds_file);
}

sub run_tcp_server_tests {
    my ($block, $sock, $query_file) = @_;
    return unless defined $sock;
    my $name = $block->name;
    my $buf = ($query_file && slurp_file($query_file)) // '';
    if (defined $block->tcp_query) {
        is_str($buf, $block->tcp_query, "$name - tcp_query ok");
    }
    if (defined $block->tcp_query_len) {
        Test::More::is(length($buf), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}

sub run_udp_server_tests {
    my ($block, $sock, $query_file) = @_;
    return unless defined $sock;
    my $name = $block->name;
    if (defined $block->udp_query) {
        my $buf = ($query_file && slurp_file($query_file)) // '';
        is_str($buf, $block->udp_query, "$name - udp_query ok");
    }
}

#----------------------------------------------------------------------------
# The driver.
#----------------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# Decide whether (and how many of) the block's checks are skipped/TODO,
# from --- skip_nginx, skip_nginx2, skip_eval, skip_openssl, todo.
sub skip_and_todo_info {
    my ($block) = @_;
    my $name = $block->name;
    my %info = (skip_reason => undef, todo_reason => undef);

    my $cmp = sub {
        my ($have, $op, $want) = @_;
        return 0 unless defined $have;
        return $op eq '<'  ? $have <  $want
             : $op eq '<=' ? $have <= $want
             : $op eq '>'  ? $have >  $want
             :               $have >= $want;
    };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $info{count} = $1;
            $info{skip_reason} = 'skip_eval';
            my $code = $2;
            my $res = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
            $info{skip} = 1 if $res;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $info{count} = $1;
        $info{skip_reason} = $6 || "nginx version $2 $3.$4.$5";
        my $want = get_canon_version($3, $4, $5);
        $info{skip} = 1 if (!defined $NginxVersion && $2 =~ /^</)
                           || $cmp->($NginxVersion, $2, $want);
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*
                     ([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $info{count} = $1;
        $info{skip_reason} = $11;
        my $first  = $cmp->($NginxVersion, $2, get_canon_version($3, $4, $5));
        my $second = $cmp->($NginxVersion, $7, get_canon_version($8, $9, $10));
        $info{skip} = 1 if !defined $NginxVersion
                           || ($6 eq 'or' ? ($first || $second)
                                          : ($first && $second));
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $info{count} = $1;
        $info{skip_reason} = $7 || (defined $OpenSSLVersion
                                    ? "OpenSSL version $2 $3.$4.$5" . ($6 // '')
                                    : "Not built with OpenSSL");
        my $want = canon_openssl_version($3, $4, $5, $6);
        $info{skip} = 1 if !defined $OpenSSLVersion
                           || $cmp->($OpenSSLVersion, $2, $want);
    }

    if (defined(my $spec = $block->todo_nginx)) {
        $spec =~ /^\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- todo_nginx spec: $spec");
        $info{todo_reason} = $5;
        $info{todo} = 1 if (!defined $NginxVersion && $1 =~ /^</)
                           || $cmp->($NginxVersion, $1, get_canon_version($2, $3, $4));
    }

    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        $info{todo} = 1;
        $info{count} = $1;
        $info{todo_reason} = $2;
    }

    $info{skip_reason} //= 'various reasons';
    $info{todo_reason} //= 'various reasons';
    return \%info;
}

sub failure_count {
    return scalar grep { !$_ } Test::More->builder->summary;
}

sub run_test ($) {
    my $block = shift;
    my $name  = $block->name;

    return if defined $block->SKIP;

    for my $s (qw(http2 http3)) {
        bail_out("$name - --- $s is not supported by the project's fallback Test::Nginx")
            if defined $block->$s;
    }

    my $failures_before = failure_count();

    my $rand_ports = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;

    my $must_die = $block->must_die;
    # Checking a server that must not even start under valgrind is moot.
    local $UseValgrind   = defined $must_die ? undef : $UseValgrind;
    local $DaemonEnabled = $UseValgrind ? 'off' : 'on';

    my $info = skip_and_todo_info($block);

    # Restart policy of the real module: a block without --- config reuses
    # the running nginx; otherwise nginx is restarted for every block (or,
    # with TEST_NGINX_FORCE_RESTART_ON_TEST=0, when the config changed).
    my $nginx_alive = ($NginxPid && is_running($NginxPid))
                      || ($ChildPid && is_running($ChildPid));
    my $should_start;
    if ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored")
            if defined $config;
        $should_start = 0;
    } elsif (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?")
            unless defined $PrevConfig;
        $should_start = !$nginx_alive;
        $config = $PrevConfig;
    } else {
        $should_start = $ForceRestartOnTest || !$nginx_alive
                        || $config ne $PrevConfig;
    }

    my $dry_run = 0;

    if ($should_start && !$info->{skip}) {
        $PrevConfig = $config;

        stop_nginx($name);
        check_prev_block_shutdown_error_log();

        setup_server_root();
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (defined $must_die) {
            run_must_die_block($block, $must_die);
            finish_block($block, $failures_before);
            return;
        }

        $dry_run = start_nginx($block) || 0;
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;

    for my $i (1 .. $RepeatEach) {
        warn "Run the test block $name ...\n" if $Verbose;

        my ($tcp_sock, $tcp_query_file);
        ($tcp_sock, $tcp_query_file) = start_tcp_server($block)
            if defined $block->tcp_listen;

        my ($udp_sock, $udp_query_file, $uds_file);
        ($udp_sock, $udp_query_file, $uds_file) = start_udp_server($block)
            if defined $block->udp_listen;

        write_user_files($block, $rand_ports) if $i > 1;

        if ($info->{skip} && defined $info->{count}) {
            SKIP: {
                Test::More::skip("$name - $info->{skip_reason}", $info->{count});
            }
        } elsif ($info->{todo}) {
            TODO: {
                Test::More::todo_skip("$name - $info->{todo_reason}",
                                      $info->{count} // 1);
            }
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
            run_tcp_server_tests($block, $tcp_sock, $tcp_query_file);
            run_udp_server_tests($block, $udp_sock, $udp_query_file);
        }

        if (defined $udp_sock) {
            kill_process($UdpServerPid, $name) if defined $UdpServerPid;
            undef $UdpServerPid;
            $udp_sock->close;
            unlink $uds_file if defined $uds_file;
        }
        if (defined $tcp_sock) {
            kill_process($TcpServerPid, $name) if defined $TcpServerPid;
            undef $TcpServerPid;
            $tcp_sock->close;
        }
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total
                or bail_out("Failed to append to $total: $!");
            print {$out} "\n=== $0 $name\n", slurp_file($ErrLogFile);
            close $out;
        }
    }

    if ($UseValgrind) {
        stop_nginx_and_check_valgrind($name);
    }

    finish_block($block, $failures_before);
}

# --- must_die: nginx has to fail to start; the exit code is compared when
# a number is given.  error_log / no_error_log then look at what nginx
# logged while refusing to start.
sub run_must_die_block {
    my ($block, $must_die) = @_;
    my $name = $block->name;

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my $status = run_nginx_once();
        my $exit_code = WIFEXITED($status) ? WEXITSTATUS($status) : undef;

        if ($status == -1 || (defined $exit_code && $exit_code == 127)) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
            my $pid = wait_for_pid_file(1);
            kill_process($pid, $name) if $pid && is_our_nginx($pid);
            unlink $PidFile;
        }
    }
}

# On failures, point at the generated config and show the log tail.
sub finish_block {
    my ($block, $failures_before) = @_;
    return if failure_count() <= $failures_before;
    Test::More::diag("nginx.conf: $ConfFile\n"
        . "error.log ($ErrLogFile), last non-debug lines:\n"
        . error_log_summary(20));
}

END {
    return if $InSubprocess;
    local $?;   # keep the test's exit status for Test::Builder

    cleanup();

    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        stop_nginx('END');
    }

    check_prev_block_shutdown_error_log();

    if ($Randomize && -d $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
