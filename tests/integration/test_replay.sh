# replay.sh: black-box tests of `pacto replay` on generated logs (checked
# against the generator's ground truth), on every input form, and on bad
# command lines and rule files.
. "$PACTO_TOP/tests/integration/lib.sh"
cd "$SCRATCH" || exit 1

# sanctions.jsonl -> "KEY COUNT D1,D2,..." lines sorted by key, like the truth file.
summarize() {
	jq -r '[.address, .duration_s] | @tsv' "$1" |
		awk -F'\t' '{n[$1]++; d[$1] = d[$1] (d[$1] == "" ? "" : ",") $2}
			END {for (k in n) print k, n[k], d[k]}' | LC_ALL=C sort
}

# 1. The generated log: every expected sanction and no other.
"$GEN" --lines 300000 --seed 7 --out auth.log --truth truth.txt 2>/dev/null
grep -v '^#' truth.txt | LC_ALL=C sort >want.txt
"$PACTO" replay --json auth.log >got.jsonl 2>summary.txt
summarize got.jsonl >got.txt
if [ -s want.txt ] && cmp -s want.txt got.txt; then
	ok "replay of a 300k-line generated log finds exactly the $(wc -l <want.txt) expected sanctions"
else
	not_ok "replay of a generated log matches its ground truth"
	diff want.txt got.txt | head -20 | sed 's/^/# /'
fi

innocents=$(sed -n 's/^# innocent //p' truth.txt)
framed=0
for a in $innocents; do grep -q "\"address\":\"$a\"" got.jsonl && framed=$((framed + 1)); done
check "none of the $(echo "$innocents" | wc -w) innocents in the truth file is sanctioned" \
	[ -n "$innocents" -a "$framed" -eq 0 ]

# 1b. Threads change only the speed: one, two and five scanning threads give
# the same sanctions, byte for byte, and the same counts.
"$PACTO" replay --json --threads 1 auth.log >t1.jsonl 2>t1.err
"$PACTO" replay --json --threads 2 auth.log >t2.jsonl 2>t2.err
"$PACTO" replay --json --threads 5 auth.log >t5.jsonl 2>t5.err
counts() { sed -E 's/, [0-9.]+ s, [0-9]+ lines\/s$//' "$1"; }
check "--threads 1, 2 and 5 give the same sanctions" sh -c 'cmp -s t1.jsonl t2.jsonl && cmp -s t1.jsonl t5.jsonl && [ -s t1.jsonl ]'
counts t1.err >c1.txt
counts t5.err >c5.txt
check "and the same summary counts" sh -c 'cmp -s c1.txt c5.txt && grep -q "lines read" c1.txt'

# 1c. A regular file is read through a mapping, a pipe through read(): the
# same bytes give the same sanctions and the same counts either way, on one
# thread and through the scan pool. (A pipe, not `- <auth.log`: stdin
# redirected from a file is a regular file, and is mapped too.)
for t in 1 2; do
	"$PACTO" replay --json --year 2026 --threads $t auth.log >mapped$t.jsonl 2>mapped$t.err
	cat auth.log | "$PACTO" replay --json --year 2026 --threads $t - >piped$t.jsonl 2>piped$t.err
	counts mapped$t.err >cm$t.txt
	counts piped$t.err >cp$t.txt
	check "a mapped file and the same bytes through a pipe give the same sanctions and counts (--threads $t)" \
		sh -c "cmp -s mapped$t.jsonl piped$t.jsonl && cmp -s cm$t.txt cp$t.txt && [ -s mapped$t.jsonl ]"
done

# 2. Every JSON object has the documented fields with the right types.
check "each JSON sanction has address, scenario, attempts, first_seen, last_seen, duration_s" \
	jq 'select((.address|type) != "string" or (.scenario|type) != "string" or
		(.attempts|type) != "number" or (.first_seen|type) != "string" or
		(.last_seen|type) != "string" or (.duration_s|type) != "number") | halt_error(1)' got.jsonl

