# The scale-out recipe (contrib/scale-out/splitgpt-parallel.sh) over real
# ssh: an sshd of the test's own, bound to 127.0.0.1 on a free port with
# its own host key and authorised key, and two "hosts" that are names for
# it.  GNU parallel runs splitgpt on each through ssh; the key reaches the
# remote splitgpt as the README says, with --api-key-file, never in argv.
. tests/lib.sh

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
for c in parallel ssh ssh-keygen; do
	command -v "$c" >/dev/null || skip_all "$c is not installed"
done
[ -x "$SSHD" ] || skip_all "sshd is not installed (openssh-server)"

# The mock demands the test's key: a line that got through was sent with
# the key file's key by a splitgpt started over ssh.
mock_start --require-key "$OPENAI_API_KEY"
SO=$TOP/contrib/scale-out/splitgpt-parallel.sh

# sshd: run as this user (root in CI), keys and config in $T.
mkdir -p "$T/ssh" && chmod 700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host" </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/id" </dev/null
cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"
chmod 600 "$T/ssh/authorized_keys"
[ "$(id -u)" != 0 ] || mkdir -p /run/sshd	# privilege separation
port=
for p in $(awk 'BEGIN { srand(); for (i = 0; i < 20; i++)
    print 20000 + int(rand() * 30000) }'); do
	cat >"$T/ssh/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $p
HostKey $T/ssh/host
AuthorizedKeysFile $T/ssh/authorized_keys
PidFile $T/ssh/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
MaxStartups 50
MaxSessions 50
CFG
	"$SSHD" -D -e -f "$T/ssh/sshd_config" 2>>"$T/sshd.log" &
	spid=$!
	_pids="$_pids $spid"
	wait_for 50 0.1 "grep -q 'listening on 127.0.0.1 port $p' '$T/sshd.log' || ! kill -0 $spid 2>/dev/null"
	if grep -q "listening on 127.0.0.1 port $p" "$T/sshd.log"; then
		port=$p
		break
	fi
done
if [ -z "$port" ]; then
	diag "$(tail -5 "$T/sshd.log")"
	skip_all "sshd would not start here (see its log above)"
fi
cat >"$T/ssh/config" <<CFG
Host sg-a sg-b
	HostName 127.0.0.1
	Port $port
	User $(id -un)
	IdentityFile $T/ssh/id
	IdentitiesOnly yes
	BatchMode yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	LogLevel ERROR
	ConnectTimeout 10
CFG
SSH="ssh -F $T/ssh/config"
check "ssh to the test's sshd works" timeout 20 $SSH sg-a true

# The key, in a file at the same path on every "host" (mode 600).
printf '%s\n' "$OPENAI_API_KEY" >"$T/key"
chmod 600 "$T/key"
awk 'BEGIN { for (i = 1; i <= 120; i++)
    printf "{\"custom_id\":\"q-%d\",\"prompt\":\"s-%d\"}\n", i, i }' >"$T/in"

OPENAI_BASE_URL=$MOCK_URL
PARALLEL="--ssh '$SSH' --joblog $T/joblog"
export OPENAI_BASE_URL PARALLEL
# Only the key file carries the key to the remote side.
env -u OPENAI_API_KEY timeout -k 5 120 "$SO" -S 1/sg-a,1/sg-b -a "$T/in" \
    --block 600 -- -q -P 4 --api-key-file "$T/key" \
    >"$T/out" 2>"$T/err"
is "$?" 0 "over ssh: exit 0"
is "$(jq -r '[.custom_id, .response.status_code,
    .response.body.choices[0].message.content] | @tsv' "$T/out" |
    awk -F'\t' '$1 != "q-" NR || $2 != 200 || $3 != "echo: s-" NR { bad++ }
    END { print NR, bad + 0 }')" "120 0" \
    "over ssh: 120 records, each its own line's answer, in input order"
is "$(mock_stats .max_sent)" 1 "over ssh: no line was sent twice"
is "$(mock_stats '.by_status["401"] // 0')" 0 \
    "over ssh: the key reached every remote splitgpt (no 401)"
hosts=$(awk -F'\t' 'NR > 1 { print $2 }' "$T/joblog" | sort -u | tr '\n' ' ')
is "$hosts" "sg-a sg-b " "over ssh: both hosts ran blocks ($(($(wc -l <"$T/joblog") - 1)) blocks)"
check "over ssh: the key is on no command line parallel ran" \
    sh -c "! grep -qF '$OPENAI_API_KEY' '$T/joblog'"
done_testing
