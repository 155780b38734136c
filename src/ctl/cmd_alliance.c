/* cmd_alliance.c: `pacto keygen` and `pacto treaty ...`: a member's identity
 * and the treaty file, by hand, before any daemon runs.
 * Why here: creating keys, amending and signing the treaty are an
 * operator's acts on files; nothing in them talks to pactod.
 * Exit codes (pacto(8)): 0 done (verify: in force), 1 failed (verify: not in
 * force), 64 bad command line.
 * --json: every command prints one JSON object on stdout instead of its
 * text (messages and errors stay on stderr); the exit code is the same. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alliance/signer.h"
#include "alliance/treaty.h"
#include "common/cliopt.h"
#include "common/json_text.h"
#include "common/yaml_util.h"
#include "ctl/cli.h"

#define DEFAULT_TREATY "/etc/pacto/treaty.json"
#define MAX_SETS 16

/* ---- options shared by the treaty subcommands ---- */

enum {
	OPT_TREATY = 't', OPT_NAME = 'n', OPT_ID = 'i', OPT_KEY = 'k', OPT_WEIGHT = 'w', OPT_PROTECT = 'p',
	OPT_JSON = 'j', OPT_OUT = 'o', OPT_HELP = 'h', OPT_RULE = 1000, /* + index in rule_flags */
};

/* `pacto treaty set --quorum 2` is `pacto treaty set quorum 2`. */
static const char *const rule_flags[] = {"quorum", "max-duration", "widest-v4", "widest-v6", "rate-per-min",
					 "burst", "skew"};
#define NRULE_FLAGS (sizeof(rule_flags) / sizeof(*rule_flags))

struct opts {
	const char *treaty, *name, *id, *key, *weight, *out;
	const char *protect[TREATY_MAX_PROTECT + 1];
	size_t nprotect;
	struct { const char *name, *value; } sets[MAX_SETS];
	size_t nsets;
	bool json;
};

static void fill_longopts(struct option *o)
{
	static const struct option fixed[] = {
		{"treaty", required_argument, NULL, OPT_TREATY}, {"name", required_argument, NULL, OPT_NAME},
		{"id", required_argument, NULL, OPT_ID},         {"key", required_argument, NULL, OPT_KEY},
		{"weight", required_argument, NULL, OPT_WEIGHT}, {"protect", required_argument, NULL, OPT_PROTECT},
		{"json", no_argument, NULL, OPT_JSON},           {"out", required_argument, NULL, OPT_OUT},
		{"help", no_argument, NULL, OPT_HELP},
	};
	size_t n = sizeof(fixed) / sizeof(*fixed);
	memcpy(o, fixed, sizeof(fixed));
	for (size_t i = 0; i < NRULE_FLAGS; i++)
		o[n + i] = (struct option){rule_flags[i], required_argument, NULL, OPT_RULE + (int)i};
	o[n + NRULE_FLAGS] = (struct option){NULL, 0, NULL, 0};
}

/* The options naming a file: an empty value is refused with the option's
 * name (it reached open() and said only ": No such file or directory").
 * --name and --id say it themselves, with what they may hold. */
static bool file_given(int opt, const char *cmd)
{
	char prog[64];
	snprintf(prog, sizeof(prog), "pacto %s", cmd);
	if (opt == OPT_TREATY)
		return cliopt_nonempty(prog, "--treaty", optarg, "file name");
	if (opt == OPT_KEY)
		return cliopt_nonempty(prog, "--key", optarg, "key or file name");
	if (opt == OPT_OUT)
		return cliopt_nonempty(prog, "--out", optarg, "file name");
	return true;
}

/* Stores one option; -1 (with a message) when it is not allowed here, -2
 * when its value is not (already said). */