# 3. The summary on stderr.
check "the summary gives lines read, matched, sanctions and lines per second" \
	grep -Eq '^pacto replay: [0-9]+ lines read, [0-9]+ matched, [0-9]+ failures counted, [0-9]+ sanctions, [0-9.]+ s, [0-9]+ lines/s$' summary.txt

# 4. Text output: one line per sanction, the same ones.
"$PACTO" replay auth.log >got.txt 2>/dev/null
check "text output has one line per sanction" [ "$(grep -c ' sanction ' got.txt)" -eq "$(wc -l <got.jsonl)" ]

# 5. The same log in RFC 3339 form, and from stdin: the same sanctions at the same times.
"$GEN" --lines 300000 --seed 7 --format rfc3339 --out auth3339.log --truth truth3339.txt 2>/dev/null
"$PACTO" replay --json - <auth3339.log >got3339.jsonl 2>/dev/null
check "classic syslog (across a year boundary) and RFC 3339 give the same sanctions at the same times" \
	cmp -s got.jsonl got3339.jsonl
check "the classic log crosses from 2025 into 2026" sh -c \
	"grep -q '\"time\":\"2025-12-31' got.jsonl && grep -q '\"time\":\"2026-01-01' got.jsonl"

# 6. --explain shows every counted line of one attacker, with the line itself.
attacker=$(head -n 1 want.txt | cut -d' ' -f1)
"$PACTO" replay --explain "$attacker" auth.log >explain.txt 2>/dev/null
counted=$(grep -c ': counted' explain.txt)
check "--explain $attacker shows its counted lines ($counted) and the log text" \
	sh -c "[ $counted -ge 5 ] && grep -q '^    | ' explain.txt && grep -q 'sanctioned' explain.txt"

# 6b. --explain quotes attacker text safely: a user name with a byte that is
# not UTF-8 and a terminal escape (sshd -E and the journal keep them raw).
for i in 1 2 3; do
	printf 'Nov 27 10:00:0%s h sshd[1]: Failed password for \377\033[2J from 198.51.100.7 port 22 ssh2\n' "$i"
done >nonutf.log
"$PACTO" replay --year 2026 --explain 198.51.100.7 nonutf.log >explain-raw.txt 2>/dev/null
check "--explain writes the line's escape and stray byte as \\x1b, \\xff (no raw ESC)" sh -c \
	"[ \$(grep -c 'for .xff.x1b.2J from' explain-raw.txt) -eq 3 ] && ! grep -q \"\$(printf '\\033')\" explain-raw.txt"
"$PACTO" replay --year 2026 --json --explain 198.51.100.7 nonutf.log >explain-raw.jsonl 2>/dev/null
check "--explain --json keeps every trace of a line that is not UTF-8 (3 of 3)" sh -c \
	"[ \$(jq -r 'select(.verdict == \"counted\") | .line' explain-raw.jsonl | grep -c 'xff') -eq 3 ]"

# 7. journalctl -o json input.
t=1795737600000000
for i in 1 2 3 4 5; do
	printf '{"__REALTIME_TIMESTAMP":"%s","_PID":"%s","SYSLOG_IDENTIFIER":"sshd","_HOSTNAME":"h","MESSAGE":"Failed password for root from 198.51.100.44 port 4%s ssh2"}\n' \
		$((t + i * 1000000)) $((100 + i)) $i
done >journal.json
"$PACTO" replay --json journal.json >j.jsonl 2>/dev/null
check "journalctl -o json lines are read with their own time" \
	sh -c "jq -e 'select(.address == \"198.51.100.44\" and .time == \"2026-11-27T00:00:05Z\")' j.jsonl >/dev/null"

