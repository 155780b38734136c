# test_completion.sh: the bash completion of pacto (contrib/pacto.bash-completion),
# loaded in a real bash and asked as bash asks it (COMP_WORDS, COMP_CWORD).
# What it proves: it registers for `pacto`; it offers exactly the commands
# `pacto --help` lists, the subcommands `pacto treaty --help` lists, and for
# each of them exactly the options its own --help names (so a new command or
# option left out of the completion fails here); values of options and
# operands complete to directories, files or keywords.
. "$PACTO_TOP/tests/integration/lib.sh"

COMPLETION="$TOP/contrib/pacto.bash-completion"

# comp WORD...: what the completion offers for the last WORD, sorted, one a line.
comp() {
	bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_pacto pacto "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" | sed '/^$/d' | sort
}

# same WHAT EXPECTED_FILE WORD...: ok when the completion of WORD... is exactly the file's lines.
same() {
	what=$1 want=$2
	shift 2
	comp "$@" >"$SCRATCH/got"
	if diff "$want" "$SCRATCH/got" >"$SCRATCH/diff"; then ok "$what"; else not_ok "$what"; sed 's/^/# /' "$SCRATCH/diff"; fi
}

# options_of ARGS...: the long options `pacto ARGS --help` names, and --help.
options_of() {
	{ "$BUILD/pacto" "$@" --help | grep -o -- '--[a-z0-9][a-z0-9-]*'; echo --help; } | sort -u
}

check "sourcing it registers _pacto for pacto" \
	sh -c "bash -c '. \"$COMPLETION\"; complete -p pacto' | grep -qx 'complete -F _pacto pacto'"

"$BUILD/pacto" --help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' | sort >"$SCRATCH/commands"
check "pacto --help lists commands to compare with" [ "$(wc -l <"$SCRATCH/commands")" -ge 10 ]
same "the first word completes to exactly the commands of pacto --help" "$SCRATCH/commands" pacto ""
same "after --state-dir DIR too" "$SCRATCH/commands" pacto --state-dir /tmp ""
printf 'sanction\nsanctions\n' >"$SCRATCH/want"
same "'sanc' completes to sanction and sanctions" "$SCRATCH/want" pacto sanc
options_of >"$SCRATCH/want"
same "'--' completes to the global options of pacto --help" "$SCRATCH/want" pacto --

while read -r cmd; do
	[ "$cmd" = treaty ] && continue
	options_of "$cmd" >"$SCRATCH/want"
	same "pacto $cmd --: exactly the options of pacto $cmd --help" "$SCRATCH/want" pacto "$cmd" --
done <"$SCRATCH/commands"

"$BUILD/pacto" treaty --help | sed -n '/^subcommands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' | sort >"$SCRATCH/subs"
check "pacto treaty --help lists subcommands" [ "$(wc -l <"$SCRATCH/subs")" -ge 8 ]
{ cat "$SCRATCH/subs"; echo --help; } | sort >"$SCRATCH/want"
same "pacto treaty completes to exactly its subcommands" "$SCRATCH/want" pacto treaty ""
while read -r sub; do
	options_of treaty "$sub" >"$SCRATCH/want"
	if [ "$sub" = set ]; then   # --NAME VALUE: the rule names of its usage
		"$BUILD/pacto" treaty set --help | sed -n 's/^ *NAME: //p' | tr -d ' ' | tr ',' '\n' |
			tr _ - | sed 's/^/--/' >>"$SCRATCH/want"
		grep -v -x -- '--NAME' "$SCRATCH/want" | sort -u >"$SCRATCH/want.s" && mv "$SCRATCH/want.s" "$SCRATCH/want"
	fi
	same "pacto treaty $sub --: exactly the options of its --help" "$SCRATCH/want" pacto treaty "$sub" --
done <"$SCRATCH/subs"

# Values and operands.
printf 'check\nshow\n' >"$SCRATCH/want"
same "pacto rules completes check and show" "$SCRATCH/want" pacto rules ""
same "also after an option with its value" "$SCRATCH/want" pacto rules --rules /etc ""
: >"$SCRATCH/want"
same "and nothing after the subcommand" "$SCRATCH/want" pacto rules check ""
same "free-text values offer nothing (--for)" "$SCRATCH/want" pacto sanction 192.0.2.1 --for ""
printf 'quorum\n' >"$SCRATCH/want"
same "pacto treaty set q completes the rule name" "$SCRATCH/want" pacto treaty set q
mkdir -p "$SCRATCH/dir one" "$SCRATCH/dir two"
: >"$SCRATCH/dir one/auth.log"
: >"$SCRATCH/dir one/auth.log.1"
printf '%s\n' "$SCRATCH/dir one" "$SCRATCH/dir two" >"$SCRATCH/want"
same "--state-dir completes directories, names with spaces whole" "$SCRATCH/want" pacto --state-dir "$SCRATCH/dir"
printf '%s\n' "$SCRATCH/dir one/auth.log" "$SCRATCH/dir one/auth.log.1" >"$SCRATCH/want"
same "replay completes file operands" "$SCRATCH/want" pacto replay --json "$SCRATCH/dir one/a"
same "keygen --out completes file names" "$SCRATCH/want" pacto keygen --out "$SCRATCH/dir one/a"
same "treaty sign --key completes file names" "$SCRATCH/want" pacto treaty sign --key "$SCRATCH/dir one/auth"
