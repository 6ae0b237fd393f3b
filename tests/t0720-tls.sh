# TLS: certificates are checked unless --insecure, --cacert trusts a
# private CA, and a certificate that fails the check is final: an error
# record after one attempt, and the run goes on.
. tests/lib.sh
if ! command -v openssl >/dev/null; then
	skip_all "openssl is not installed"
fi

# A throwaway CA, and two server certificates it signs: NAME.pem and
# NAME.key for subjectAltName SAN.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
    -subj "/CN=splitgpt test CA" 2>"$T/openssl.err"
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=splitgpt $1" &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$2" \
	    >"$T/$1.ext" &&
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -set_serial "$3" -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem"
} 2>>"$T/openssl.err"
if ! cert ip IP:127.0.0.1 2 || ! cert other DNS:example.invalid 3; then
	echo "Bail out! openssl could not make the test certificates"
	cat "$T/openssl.err"
	exit 1
fi

# https_mock CERT: a mock serving HTTPS with CERT; MOCK_URL is https.
https_mock() {
	mock_start --tls-cert "$T/$1.pem" --tls-key "$T/$1.key"
	MOCK_ROOT="https://${MOCK_ROOT#http://}"
	MOCK_URL="$MOCK_ROOT/v1"
}
https_mock ip
prompts 3 t >"$T/in"
# What only a libcurl on OpenSSL does: splitgpt's shared CA parse, and
# OpenSSL's configuration read by the parent (splitgpt(1), BUGS).
case $("$SPLITGPT" -V) in
*"
libcurl/"*" OpenSSL/"*) openssl=1 ;;
*) openssl=0 ;;
esac

sg -P 1 --retries 3 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 1 "a private CA without --cacert: exit 1 (lines failed)"
is "$(jq -r .error.code "$T/out" | sort | uniq -c | tr -s ' ')" \
    " 3 connection_error" "... each line gets a connection_error record"
# libcurl's words, which depend on its TLS library: "SSL certificate
# problem: ..." (OpenSSL), "server certificate verification failed"
# (GnuTLS), "Peer's Certificate issuer is not recognized" (NSS)
check "... saying the certificate could not be checked" \
    grep -qi 'line 1: connection error: .*certificate' "$T/out"
is "$(jq -r .error.attempts "$T/out" | sort -u)" 1 \
    "... after one attempt: a certificate problem is not retried"

sg -P 1 --cacert "$T/ca.pem" <"$T/in" >"$T/out2" 2>"$T/err2"
is "$?" 0 "--cacert with the CA: exit 0"
check "... every line answered" in_order "$T/out2" 3 t
is "$(CURL_CA_BUNDLE="$T/ca.pem" mock_stats .requests)" 3 \
    "... and the lines that failed the check never reached the server"

# The parent parses the CA file once, before its first fork
# (worker_prefork), and the workers look issuers up in that parse for each
# TLS connection instead of letting libcurl parse the file for every one.
# So the file may go once the workers run: the first connections, and one
# made again after the server cut the first, still check the certificate.
if [ "$openssl" = 0 ]; then
	skip 5 "libcurl is not on OpenSSL: it reads the CA file each time"
else
	cp "$T/ca.pem" "$T/ca-once.pem"
	CURL_CA_BUNDLE="$T/ca.pem" mock_reset
	mkfifo "$T/fifo"
	exec 3<>"$T/fifo"	# a writer, so that opening it to read does not block
	sg_bg "$T/fifo" "$T/out8" -P 2 --backoff-max 0.2 --cacert "$T/ca-once.pem" 3>&-
	check "a run with --cacert has a worker" \
	    wait_for 100 0.05 '[ -n "$(workers "$SG_PID")" ]'
	rm -f "$T/ca-once.pem"
	{ cat "$T/in"; printf '{"prompt":"cut [[mock:reset:times=1]]"}\n'; } >&3
	exec 3>&-
	wait "$SG_WAIT"
	is "$?" 0 "... whose CA file may then go: exit 0"
	is "$(jq -r '"\(.response.status_code) \(.error)"' "$T/out8" | sort | uniq -c |
	    tr -s ' ')" " 4 200 null" "... every line answered"
	is "$(jq -r 'select(.custom_id == "line-4") | .response.body.choices[0].message.content' \
	    "$T/out8")" "echo: cut [[mock:reset:times=1]]" \
	    "... the cut one too, over a new connection"
	is "$(CURL_CA_BUNDLE="$T/ca.pem" mock_stats .requests)" 5 \
	    "... (5 requests for the 4 lines)"
fi
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	cat /etc/ssl/certs/ca-certificates.crt "$T/ca.pem" >"$T/bundle.pem"
	sg -P 3 --cacert "$T/bundle.pem" <"$T/in" >"$T/out9" 2>"$T/err9"
	is "$?" 0 "--cacert with the system bundle and the CA: exit 0"
	check "... every line answered" in_order "$T/out9" 3 t