# 7a. Syslog lines, then journal JSON lines, then syslog again: the JSON
# part is read in order whatever the threads.
{ head -n 20000 auth.log; cat journal.json; tail -n 20000 auth.log; } >mixed.log
"$PACTO" replay --json --threads 1 mixed.log >m1.jsonl 2>/dev/null
"$PACTO" replay --json --threads 3 mixed.log >m3.jsonl 2>/dev/null
check "a log mixing syslog and journal JSON lines gives the same sanctions on 1 and 3 threads" \
	sh -c 'cmp -s m1.jsonl m3.jsonl && grep -q 198.51.100.44 m3.jsonl'

# 7a''. The same log with CR LF endings, which is framed line by line, not
# in blocks: the journal JSON lines are still read in their place.
sed 's/$/\r/' mixed.log >mixed-crlf.log
"$PACTO" replay --json --threads 1 mixed-crlf.log >mc1.jsonl 2>/dev/null
"$PACTO" replay --json --threads 3 mixed-crlf.log >mc3.jsonl 2>/dev/null
check "the mixed log with CR LF endings: the same sanctions on 1 and 3 threads as with LF" \
	sh -c 'cmp -s mc1.jsonl mc3.jsonl && cmp -s mc1.jsonl m1.jsonl'

# 7a'. With threads, whole LF lines are framed by the scanning threads: the
# same counts (lines read, oversized, journal lines) as one thread, with
# oversized lines, stray CRs, lines of one byte and a last line without LF.
{ head -n 30000 auth.log; head -c 9000 /dev/zero | tr '\0' x; echo; cat journal.json
  head -n 3000 auth.log | sed 's/$/\r/'; yes z | head -n 50000; tail -n 30000 auth.log
  printf 'no newline at the end'; } >edges.log
"$PACTO" replay --json --threads 1 edges.log >x1.jsonl 2>x1.err
"$PACTO" replay --json --threads 2 edges.log >x2.jsonl 2>x2.err
counts x1.err >xc1.txt
counts x2.err >xc2.txt
check "a log with oversized, CR-ended and one-byte lines: same sanctions and counts on 1 and 2 threads" \
	sh -c 'cmp -s x1.jsonl x2.jsonl && cmp -s xc1.txt xc2.txt && grep -q "1 oversized" xc1.txt && [ -s x1.jsonl ]'

# 7b. journalctl -o export input (text fields), read with its own times.
for i in 1 2 3 4 5; do
	printf '__CURSOR=s=%s\n__REALTIME_TIMESTAMP=%s\n_PID=%s\nSYSLOG_IDENTIFIER=sshd\nMESSAGE=Invalid user u%s from 2001:db8:5:6::%s port 4%s\n\n' \
		$i $((t + i * 1000000)) $((200 + i)) $i $i $i
done >journal.export
"$PACTO" replay --json journal.export >e.jsonl 2>/dev/null
check "journalctl -o export entries are read, pending failures counted at the end" \
	sh -c "jq -e 'select(.address == \"2001:db8:5:6::/64\" and .time == \"2026-11-27T00:00:05Z\")' e.jsonl >/dev/null"

# 8. Bad rules, bad options, missing files: clear errors and sysexits codes.
printf 'scenario: x\npatterns:\n  - name: p\n    effect: attempt\n    regex: "(?<addr>x"\n' >bad.yaml
expect_exit 78 "a bad rule file is refused with exit 78" "$PACTO" replay --rules bad.yaml auth.log
check "the error names the file, line, key and pattern" grep -q '^bad.yaml:5: regex: missing closing parenthesis.*(?<addr>x' "$SCRATCH/err"
# A pattern that carries a terminal escape (YAML's \e) is quoted with it
# written out, never sent raw to the user's terminal.
printf 'scenario: x\npatterns:\n  - name: p\n    effect: attempt\n    regex: "(?<addr>\\e[2J"\n' >esc.yaml
expect_exit 78 "a rule file whose pattern holds an escape is refused" "$PACTO" replay --rules esc.yaml auth.log
check "and the error quotes it as \\x1b, with no raw ESC byte" sh -c \
	"grep -q 'esc.yaml:5: regex: .*(?<addr>\\\\x1b\\[2J' '$SCRATCH/err' && ! tr -d '\\n' <'$SCRATCH/err' | grep -q \"\$(printf '\\033')\""
