package OAuth2Seal;

# Cookies for the Test::Nginx files, minted with t/tools/seal.js (an
# independent implementation of docs/session-format.md).  Not part of
# Test::Nginx: the .t files load it with "use lib 't/lib-oauth2'".

use strict;
use warnings;

use base 'Exporter';

our @EXPORT = qw(seal_session seal_plain seal_state $SECRET);

our $SECRET = '0123456789abcdef0123456789abcdef';

my $Root = $ENV{TEST_NGINX_ROOT} // '.';


# runs seal.js; returns its output without the final newline
sub run_seal {
    my @cmd = ('node', "$Root/t/tools/seal.js", @_);

    open my $fh, '-|', @cmd or die "seal.js: $!";
    my $out = do { local $/; <$fh> };
    close $fh or die "seal.js failed: @cmd\n";

    chomp $out;
    return $out;
}


# "NAME=value" (or chunks) of a session cookie; $json as seal.js takes it
# (session format 2: "email" is the verified address, claims keep their
# JSON types: strings, numbers, booleans, arrays of strings)
sub seal_session {
    my ($name, $json, $secret) = @_;

    return run_seal('seal', '--secret', $secret // $SECRET,
                    '--cookie', $name, '--json', $json);
}


# "NAME=value" of a session cookie sealing arbitrary plaintext bytes (hex),
# for the plaintexts the decoder must refuse
sub seal_plain {
    my ($name, $hex, $secret) = @_;

    return run_seal('seal', '--secret', $secret // $SECRET,
                    '--cookie', $name, '--plain-hex', $hex);
}


# "NAME=value" of a state cookie
sub seal_state {
    my ($name, $json, $secret) = @_;

    return run_seal('seal-state', '--secret', $secret // $SECRET,
                    '--cookie', $name, '--json', $json);
}


1;
