# test_fail2ban_import.sh: `pacto import-fail2ban` measured on the real
# thing: every stock filter of Debian's fail2ban (/etc/fail2ban/filter.d)
# is converted, checked with `pacto rules check`, and run over fail2ban's
# own sample log for it (python3 fail2ban tests/files/logs/NAME), each line
# compared with the failJSON expectation fail2ban's test suite holds it to
# (tests/tools/f2bsample.c), under each filterOptions combination the
# sample names. Prints the whole table; fails when the counts fall below
# the floors reached (docs/fail2ban.md has the figures and the reasons).
. "$PACTO_TOP/tests/integration/lib.sh"
cd "$SCRATCH" || exit 1

FILTERS=/etc/fail2ban/filter.d
LOGS=/usr/lib/python3/dist-packages/fail2ban/tests/files/logs
# Floors: the figures reached when this test was written (docs/fail2ban.md).
MIN_FILTERS=89
MIN_CONVERTED=84
MIN_EXACT=66

if [ ! -d "$FILTERS" ] || [ ! -d "$LOGS" ]; then
	not_ok "Debian's fail2ban is installed (scripts/deps installs it)"
	exit 1
fi

sample() {
	"$BUILD/f2bsample" "$@"
	rc=$?
	[ "$rc" -eq 86 ] && echo "f2bsample $*" >>"$SCRATCH/sanitizer-reports"
	return "$rc"
}

# The filter option combinations a sample log is checked under, one JSON
# object a line ({}: the filter's defaults, for the lines before any
# filterOptions), without fail2ban's test.* keys.
combos() {
	echo '{}'
	if grep -q '^#\+ \?filterOptions:' "$1"; then
		sed -n 's/^#\+ \?filterOptions:\(.*\)$/\1/p' "$1" |
			jq -c 'if type == "array" then .[] else . end | with_entries(select(.key | startswith("test.") | not))' |
			grep -vx '{}' | sort -u
	fi
}

# Converts filter $1 with options JSON $2 into $3; prints how: full, partial or failed.
convert() {
	set -- "$1" "$2" "$3" $(echo "$2" | jq -r 'to_entries[] | "--set=\(.key)=\(.value)"')
	f=$1 out=$3
	shift 3
	if $PACTO import-fail2ban "$@" --out "$out" "$f" 2>conv.err; then
		echo full
	elif $PACTO import-fail2ban --partial "$@" --out "$out" "$f" 2>>conv.err; then
		echo partial
	else
		echo failed
	fi
}

total=0 full=0 partial=0 failed=0 with_sample=0 exact=0 rules_ok=0
checked_all=0 ok_all=0
printf '# %-24s %-8s %-6s %s\n' filter convert sample "checked ok missed extra wrong-host skipped / reason" >table.txt
for f in "$FILTERS"/*.conf; do
	grep -q '^failregex' "$f" || continue      # an include (common.conf ...), not a filter
	name=$(basename "$f" .conf)
	total=$((total + 1))
	how=$(convert "$f" '{}' "$name.yaml")
	case $how in
	full) full=$((full + 1)) ;;
	partial) partial=$((partial + 1)) ;;
	*) failed=$((failed + 1))
	   printf '# %-24s %-8s %-6s %s\n' "$name" failed - "$(grep -v 'not converted$' conv.err | head -1 | sed "s|$FILTERS/||")" >>table.txt
	   continue ;;
	esac
	$PACTO rules check --rules "$name.yaml" 2>/dev/null && rules_ok=$((rules_ok + 1))
	if [ ! -f "$LOGS/$name" ]; then
		printf '# %-24s %-8s %-6s\n' "$name" "$how" none >>table.txt
		continue
	fi
	with_sample=$((with_sample + 1))
	verdict=exact detail=""
	for opts in $(combos "$LOGS/$name"); do
		how2=$(convert "$f" "$opts" "$name.opts.yaml")
		if [ "$how2" = failed ]; then
			verdict=differs detail="$detail $opts: not converted;"
			continue
		fi
		set -- $(sample --opts "$opts" "$name.opts.yaml" "$LOGS/$name" | tail -1)
		if [ $# -ne 12 ]; then
			verdict=differs detail="$detail $opts: f2bsample failed;"
			continue
		fi
		[ "$4" -eq "$2" ] || verdict=differs
		checked_all=$((checked_all + $2)) ok_all=$((ok_all + $4))
		detail="$detail ${opts#\{\}}$2 $4 $6 $8 ${10} ${12};"
	done
	[ "$verdict" = exact ] && exact=$((exact + 1))
	printf '# %-24s %-8s %-6s %s\n' "$name" "$how" "$verdict" "$detail" >>table.txt
done
cat table.txt
echo "# filters: $total; converted: $((full + partial)) ($full whole, $partial leaving regexes out), failed: $failed"
echo "# with a sample log: $with_sample; matching fail2ban's expectations exactly: $exact"
echo "# sample lines checked: $checked_all, as fail2ban expects: $ok_all"

check "every stock filter is tried ($total >= $MIN_FILTERS)" [ "$total" -ge "$MIN_FILTERS" ]
check "at least $MIN_CONVERTED filters convert ($((full + partial)))" [ $((full + partial)) -ge "$MIN_CONVERTED" ]
check "every converted rule passes pacto rules check ($rules_ok of $((full + partial)))" \
	[ "$rules_ok" -eq $((full + partial)) ]
check "at least $MIN_EXACT filters match their sample log exactly as fail2ban expects ($exact)" \
	[ "$exact" -ge "$MIN_EXACT" ]

# An unconvertible construct is refused with the filter, its line and the construct.
printf '[Definition]\nfailregex = ^login failed for <F-USER>\\S+</F-USER>$\n' >nohost.conf
$PACTO import-fail2ban nohost.conf >/dev/null 2>err.txt
nohost_rc=$?
check "a failregex without <HOST> is refused, naming file:line and the construct (exit 65, got $nohost_rc)" \
	sh -c "[ $nohost_rc -eq 65 ] && grep -q 'nohost.conf:2: failregex #1: no <HOST> or <ADDR>' err.txt"
printf '[Definition]\nfailregex = ^a <HOST>\n[Init]\nmaxlines = 2\n' >multi.conf
$PACTO import-fail2ban multi.conf >/dev/null 2>err.txt
check "maxlines > 1 is refused with its line" grep -q 'multi.conf:4: maxlines = 2:' err.txt
