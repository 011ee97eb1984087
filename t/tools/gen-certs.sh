#!/bin/sh
# Generate throwaway TLS material for the tests with the openssl CLI.
#
# usage: t/tools/gen-certs.sh [-f] [DIR]      (DIR defaults to t/servroot-certs)
#   -f   regenerate even if the files are there and valid for another day
#
# Writes into DIR:
#   ca.pem, ca.key                     test CA ("trusted": point the module / clients at ca.pem)
#   server.pem, server.key             leaf for localhost, 127.0.0.1, ::1 signed by the test CA
#   server-chain.pem                   server.pem followed by ca.pem
#   other-ca.pem, other-ca.key         a second, unrelated CA (never trusted)
#   untrusted-server.pem, .key         leaf for localhost, 127.0.0.1, ::1 signed by other-ca
#   wronghost-server.pem, .key         leaf signed by the test CA, but only for wrong-host.invalid
#   expired-server.pem, .key           leaf signed by the test CA for the right names, expired in 2020
set -eu

force=0
if [ "${1:-}" = "-f" ]; then force=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${1:-$repo/t/servroot-certs}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

command -v openssl >/dev/null 2>&1 || { echo "gen-certs: openssl not found (apt-get install openssl)" >&2; exit 1; }

all="ca.pem ca.key server.pem server.key server-chain.pem other-ca.pem other-ca.key
untrusted-server.pem untrusted-server.key wronghost-server.pem wronghost-server.key
expired-server.pem expired-server.key"

if [ "$force" = 0 ]; then
    complete=1
    for f in $all; do [ -s "$dir/$f" ] || complete=0; done
    if [ "$complete" = 1 ] \
       && openssl x509 -in "$dir/ca.pem" -noout -checkend 86400 >/dev/null 2>&1 \
       && openssl x509 -in "$dir/server.pem" -noout -checkend 86400 >/dev/null 2>&1; then
        echo "gen-certs: $dir is up to date"
        exit 0
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

newkey() {  # $1 = key file
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
    chmod 600 "$1"
}

make_ca() {  # $1 = base name, $2 = CN
    newkey "$work/$1.key"
    openssl req -x509 -new -key "$work/$1.key" -sha256 -days 3650 \
        -subj "/O=ngx_http_oauth2_module tests/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$work/$1.pem"
}

leaf_ext() {  # $1 = SAN list
    cat <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
subjectAltName=$1
EOF
}

make_leaf() {  # $1 = base name, $2 = CA base name, $3 = CN, $4 = SAN list
    newkey "$work/$1.key"
    openssl req -new -key "$work/$1.key" -subj "/O=ngx_http_oauth2_module tests/CN=$3" -out "$work/$1.csr"
    leaf_ext "$4" > "$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" -CAkey "$work/$2.key" \
        -CAcreateserial -CAserial "$work/$2.srl" -sha256 -days 825 \
        -extfile "$work/$1.ext" -out "$work/$1.pem" 2>/dev/null
}

# An expired leaf needs explicit validity dates: `openssl ca` can set them.
make_expired_leaf() {  # $1 = base name, $2 = CA base name, $3 = CN, $4 = SAN list
    newkey "$work/$1.key"
    openssl req -new -key "$work/$1.key" -subj "/O=ngx_http_oauth2_module tests/CN=$3" -out "$work/$1.csr"
    mkdir -p "$work/ca-db"
    : > "$work/ca-db/index.txt"
    echo 1000 > "$work/ca-db/serial"
    cat > "$work/ca-db/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $work/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
commonName = supplied
[ leaf ]
$(leaf_ext "$4")
EOF
    openssl ca -batch -config "$work/ca-db/ca.cnf" -extensions leaf \
        -cert "$work/$2.pem" -keyfile "$work/$2.key" \
        -startdate 20200101000000Z -enddate 20200201000000Z \
        -in "$work/$1.csr" -out "$work/$1.full" >/dev/null 2>&1
    openssl x509 -in "$work/$1.full" -out "$work/$1.pem"
}

names="DNS:localhost,IP:127.0.0.1,IP:::1"

make_ca ca "ngx_http_oauth2_module test CA"
make_ca other-ca "unrelated test CA"
make_leaf server ca localhost "$names"
make_leaf untrusted-server other-ca localhost "$names"
make_leaf wronghost-server ca wrong-host.invalid "DNS:wrong-host.invalid"
make_expired_leaf expired-server ca localhost "$names"
cat "$work/server.pem" "$work/ca.pem" > "$work/server-chain.pem"

# sanity: the good leaf verifies against the CA, the untrusted one does not
openssl verify -CAfile "$work/ca.pem" "$work/server.pem" >/dev/null
if openssl verify -CAfile "$work/ca.pem" "$work/untrusted-server.pem" >/dev/null 2>&1; then
    echo "gen-certs: untrusted-server.pem unexpectedly verifies against ca.pem" >&2
    exit 1
fi

for f in $all; do
    cp "$work/$f" "$dir/$f"
done
chmod 644 "$dir"/*.pem
# the keys are throwaway; let nginx workers (nobody) and the tests read them
chmod 644 "$dir"/*.key
echo "gen-certs: wrote $dir"