static int take_option(int opt, const char *allowed, struct opts *o, const char *cmd)
{
	bool rule = opt >= OPT_RULE && opt < OPT_RULE + (int)NRULE_FLAGS;
	if (!rule && (opt > 127 || !strchr(allowed, opt)))
		return -1;
	if (rule && !strchr(allowed, 'r'))
		return -1;
	if (!file_given(opt, cmd))
		return -2;
	switch (opt) {
	case OPT_TREATY: o->treaty = optarg; break;
	case OPT_NAME: o->name = optarg; break;
	case OPT_ID: o->id = optarg; break;
	case OPT_KEY: o->key = optarg; break;
	case OPT_WEIGHT: o->weight = optarg; break;
	case OPT_OUT: o->out = optarg; break;
	case OPT_JSON: o->json = true; break;
	case OPT_PROTECT:
		if (o->nprotect == TREATY_MAX_PROTECT) {
			fprintf(stderr, "pacto %s: at most %d --protect ranges\n", cmd, TREATY_MAX_PROTECT);
			return -2;
		}
		o->protect[o->nprotect++] = optarg;
		break;
	default:
		if (o->nsets == MAX_SETS) {
			fprintf(stderr, "pacto %s: at most %d settings in one command\n", cmd, MAX_SETS);
			return -2;
		}
		o->sets[o->nsets].name = rule_flags[opt - OPT_RULE];
		o->sets[o->nsets++].value = optarg;
	}
	return 0;
}

/* Parses argv with the options allowed (letters of the enum; 'r' for the
 * rule flags). Returns the index of the first operand, -1 for a usage
 * error (already reported), -2 after --help. */
static int parse_options(int argc, char **argv, const char *allowed, struct opts *o, const char *cmd,
			 const char *usage)
{
	struct option longopts[16 + NRULE_FLAGS];
	int opt;
	fill_longopts(longopts);
	optind = 1;
	opterr = 0;   /* our own messages, naming the command */
	int index = -1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, &index)) != -1) {
		int rc = opt == OPT_HELP ? 1 : opt == '?' || opt == ':' ? -1 : take_option(opt, allowed, o, cmd);
		if (rc == 1) {
			printf("usage: pacto %s\n", usage);
			return -2;
		}
		if (rc != 0) {
			if (rc == -1 && opt == ':')
				fprintf(stderr, "pacto %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
			else if (rc == -1 && opt == '?')
				fprintf(stderr, "pacto %s: unknown option '%s'\n", cmd, argv[optind - 1]);
			else if (rc == -1)   /* one of another subcommand (argv[optind - 1] may be its value) */
				fprintf(stderr, "pacto %s: option '--%s' does not apply here\n", cmd,
					index >= 0 ? longopts[index].name : "?");
			fprintf(stderr, "usage: pacto %s\n", usage);
			return -1;
		}
		index = -1;
	}
	if (!o->treaty)
		o->treaty = DEFAULT_TREATY;
	return optind;
}

static int usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "pacto %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: pacto %s\n", usage);
	return EXIT_USAGE;
}

/* ---- arguments ---- */

/* A public key: its base64 text, or a file holding it (such as FILE.pub). */
static int parse_key_arg(const char *arg, uint8_t key[SIGNER_PUBLIC_BYTES])
{
	if (signer_key_parse(arg, key) == 0)
		return 0;
	struct errors errs = {0};
	size_t len;
	char *text = read_small_file(arg, 127, &len, &errs);   /* not a FIFO: it would wait for a writer */
	errors_clear(&errs);
	if (!text)
		return -1;
	text[strcspn(text, "\n")] = '\0';
	int rc = signer_key_parse(text, key);
	free(text);
	return rc;
}

