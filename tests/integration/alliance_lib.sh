# alliance_lib.sh: shared by the integration scripts that build an alliance
# (test_alliance_*.sh, test_nats_oversized.sh), sourced after lib.sh: the
# keys and the treaty. Conventions every function here relies on: the
# alliance is named west; a member's key pair is $SCRATCH/MEMBER.key and
# $SCRATCH/MEMBER.pub; the treaty is $TREATY.
TREATY="$SCRATCH/treaty.json"

# ---- Keys and treaty --------------------------------------------------------

# make_keys NAME...: a key pair for each NAME (a member, or a stranger such
# as mallory who signs what no treaty lists).
make_keys() {
	for key_name in "$@"; do
		$PACTO keygen --out "$SCRATCH/$key_name.key" >"$SCRATCH/$key_name.pub" 2>/dev/null || return 1
	done
}

# make_treaty MEMBER... [-- SETTING=VALUE...]: keys for every MEMBER, then
# $TREATY: alliance west with the members in that order, the settings
# (pacto treaty set: quorum=2, rate_per_min=6...), signed by every member.
# A MEMBER word may carry options of pacto treaty add-member after its id:
#   make_treaty "alpha --weight 2" bravo "charlie --protect 198.51.100.0/24" -- quorum=2
make_treaty() {
	for treaty_word in "$@"; do
		[ "$treaty_word" = -- ] && break
		make_keys "${treaty_word%% *}" || return 1
	done
	$PACTO treaty init --treaty "$TREATY" --name west >/dev/null || return 1
	treaty_settings=
	for treaty_word in "$@"; do
		if [ "$treaty_word" = -- ]; then
			treaty_settings=1
		elif [ -n "$treaty_settings" ]; then
			$PACTO treaty set --treaty "$TREATY" "${treaty_word%%=*}" "${treaty_word#*=}" >/dev/null || return 1
		else
			# Unquoted on purpose: the id, then its add-member options.
			# shellcheck disable=SC2086
			treaty_add_member $treaty_word || return 1
		fi
	done
	for treaty_word in "$@"; do
		[ "$treaty_word" = -- ] && break
		$PACTO treaty sign --treaty "$TREATY" --key "$SCRATCH/${treaty_word%% *}.key" >/dev/null || return 1
	done
}

# treaty_add_member MEMBER [ADD-MEMBER OPTION...]: adds MEMBER, with its
# public key, to $TREATY.
treaty_add_member() {
	treaty_member=$1
	shift
	$PACTO treaty add-member --treaty "$TREATY" --id "$treaty_member" \
		--key "$(cat "$SCRATCH/$treaty_member.pub")" "$@" >/dev/null
}

# treaty_without OUT MEMBER SIGNER...: OUT is $TREATY amended without
# MEMBER (an expulsion), signed by each SIGNER.
treaty_without() {
	cp "$TREATY" "$1" && $PACTO treaty remove-member --treaty "$1" --id "$2" >/dev/null || return 1
	treaty_out=$1
	shift 2
	for treaty_signer in "$@"; do
		$PACTO treaty sign --treaty "$treaty_out" --key "$SCRATCH/$treaty_signer.key" >/dev/null || return 1
	done
}
