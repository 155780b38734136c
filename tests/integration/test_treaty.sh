# test_treaty.sh: `pacto keygen` and `pacto treaty` end to end: three members
# create keys, build and sign a treaty, amend it, and every bad command line
# gets a clear message and exit 64.
. "$PACTO_TOP/tests/integration/lib.sh"
cd "$SCRATCH" || exit 1
T="--treaty $SCRATCH/treaty.json"

# holds FILE FILTER: jq's FILTER is true on FILE. Quiet inside, so that a
# check can use it: a redirect after `check ...` would hide its ok / not ok.
holds() {
	jq -e "$2" "$1" >/dev/null
}

# 1. Keys.
for m in alice bob carol; do
	"$PACTO" keygen --out "$m.key" >"$m.out" 2>/dev/null
done
check "keygen writes FILE (0600) and FILE.pub, and prints the public key" sh -c \
	'[ "$(stat -c %a alice.key)" = 600 ] && cmp -s alice.out alice.key.pub && [ "$(wc -c <alice.key.pub)" -eq 45 ]'
expect_exit 1 "keygen refuses to overwrite a key" "$PACTO" keygen --out alice.key
check "and says so" grep -q 'alice.key: exists already; not overwritten' "$SCRATCH/err"

# 2. A treaty of three, signed by two: not in force, and the third is named.
expect_exit 0 "treaty init" "$PACTO" treaty init --name acme $T
expect_exit 1 "treaty init refuses to overwrite" "$PACTO" treaty init --name acme $T
"$PACTO" treaty add-member $T --id alice --key alice.key.pub --protect 192.0.2.0/24 --protect 2001:db8:a::/48 >add.out
check "add-member prints the new version and asks for signatures" grep -q 'now version 2; every member must sign it again' add.out
"$PACTO" treaty add-member $T --id bob --key "$(cat bob.key.pub)" --weight 2 >/dev/null
"$PACTO" treaty add-member $T --id carol --key carol.key.pub >/dev/null
"$PACTO" treaty sign $T --key alice.key >/dev/null
"$PACTO" treaty sign $T --key bob.key >/dev/null
expect_exit 1 "verify fails with two of three signatures" "$PACTO" treaty verify $T
check "and names the member who has not signed" grep -q 'not in force: not signed by carol$' "$SCRATCH/err"
"$PACTO" treaty sign $T --key carol.key >sign.out
check "the last signature says the treaty is in force" grep -q '3 of 3 members have signed: the treaty is in force' sign.out
expect_exit 0 "verify passes with every signature" "$PACTO" treaty verify $T

# 3. An amendment needs every signature again.
"$PACTO" treaty set $T quorum 2 >/dev/null
expect_exit 1 "after an amendment verify fails again" "$PACTO" treaty verify $T
check "naming all three" grep -q 'not signed by alice, bob, carol' "$SCRATCH/err"
"$PACTO" treaty set $T --max-duration 1d --burst 50 >/dev/null
check "two settings in one command make one new version" sh -c \
	"'$BUILD/pacto' treaty show $T --json | jq -e '.version == 6 and .max_duration_s == 86400 and .burst == 50' >/dev/null"
"$PACTO" keygen --out carol2.key >/dev/null 2>&1
"$PACTO" treaty set-key $T --id carol --key carol2.key.pub >/dev/null
for k in alice bob carol2; do "$PACTO" treaty sign $T --key $k.key >/dev/null; done
expect_exit 0 "after a key rotation the new key's signature counts" "$PACTO" treaty verify $T
expect_exit 1 "the old key can no longer sign" "$PACTO" treaty sign $T --key carol.key
check "and is told it is not a member's" grep -q 'is not a member' "$SCRATCH/err"

# 4. show --json parses and says who signed.
"$PACTO" treaty show $T --json >show.json
check "show --json is JSON with members, protected ranges and the verdict" \
	holds show.json '.alliance == "acme" and .in_force == true and (.members | length) == 3 and
		.members[0].protect == ["192.0.2.0/24", "2001:db8:a::/48"] and .members[1].weight == 2'
"$PACTO" treaty remove-member $T --id bob >/dev/null
"$PACTO" treaty show $T --json >show2.json
check "after remove-member: two members, none signed" \
	holds show2.json '(.members | length) == 2 and .in_force == false and .unsigned == ["alice", "carol"]'
"$PACTO" treaty show $T >show.txt
check "show as text" grep -q '^treaty acme, version 8: not in force (not signed by alice, carol)$' show.txt

# 5. A broken file is refused with file:line: key: message.
sed 's/"burst": 50/"burst": "fifty"/' treaty.json >bad.json
expect_exit 1 "a bad treaty file is refused" "$PACTO" treaty verify --treaty bad.json
check "with file:line: key: message" grep -q '^bad.json:[0-9]*: treaty.burst: not an integer$' "$SCRATCH/err"

