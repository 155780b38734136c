/* test_corpus.c: runs the log corpus, the .cases files of every directory
 * of tests/corpus (one per service; or of the directory given as argv[1]).
 * Each case is a block of real log lines with the failures each source
 * must count (format: tests/corpus/README.md); each case is its own test,
 * named "service/file: case". */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "harness.h"
#include "sources/reader.h"

#define MAX_CASES 2000
#define MAX_LINES 400
#define MAX_EXPECT 16

struct expect {
	char key[ADDR_STRLEN];
	unsigned failures;
};

struct corpus_case {
	char name[300];
	char *lines[MAX_LINES];
	size_t nlines;
	struct expect expect[MAX_EXPECT];
	size_t nexpect;
	bool has_expect;
};

static struct corpus_case *cases[MAX_CASES];
static size_t ncases;

/* Removes the newline only: a CR before it is part of what sshd wrote. */
static void chomp(char *s)
{
	size_t n = strlen(s);
	if (n && s[n - 1] == '\n')
		s[--n] = '\0';
}

/* "expect: 192.0.2.2=3, 2001:db8::/64=1" or "expect: none" */
static int parse_expect(struct corpus_case *c, char *list)
{
	c->has_expect = true;
	if (strcmp(list, "none") == 0)
		return 0;
	for (char *save, *item = strtok_r(list, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
		char *eq = strrchr(item, '=');
		if (!eq || c->nexpect == MAX_EXPECT)
			return -1;
		*eq = '\0';
		snprintf(c->expect[c->nexpect].key, ADDR_STRLEN, "%s", item);
		c->expect[c->nexpect++].failures = (unsigned)strtoul(eq + 1, NULL, 10);
	}
	return 0;
}

static int add_line(struct corpus_case *c, const char *file, unsigned lineno, char *buf)
{
	if (!c) {
		fprintf(stderr, "%s:%u: a log line before any 'case:'\n", file, lineno);
		return -1;
	}
	if (strncmp(buf, "expect:", 7) == 0) {
		buf[strcspn(buf, "\r")] = '\0';
		return parse_expect(c, buf + 7 + strspn(buf + 7, " "));
	}
	if (c->nlines == MAX_LINES)
		return -1;
	c->lines[c->nlines++] = strdup(buf);
	return 0;
}

static int load_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char buf[ENGINE_MAX_LINE + 2];
	struct corpus_case *c = NULL;
	unsigned lineno = 0;
	int rc = 0;
	/* "sshd/real-ipv4.cases": the service directory and the file. */
	const char *base = path;
	for (const char *p = path, *last = NULL; (p = strchr(p, '/')); last = p++)
		base = last ? last + 1 : path;
	while (rc == 0 && fgets(buf, sizeof(buf), f)) {
		lineno++;
		chomp(buf);
		if (buf[0] == '#' || buf[0] == '\0' || strcmp(buf, "\r") == 0)
			continue;
		if (strncmp(buf, "case:", 5) == 0) {
			if (ncases == MAX_CASES)
				break;
			c = calloc(1, sizeof(*c));
			int n = snprintf(c->name, sizeof(c->name), "%.60s: %.200s", base, buf + 5 + strspn(buf + 5, " "));
			(void)n;
			cases[ncases++] = c;
			continue;
		}
		rc = add_line(c, path, lineno, buf);
		if (rc)
			fprintf(stderr, "%s:%u: bad corpus line\n", path, lineno);
	}
	fclose(f);
	return rc;
}

static int load_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		if (len > 6 && strcmp(names[i]->d_name + len - 6, ".cases") == 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			rc |= load_file(path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static void feed_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	(void)offset;
	struct harness *h = arg;
	engine_feed_line(h->e, line, len, T0 * 1000000LL);
}

/* The case's lines joined by LF are the bytes the server wrote (CR LF
 * records keep their CR): they go through the same framing as any log. */
static void feed_case(struct harness *h, const struct corpus_case *c)
{
	size_t total = 0;
	for (size_t i = 0; i < c->nlines; i++)
		total += strlen(c->lines[i]) + 1;
	char *bytes = malloc(total + 1), *p = bytes;
	for (size_t i = 0; i < c->nlines; i++)
		p += sprintf(p, "%s\n", c->lines[i]);
	struct reader_stats st = {0};
	struct reader_lines rl = {.fn = feed_line, .arg = h, .max_line = ENGINE_MAX_LINE, .stats = &st};
	size_t used = 0;
	while (used < total) {
		long n = reader_lines(&rl, bytes + used, total - used, true, false);
		if (n == 0)
			break;
		used += (size_t)(n > 0 ? n : -n);
	}
	free(bytes);
}

static void run_case(void **state)
{
	struct corpus_case *c = *state;
	assert_true(c->has_expect);
	struct harness *h = calloc(1, sizeof(*h));
	h_start(h, 1000);
	feed_case(h, c);
	engine_finish(h->e);
	bool ok = true;
	for (size_t i = 0; i < c->nexpect; i++)
		if (h_failures(h, c->expect[i].key) != c->expect[i].failures) {
			print_message("  %s: counted %u, expected %u\n", c->expect[i].key,
				      h_failures(h, c->expect[i].key), c->expect[i].failures);
			ok = false;
		}
	unsigned expected_total = 0;
	for (size_t i = 0; i < c->nexpect; i++)
		expected_total += c->expect[i].failures;
	if (h_total_failures(h) != expected_total) {
		for (size_t i = 0; i < h->nkeys; i++)
			print_message("  counted %s=%u\n", h->keys[i].key, h->keys[i].failures);
		ok = false;
	}
	h_stop(h);
	free(h);
	if (!ok)
		fail_msg("case '%s'", c->name);
}

/* Every subdirectory of top (one per service: sshd, web, postfix...). */
static int load_tree(const char *top)
{
	struct dirent **names;
	int n = scandir(top, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", top, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rc |= load_dir(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/corpus";
	if ((argc > 1 ? load_dir(dir) : load_tree(dir)) != 0 || ncases == 0) {
		fprintf(stderr, "test_corpus: no readable cases in %s\n", dir);
		printf("not ok 1 - corpus %s loads\n", dir);
		return 1;
	}
	struct CMUnitTest *tests = calloc(ncases, sizeof(*tests));
	for (size_t i = 0; i < ncases; i++) {
		tests[i].name = cases[i]->name;
		tests[i].test_func = run_case;
		tests[i].initial_state = cases[i];
	}
	int rc = _cmocka_run_group_tests("corpus", tests, ncases, NULL, NULL);
	for (size_t i = 0; i < ncases; i++) {
		for (size_t j = 0; j < cases[i]->nlines; j++)
			free(cases[i]->lines[j]);
		free(cases[i]);
	}
	free(tests);
	return rc;
}