expect_exit 64 "an unknown option is a usage error" "$PACTO" replay --frobnicate auth.log
expect_exit 64 "--ipv6-prefix 200 is refused" "$PACTO" replay --ipv6-prefix 200 auth.log
expect_exit 64 "--allow 192.0.2.1/24 is refused (bits past the prefix)" "$PACTO" replay --allow 192.0.2.1/24 auth.log
expect_exit 64 "--explain of a non-address is refused" "$PACTO" replay --explain foo auth.log
expect_exit 66 "a missing log file exits 66" "$PACTO" replay /nonexistent/auth.log
check "and says which file" grep -q '/nonexistent/auth.log: No such file' "$SCRATCH/err"
expect_exit 64 "an unknown command is a usage error" "$PACTO" frobnicate

# 9. --allow keeps a network out of every sanction.
first_v4=$(grep -v ':' want.txt | head -n 1 | cut -d' ' -f1)
"$PACTO" replay --json --allow "$first_v4/32" auth.log >allow.jsonl 2>/dev/null
kept=$(grep -c "\"address\":\"$first_v4\"" allow.jsonl)
removed=$(($(wc -l <got.jsonl) - $(wc -l <allow.jsonl)))
check "--allow $first_v4/32 removes exactly its sanctions" \
	[ "$kept" -eq 0 -a "$removed" -eq "$(grep "^$first_v4 " want.txt | cut -d' ' -f2)" ]

# 10. Lines no program could write: long lines and binary garbage are refused, not fatal.
head -c 3000000 /dev/urandom >garbage.log
awk 'BEGIN { s = ""; for (i = 0; i < 20000; i++) s = s "x"; print "Nov 27 00:00:00 h sshd[1]: Failed password for " s " from 198.51.100.9 port 1 ssh2" }' >>garbage.log
expect_exit 0 "random bytes and a 20 kB line are survived" "$PACTO" replay garbage.log
check "and the long line is counted as refused" grep -q 'oversized' "$SCRATCH/err"

# 11. OpenVPN's own --log file (captured, tests/corpus/openvpn/real.cases):
# lines without a syslog header, read by the stock openvpn scenario
# (headerless) at the local time written in each line.
awk '/^case: v4, TCP, the --log file/ {f = 1; next} f && /^case:/ {f = 0} f && NF && !/^(expect|#)/' \
	"$PACTO_TOP/tests/corpus/openvpn/real.cases" >openvpn.log
TZ=Europe/Paris "$PACTO" replay --json openvpn.log >ovpn.jsonl 2>/dev/null
check "OpenVPN's --log file: 192.0.2.2 sanctioned at the 5th failure, local time (07:55:58 in Paris is 06:55:58Z)" \
	sh -c "[ \$(wc -l <ovpn.jsonl) -eq 1 ] && jq -e 'select(.address == \"192.0.2.2\" and .scenario == \"openvpn\" and .time == \"2026-11-27T06:55:58Z\" and .attempts == 5)' ovpn.jsonl >/dev/null"

# 12. Memory: read on one thread, the log's pages already framed are given
# back as the read goes (the whole mapping, two of them, stayed resident:
# ~15 MB above an empty file's peak).
peak_kb() {
	/usr/bin/time -f %M -o "$SCRATCH/peak" "$BUILD/pacto" replay --threads 1 "$1" >/dev/null 2>&1 &&
		tail -n 1 "$SCRATCH/peak"
}
: >empty.log
empty_kb=$(peak_kb empty.log) big_kb=$(peak_kb auth.log)
check "replay --threads 1 of a $(($(wc -c <auth.log) >> 20)) MiB log peaks $((big_kb - empty_kb)) KiB above an empty file (< 6 MiB)" \
	[ -n "$empty_kb" -a -n "$big_kb" -a $((big_kb - empty_kb)) -lt 6144 ]