static int parse_weight(const char *arg, unsigned *out)
{
	char *end;
	if (*arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || *end || v < 1 || v > 1000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_ranges(const struct opts *o, struct addr *out, const char *cmd, const char *usage)
{
	for (size_t i = 0; i < o->nprotect; i++) {
		int rc = addr_parse_cidr(o->protect[i], &out[i]);
		if (rc != 0)
			return usage_error(cmd, usage,
					   rc == -2 ? "--protect '%s' has bits set past its prefix length"
						    : "--protect '%s' is not an address or ADDRESS/LEN",
					   o->protect[i]);
	}
	return 0;
}

/* ---- loading and saving ---- */

static struct treaty *load(const char *path, const char *cmd)
{
	struct errors errs = {0};
	if (signer_init() != 0) {
		fprintf(stderr, "pacto %s: libsodium failed to initialise\n", cmd);
		return NULL;
	}
	struct treaty *t = treaty_load(path, &errs);
	errors_print(&errs, "");
	if (!t)
		fprintf(stderr, "pacto %s: %zu error%s in the treaty; nothing was changed\n", cmd, errs.n,
			errs.n == 1 ? "" : "s");
	errors_clear(&errs);
	return t;
}

static int save(struct treaty *t, const char *path, const char *cmd)
{
	char err[512];
	if (treaty_save(t, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "pacto %s: %s\n", cmd, err);
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

static size_t count_signed(const struct treaty *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nmembers; i++)
		n += t->members[i].signed_current;
	return n;
}

/* What a treaty command did, for --json: the file, its version and who has
 * signed it; "changed" says whether the file was written. */
static json_t *outcome_json(const struct treaty *t, const char *path, bool changed)
{
	char why[TREATY_MAX_MEMBERS * (TREATY_MAX_ID + 48)];
	json_t *unsigned_ids = json_array();
	for (size_t i = 0; i < t->nmembers; i++)
		if (!t->members[i].signed_current)
			json_array_append_new(unsigned_ids, json_string(t->members[i].id));
	bool in_force = treaty_in_force(t, why, sizeof(why));
	/* The path is the command line's, maybe not UTF-8. */
	json_t *j = json_pack("{s:o, s:s, s:I, s:b, s:I, s:I, s:o, s:b}", "treaty", json_text_cstr(path), "alliance",
			      t->alliance, "version", (json_int_t)t->version, "changed", changed, "members",
			      (json_int_t)t->nmembers, "signed", (json_int_t)count_signed(t), "unsigned", unsigned_ids,
			      "in_force", in_force);
	if (j && !in_force)
		json_object_set_new(j, "why_not_in_force", json_string(why));
	return j;
}

/* Prints j (taking it over) as one indented JSON object. */
static void print_json(json_t *j)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(j);
}

/* Saves an amended treaty and says what it means for the signatures. */
static int save_amended(struct treaty *t, const struct opts *o, const char *cmd)
{
	int rc = save(t, o->treaty, cmd);
	if (rc == EXIT_OK && o->json)
		print_json(outcome_json(t, o->treaty, true));
	else if (rc == EXIT_OK)
		printf("%s: treaty %s is now version %llu; every member must sign it again (pacto treaty sign)\n",
		       o->treaty, t->alliance, (unsigned long long)t->version);
	return rc;
}

/* ---- keygen ---- */

int cmd_keygen(int argc, char **argv)
{
	static const char usage[] = "keygen --out FILE [--json]";
	struct opts o = {0};
	char pub[SIGNER_PUBLIC_TEXT], err[512];
	int first = parse_options(argc, argv, "oj", &o, "keygen", usage);
	if (first < 0)
		return first == -2 ? EXIT_OK : EXIT_USAGE;
	if (first != argc)
		return usage_error("keygen", usage, "unexpected operand '%s'", argv[first]);
	if (!o.out)
		return usage_error("keygen", usage, "%s", "--out FILE is required");
	if (signer_init() != 0 || signer_generate(o.out, pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "pacto keygen: %s\n", err);
		return EXIT_FAILURE_;
	}
	fprintf(stderr, "pacto keygen: secret key in %s (mode 0600, keep it there), public key in %s.pub\n", o.out,
		o.out);
	if (o.json) {
		char pubfile[4096];
		snprintf(pubfile, sizeof(pubfile), "%s.pub", o.out);
		print_json(json_pack("{s:s, s:o, s:o}", "public_key", pub, "secret_key_file", json_text_cstr(o.out),
				     "public_key_file", json_text_cstr(pubfile)));
	} else {
		printf("%s\n", pub);
	}
	return EXIT_OK;
}

/* ---- treaty subcommands ---- */

struct subcommand {
	const char *name;
	int (*run)(struct opts *o, int argc, char **argv, int first, const char *usage);
	const char *allowed, *usage, *summary;
};

static int no_operands(int argc, char **argv, int first, const char *cmd, const char *usage)
{
	return first == argc ? 0 : usage_error(cmd, usage, "unexpected operand '%s'", argv[first]);
}

static int treaty_init(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	char err[512];
	if (no_operands(argc, argv, first, "treaty init", usage))
		return EXIT_USAGE;
	if (!o->name)
		return usage_error("treaty init", usage, "%s", "--name ALLIANCE is required");
	struct treaty *t = treaty_new(o->name, err, sizeof(err));
	if (!t)
		return usage_error("treaty init", usage, "%s", err);
	int rc = EXIT_FAILURE_;
	if (access(o->treaty, F_OK) == 0)
		fprintf(stderr, "pacto treaty init: %s exists already; not overwritten\n", o->treaty);
	else if ((rc = save(t, o->treaty, "treaty init")) == EXIT_OK && o->json)
		print_json(outcome_json(t, o->treaty, true));
	else if (rc == EXIT_OK)
		printf("%s: treaty %s, version 1, no members yet (pacto treaty add-member)\n", o->treaty, t->alliance);
	treaty_free(t);
	return rc;
}

/* Loads, applies one amendment (which may refuse: exit 1), saves. */
static int amend(const struct opts *o, const char *cmd, int (*apply)(struct treaty *t, const struct opts *o,
								      const void *arg, char *err, size_t errlen),
		 const void *arg)
{
	char err[512];
	struct treaty *t = load(o->treaty, cmd);
	if (!t)
		return EXIT_FAILURE_;
	int rc = EXIT_FAILURE_;
	if (apply(t, o, arg, err, sizeof(err)) != 0)
		fprintf(stderr, "pacto %s: %s\n", cmd, err);
	else
		rc = save_amended(t, o, cmd);
	treaty_free(t);
	return rc;
}

struct member_args {
	uint8_t key[SIGNER_PUBLIC_BYTES];
	unsigned weight;
	struct addr protect[TREATY_MAX_PROTECT];
};

static int apply_add(struct treaty *t, const struct opts *o, const void *arg, char *err, size_t errlen)
{
	const struct member_args *m = arg;
	return treaty_add_member(t, o->id, m->key, m->weight, m->protect, o->nprotect, err, errlen);
}

static int treaty_add(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	static struct member_args m;
	m.weight = TREATY_DEFAULT_WEIGHT;
	if (no_operands(argc, argv, first, "treaty add-member", usage))
		return EXIT_USAGE;
	if (!o->id || !o->key)
		return usage_error("treaty add-member", usage, "%s", "--id and --key are required");
	if (!treaty_id_valid(o->id))
		return usage_error("treaty add-member", usage, "--id '%s': use 1 to 64 characters of A-Z a-z 0-9 _ -",
				   o->id);
	if (parse_key_arg(o->key, m.key) != 0)
		return usage_error("treaty add-member", usage,
				   "--key '%s' is not a public key (44 characters of base64) or a file holding one", o->key);
	if (o->weight && parse_weight(o->weight, &m.weight) != 0)
		return usage_error("treaty add-member", usage, "--weight '%s' is not a whole number from 1 to 1000",
				   o->weight);
	if (parse_ranges(o, m.protect, "treaty add-member", usage) != 0)
		return EXIT_USAGE;
	return amend(o, "treaty add-member", apply_add, &m);
}

static int apply_remove(struct treaty *t, const struct opts *o, const void *arg, char *err, size_t errlen)
{
	(void)arg;
	return treaty_remove_member(t, o->id, err, errlen);
}

static int treaty_remove(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	if (no_operands(argc, argv, first, "treaty remove-member", usage))
		return EXIT_USAGE;
	if (!o->id)
		return usage_error("treaty remove-member", usage, "%s", "--id ID is required");
	return amend(o, "treaty remove-member", apply_remove, NULL);
}

static int apply_set_key(struct treaty *t, const struct opts *o, const void *arg, char *err, size_t errlen)
{
	return treaty_set_key(t, o->id, arg, err, errlen);
}

static int treaty_setkey(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	uint8_t key[SIGNER_PUBLIC_BYTES];
	if (no_operands(argc, argv, first, "treaty set-key", usage))
		return EXIT_USAGE;
	if (!o->id || !o->key)
		return usage_error("treaty set-key", usage, "%s", "--id and --key are required");
	if (parse_key_arg(o->key, key) != 0)
		return usage_error("treaty set-key", usage,
				   "--key '%s' is not a public key (44 characters of base64) or a file holding one", o->key);
	return amend(o, "treaty set-key", apply_set_key, key);
}

/* Several settings in one command make one amendment: one new version. */
static int treaty_setting(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	char err[512];
	if (argc - first == 2 && o->nsets < MAX_SETS) {
		o->sets[o->nsets].name = argv[first];
		o->sets[o->nsets++].value = argv[first + 1];
	} else if (argc != first || o->nsets == 0) {
		return usage_error("treaty set", usage, "%s",
				   argc == first ? "nothing to set" : "give NAME VALUE, or --NAME VALUE options");
	}
	struct treaty *t = load(o->treaty, "treaty set");
	if (!t)
		return EXIT_FAILURE_;
	uint64_t before = t->version;
	for (size_t i = 0; i < o->nsets; i++) {
		/* treaty_set takes --max-duration's name as max_duration. */
		if (treaty_set(t, o->sets[i].name, o->sets[i].value, err, sizeof(err)) != 0) {
			treaty_free(t);
			return usage_error("treaty set", usage, "%s", err);
		}
	}
	int rc = EXIT_OK;
	if (t->version == before && o->json)
		print_json(outcome_json(t, o->treaty, false));
	else if (t->version == before)
		printf("%s: unchanged (version %llu); signatures kept\n", o->treaty, (unsigned long long)before);
	else {
		t->version = before + 1;
		rc = save_amended(t, o, "treaty set");
	}
	treaty_free(t);
	return rc;
}

static int treaty_signing(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	char err[512];
	struct signer *s = NULL;
	if (no_operands(argc, argv, first, "treaty sign", usage))
		return EXIT_USAGE;
	if (!o->key)
		return usage_error("treaty sign", usage, "%s", "--key SECRET-KEY-FILE is required");
	struct treaty *t = load(o->treaty, "treaty sign");
	int rc = EXIT_FAILURE_;
	if (!t)
		return rc;
	if (signer_load(o->key, &s, err, sizeof(err)) != 0 ||
	    treaty_sign(t, s, err, sizeof(err)) != 0)
		fprintf(stderr, "pacto treaty sign: %s\n", err);
	else if ((rc = save(t, o->treaty, "treaty sign")) == EXIT_OK && o->json) {
		json_t *j = outcome_json(t, o->treaty, true);
		json_object_set_new(j, "signed_as", json_string(treaty_member_by_key(t, signer_public_key(s))->id));
		print_json(j);
	} else if (rc == EXIT_OK)
		printf("%s: signed version %llu as %s; %zu of %zu members have signed%s\n", o->treaty,
		       (unsigned long long)t->version, treaty_member_by_key(t, signer_public_key(s))->id, count_signed(t),
		       t->nmembers, count_signed(t) == t->nmembers ? ": the treaty is in force" : "");
	signer_free(s);
	treaty_free(t);
	return rc;
}

static int treaty_verifying(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	char why[TREATY_MAX_MEMBERS * (TREATY_MAX_ID + 48)];
	if (no_operands(argc, argv, first, "treaty verify", usage))
		return EXIT_USAGE;
	struct treaty *t = load(o->treaty, "treaty verify");
	if (!t)
		return EXIT_FAILURE_;
	bool ok = treaty_in_force(t, why, sizeof(why));
	if (o->json)
		print_json(outcome_json(t, o->treaty, false));
	else if (ok)
		printf("%s: treaty %s version %llu is in force: signed by all %zu members\n", o->treaty, t->alliance,
		       (unsigned long long)t->version, t->nmembers);
	if (!ok)   /* also with --json: the reason belongs on stderr too */
		fprintf(stderr, "pacto treaty verify: %s: treaty %s version %llu is not in force: %s\n", o->treaty,
			t->alliance, (unsigned long long)t->version, why);
	treaty_free(t);
	return ok ? EXIT_OK : EXIT_FAILURE_;
}

/* The canonical body, with each member's signature state and the verdict. */
static json_t *show_json(const struct treaty *t)
{
	char *body;
	size_t len;
	json_t *root = treaty_canonical(t, &body, &len) == 0 ? json_loadb(body, len, 0, NULL) : NULL;
	if (!root)
		return NULL;
	free(body);
	json_t *unsigned_ids = json_array(), *m;
	size_t i;
	json_array_foreach(json_object_get(root, "members"), i, m) {
		json_object_set_new(m, "signed", json_boolean(t->members[i].signed_current));
		if (!t->members[i].signed_current)
			json_array_append_new(unsigned_ids, json_string(t->members[i].id));
	}
	json_object_set_new(root, "in_force", json_boolean(t->nmembers && json_array_size(unsigned_ids) == 0));
	json_object_set_new(root, "unsigned", unsigned_ids);
	return root;
}

static void show_text(const struct treaty *t)
{
	char why[TREATY_MAX_MEMBERS * (TREATY_MAX_ID + 48)], key[SIGNER_PUBLIC_TEXT], text[ADDR_STRLEN];
	bool ok = treaty_in_force(t, why, sizeof(why));
	if (ok)
		printf("treaty %s, version %llu: in force\n", t->alliance, (unsigned long long)t->version);
	else
		printf("treaty %s, version %llu: not in force (%s)\n", t->alliance, (unsigned long long)t->version, why);
	printf("quorum %u, max_duration %us, widest_v4 /%u, widest_v6 /%u, rate_per_min %u, burst %u, skew %us\n",
	       t->quorum, t->max_duration_s, t->widest_v4, t->widest_v6, t->rate_per_min, t->burst, t->skew_s);
	for (size_t i = 0; i < t->nmembers; i++) {
		const struct treaty_member *m = &t->members[i];
		signer_key_format(m->key, key);
		printf("member %-16s weight %-4u key %s %s\n", m->id, m->weight, key,
		       m->signed_current ? "signed" : "NOT SIGNED");
		for (size_t j = 0; j < m->nprotect; j++)
			printf("    protects %s\n", addr_format(&m->protect[j], text, sizeof(text)));
	}
}

static int treaty_showing(struct opts *o, int argc, char **argv, int first, const char *usage)
{
	if (no_operands(argc, argv, first, "treaty show", usage))
		return EXIT_USAGE;
	struct treaty *t = load(o->treaty, "treaty show");
	if (!t)
		return EXIT_FAILURE_;
	if (o->json)
		print_json(show_json(t));
	else
		show_text(t);
	treaty_free(t);
	return EXIT_OK;
}

static const struct subcommand subcommands[] = {
	{"init", treaty_init, "tnj", "treaty init --name ALLIANCE [--treaty FILE] [--json]",
	 "create a treaty file (refuses to overwrite one)"},
	{"add-member", treaty_add, "tikwpj",
	 "treaty add-member --id ID --key PUBKEY|FILE.pub [--weight W] [--protect CIDR]... [--treaty FILE] [--json]",
	 "add a member (an amendment)"},
	{"remove-member", treaty_remove, "tij", "treaty remove-member --id ID [--treaty FILE] [--json]",
	 "remove a member (an amendment)"},
	{"set-key", treaty_setkey, "tikj", "treaty set-key --id ID --key PUBKEY|FILE.pub [--treaty FILE] [--json]",
	 "give a member a new key (an amendment)"},
	{"set", treaty_setting, "trj",
	 "treaty set NAME VALUE | --NAME VALUE... [--treaty FILE] [--json]\n"
	 "  NAME: quorum, max_duration, widest_v4, widest_v6, rate_per_min, burst, skew",
	 "change a rule: quorum, max_duration, widest_v4/v6, rate_per_min, burst, skew"},
	{"sign", treaty_signing, "tkj", "treaty sign --key SECRET-KEY-FILE [--treaty FILE] [--json]",
	 "sign the current version with a member's secret key"},
	{"verify", treaty_verifying, "tj", "treaty verify [--treaty FILE] [--json]",
	 "exit 0 only if every member signed the current version"},
	{"show", treaty_showing, "tj", "treaty show [--json] [--treaty FILE]",
	 "the treaty, its rules and who signed"},
};
#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(*subcommands))

static void treaty_usage(FILE *out)
{
	fprintf(out, "usage: pacto treaty SUBCOMMAND [--treaty FILE] [OPTIONS]\n\nsubcommands:\n");
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  %-14s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\nFILE defaults to %s; 'pacto treaty SUBCOMMAND --help' shows its options.\n", DEFAULT_TREATY);
}

int cmd_treaty(int argc, char **argv)
{
	if (argc < 2) {
		treaty_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		treaty_usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < NSUBCOMMANDS; i++) {
		const struct subcommand *s = &subcommands[i];
		if (strcmp(s->name, argv[1]) != 0)
			continue;
		char cmd[64];
		struct opts o = {0};
		snprintf(cmd, sizeof(cmd), "treaty %s", s->name);
		int first = parse_options(argc - 1, argv + 1, s->allowed, &o, cmd, s->usage);
		if (first < 0)
			return first == -2 ? EXIT_OK : EXIT_USAGE;
		return s->run(&o, argc - 1, argv + 1, first, s->usage);
	}
	fprintf(stderr, "pacto treaty: unknown subcommand '%s'\n", argv[1]);
	treaty_usage(stderr);
	return EXIT_USAGE;
}
