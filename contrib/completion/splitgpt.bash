# bash completion for splitgpt(1).
#
# Install as /usr/share/bash-completion/completions/splitgpt, or source it
# from ~/.bashrc.  Completes every option; the values of --format and
# --endpoint; file names after -o, --stats, --joblog and -H @.  splitgpt takes no operands: input
# comes on standard input.

_splitgpt()
{
	local line cur prev bcur strip i
	local -a w cand
	COMPREPLY=()

	# Split the line ourselves, on white space only: bash would also
	# split "--format=re" at "=" and "@file" at "@".
	line=${COMP_LINE:0:COMP_POINT}
	read -r -a w <<<"$line"
	if [[ -z $line || $line == *[[:space:]] ]]; then
		cur=
		prev=${w[${#w[@]} - 1]}
	else
		cur=${w[${#w[@]} - 1]}
		prev=
		((${#w[@]} > 1)) && prev=${w[${#w[@]} - 2]}
	fi

	# --name=value: complete the value of --name.
	local eq=
	if [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		eq=$prev=
		cur=${cur#*=}
	fi

	case $prev in
	--format)
		cand=($(compgen -W 'record content' -- "$cur"))
		;;
	--endpoint)
		cand=($(compgen -W '/v1/chat/completions /v1/completions
		    /v1/embeddings /v1/responses' -- "$cur"))
		;;
	--api-key-file | --cacert)
		local IFS=$'\n'
		cand=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		;;
	-H | --header)
		if [[ $cur == @* ]]; then
			local IFS=$'\n'
			cand=($(compgen -f -- "${cur#@}"))
			cand=("${cand[@]/#/@}")
			compopt -o filenames 2>/dev/null
		fi
		;;
	-o | --output | --stats | --joblog | --cache)
		local IFS=$'\n'
		cand=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
		;;
	-P | --jobs | -m | --model | --system | --max-tokens | --temperature | \
	-d | --body | --base-url | --connect-timeout | --timeout | \
	--idle-timeout | \
	--max-time | --retries | --hedge | --backoff-max | --max-retry-wait | \
	--halt-after | --rpm | --tpm | --max-line-length | --max-response-size | \
	--max-depth | --max-pending | --max-buffer | --price-in | --price-out | \
	--price-cached-in | --max-cost)
		# A value with no finite list: nothing to offer.
		;;
	*)
		if [[ $cur == -* ]]; then
			cand=($(compgen -W '-P --jobs -m --model --system
			    --max-tokens --temperature -d --body --endpoint --text
			    --keep-blank
			    --format --base-url -H --header --api-key-file --cacert
			    --insecure --connect-timeout
			    --timeout --stream --idle-timeout --max-time
			    --retries --hedge --backoff-max
			    --max-retry-wait --halt-after --rpm --tpm --max-line-length
			    --max-response-size --max-depth --max-pending
			    --max-buffer --allow-duplicate-ids -o --output
			    --resume --dry-run --emit-requests --cache
			    --no-cache-write --progress
			    --no-progress --stats --joblog --price-in --price-out
			    --price-cached-in --max-cost
			    -q --quiet -v --verbose -h --help
			    -V --version' -- "$cur"))
		fi
		;;
	esac

	# Bash replaces only its own current word, the part of ours after
	# the last COMP_WORDBREAKS character: drop what comes before it.
	bcur=${COMP_WORDS[COMP_CWORD]}
	strip=$eq$cur
	strip=${strip%"$bcur"}
	for i in "${!cand[@]}"; do
		cand[i]=$eq${cand[i]}
		COMPREPLY[i]=${cand[i]#"$strip"}
	done
	return 0
}
complete -F _splitgpt splitgpt