# 6. Usage errors: a clear message each, exit 64.
expect_exit 64 "an unknown subcommand" "$PACTO" treaty frobnicate
check "is named" grep -q "unknown subcommand 'frobnicate'" "$SCRATCH/err"
expect_exit 64 "an unknown option" "$PACTO" treaty show --colour $T
check "is named" grep -q "unknown option '--colour'" "$SCRATCH/err"
expect_exit 64 "an option of another subcommand" "$PACTO" treaty verify --weight 2 $T
check "is named, not its value" grep -q "pacto treaty verify: option '--weight' does not apply here" "$SCRATCH/err"
expect_exit 64 "seventeen settings in one command" "$PACTO" treaty set $T $(for i in $(seq 17); do printf -- '--burst 9 '; done)
check "are refused with the limit" grep -q "at most 16 settings in one command" "$SCRATCH/err"
expect_exit 64 "a missing option value" "$PACTO" treaty add-member $T --id
check "is named" grep -q "option '--id' needs a value" "$SCRATCH/err"
expect_exit 64 "a bad CIDR" "$PACTO" treaty add-member $T --id dave --key bob.key.pub --protect 192.0.2.1/24
check "is explained" grep -q "'192.0.2.1/24' has bits set past its prefix length" "$SCRATCH/err"
expect_exit 64 "garbage as a CIDR" "$PACTO" treaty add-member $T --id dave --key bob.key.pub --protect nonsense
expect_exit 64 "a bad key" "$PACTO" treaty add-member $T --id dave --key AAAA
check "is explained" grep -q "'AAAA' is not a public key" "$SCRATCH/err"
expect_exit 64 "a bad weight" "$PACTO" treaty add-member $T --id dave --key bob.key.pub --weight 0
expect_exit 64 "a bad id" "$PACTO" treaty add-member $T --id 'da ve' --key bob.key.pub
expect_exit 64 "a bad number" "$PACTO" treaty set $T quorum two
check "is explained" grep -q "quorum: 'two' is not a whole number" "$SCRATCH/err"
expect_exit 64 "an out-of-range value" "$PACTO" treaty set $T widest_v4 2
check "gives the range" grep -q 'widest_v4: 2 is out of range (8..32)' "$SCRATCH/err"
expect_exit 64 "an unknown setting" "$PACTO" treaty set $T colour blue
long=abcdefghij-abcdefghij-abcdefghij-abcdefghij
expect_exit 64 "an unknown setting of 43 characters" "$PACTO" treaty set $T "$long" 1
check "is quoted whole (it was cut to 31)" grep -q "unknown setting '$long' (quorum" "$SCRATCH/err"
e=$(printf '\303\251')   # é, two bytes
expect_exit 64 "an unknown setting of 161 bytes" "$PACTO" treaty set $T "a$(for i in $(seq 80); do printf %s "$e"; done)" 1
check "is cut after 99 bytes, between two characters" \
	grep -q "unknown setting 'a$(for i in $(seq 49); do printf %s "$e"; done)\.\.\.' (quorum" "$SCRATCH/err"
expect_exit 64 "a duration over ten years" "$PACTO" treaty set $T max_duration 315360001
check "is out of range, as a shorter one past the bound is (it said 'not a duration')" \
	grep -q "max_duration: 315360001 is out of range (1..31622400 seconds)" "$SCRATCH/err"
expect_exit 64 "keygen without --out" "$PACTO" keygen
expect_exit 64 "init without --name" "$PACTO" treaty init --treaty new.json
expect_exit 64 "a bad alliance name" "$PACTO" treaty init --name 'a b' --treaty new.json
expect_exit 64 "an extra operand" "$PACTO" treaty verify extra $T
expect_exit 1 "a missing treaty file" "$PACTO" treaty verify --treaty /nonexistent/treaty.json
check "names the file" grep -q '/nonexistent/treaty.json: No such file' "$SCRATCH/err"
expect_exit 1 "a duplicate member" "$PACTO" treaty add-member $T --id alice --key bob.key.pub
chmod 640 alice.key
expect_exit 1 "a group-readable secret key is refused" "$PACTO" treaty sign $T --key alice.key
check "and says why" grep -q 'group or others have access' "$SCRATCH/err"
expect_exit 0 "treaty --help" "$PACTO" treaty --help

# 7. --json with paths that are not UTF-8 (a file name is any bytes): the
# path is written with \xHH escapes, not dropped with the whole object.
odd=$(printf 'odd\377dir')
mkdir "$odd" && cp treaty.json "$odd/treaty.json"
"$PACTO" treaty verify --treaty "$odd/treaty.json" --json >odd.json 2>/dev/null
check "verify --json names a treaty whose path is not UTF-8" \
	holds odd.json '.treaty == "odd\\xffdir/treaty.json" and .alliance == "acme"'
"$PACTO" keygen --out "$odd/dave.key" --json >odd-key.json 2>/dev/null
check "keygen --json names key files whose path is not UTF-8" \
	holds odd-key.json '.secret_key_file == "odd\\xffdir/dave.key" and .public_key_file == "odd\\xffdir/dave.key.pub" and
		(.public_key | length) == 44'