else
	skip 2 "no system CA bundle"
fi

sg -P 1 --insecure <"$T/in" >"$T/out3" 2>"$T/err3"
is "$?" 0 "--insecure: exit 0"
check "... every line answered" in_order "$T/out3" 3 t
check "... with a warning" grep -q 'TLS certificates are not checked' "$T/err3"

# The parent initialises OpenSSL before it forks (worker_prefork), with
# the flags libcurl uses: openssl.cnf must still reach the workers.  This
# one allows only a TLS 1.3 suite the mock (GnuTLS) does not offer.
cat >"$T/openssl.cnf" <<'EOF'
openssl_conf = sg_conf
[sg_conf]
ssl_conf = sg_ssl
[sg_ssl]
system_default = sg_tls
[sg_tls]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_CCM_8_SHA256
EOF
if [ "$openssl" = 0 ]; then
	skip 2 "libcurl is not on OpenSSL: no openssl.cnf"
else
	(OPENSSL_CONF="$T/openssl.cnf" && export OPENSSL_CONF &&
	    sg -P 2 --retries 0 --cacert "$T/ca.pem" <"$T/in" >"$T/out7" 2>"$T/err7")
	is "$?" 1 "an openssl.cnf the server cannot meet: exit 1"
	is "$(jq -r .error.code "$T/out7" | sort | uniq -c | tr -s ' ')" \
	    " 3 connection_error" "... every worker used it: 3 connection_error records"
fi

printf '"v"\n' | sg -v --cacert "$T/ca.pem" >"$T/out4" 2>"$T/err4"
is "$?" 0 "-v over TLS: exit 0"
check "... shows the TLS connection" grep -q '^splitgpt: line 1: \* SSL' "$T/err4"
# With OpenSSL libcurl says "CAfile: none", since it reads no file; the
# parent read it, and -v says which ("found 1 certificates in FILE" with
# GnuTLS, "CAfile: FILE" with NSS)
check "... and the CA file it trusts" \
    grep -Eq "^splitgpt: line 1: \* .*(CAfile: | in )$T/ca.pem" "$T/err4"

mock_stop
https_mock other
sg -P 1 --retries 3 --cacert "$T/ca.pem" <"$T/in" >"$T/out5" 2>"$T/err5"
is "$?" 1 "a certificate for another name, with --cacert: exit 1"
is "$(jq -r .error.code "$T/out5" | sort | uniq -c | tr -s ' ')" \
    " 3 connection_error" "... each line gets a connection_error record"
# "... subject name ... target host name '127.0.0.1'" (OpenSSL, GnuTLS),
# "requested domain name does not match the server's certificate" (NSS)
check "... saying the name did not match" \
    grep -q "line 1: connection error: .*name.*match" "$T/out5"
is "$(jq -r .error.attempts "$T/out5" | sort -u)" 1 "... not retried"
sg -P 1 --insecure <"$T/in" >"$T/out6" 2>/dev/null
check "... --insecure does not check the name either" in_order "$T/out6" 3 t

# Two CAs with one name and different keys, the second of which signed
# the server's certificate: the workers look an issuer up by its name in
# the parsed file, so every certificate of that name must be a candidate,
# in whichever order the file has them.
mock_stop
for i in 1 2; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$T/twin$i.key" -out "$T/twin$i.pem" -days 2 \
	    -subj "/CN=splitgpt twin CA" 2>>"$T/openssl.err"
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/twin.key" -out "$T/twin.csr" -subj "/CN=splitgpt twin" \
    2>>"$T/openssl.err" &&
    openssl x509 -req -in "$T/twin.csr" -CA "$T/twin2.pem" \
    -CAkey "$T/twin2.key" -set_serial 4 -days 2 -extfile "$T/ip.ext" \
    -out "$T/twin.pem" 2>>"$T/openssl.err"
if [ ! -s "$T/twin2.pem" ] || [ ! -s "$T/twin.pem" ]; then
	echo "Bail out! openssl could not make the twin certificates"
	cat "$T/openssl.err"
	exit 1
fi
https_mock twin
cat "$T/twin1.pem" "$T/twin2.pem" >"$T/twins12.pem"
cat "$T/twin2.pem" "$T/twin1.pem" >"$T/twins21.pem"
for f in twins12 twins21; do
	sg -P 2 --retries 0 --cacert "$T/$f.pem" <"$T/in" >"$T/out-$f" 2>/dev/null
	is "$?" 0 "two CAs of one name in --cacert ($f): the one that signed is found"
done
sg -P 2 --retries 0 --cacert "$T/twin1.pem" <"$T/in" >"$T/out-twin1" 2>/dev/null
is "$(jq -r .error.code "$T/out-twin1" | sort | uniq -c | tr -s ' ')" \
    " 3 connection_error" "... and only the other one: refused"

check "the key is in no output or message" sh -c "! grep -qF -- \
    '$OPENAI_API_KEY' '$T'/out* '$T'/err*"

done_testing
