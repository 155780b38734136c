/* replay.c: runs one fuzz harness over its seed corpus and its regressions,
 * without libFuzzer, so that `make check` (gcc, and ASan in make sanitize)
 * replays every input that once crashed a parser.
 * Why: a crash found by fuzzing must stay fixed in every build, not only in
 * the clang build that found it.
 * Usage: build/tests/test_fuzz_NAME (run from the source tree, or with
 * PACTO_TOP set): reads tests/fuzz/corpus/fuzz_NAME/ and
 * tests/fuzz/regressions/fuzz_NAME/ (the name comes from argv[0]) and
 * prints TAP, one line per file. A crash ends the program, which tests/run
 * counts as a failure; an empty corpus is a failure too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1024 * 1024)

static unsigned ntests, nfailed;

/* Reads a whole file (at most REPLAY_MAX_INPUT bytes) and runs the harness on it. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	uint8_t *buf = malloc(REPLAY_MAX_INPUT);
	size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
	int bad = !buf || ferror(f) || !feof(f);
	fclose(f);
	if (!bad) {
		/* An exact-size copy: a read past the input is caught by ASan. */
		uint8_t *input = (uint8_t *)fuzz_copy(buf, n);
		LLVMFuzzerTestOneInput(input, n);
		free(input);
	}
	free(buf);
	return bad ? -1 : 0;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replays every file of dir; returns how many there were (-1: no dir). */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, visible, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		int rc = replay_file(path);
		nfailed += rc != 0;
		printf("%s %u - %s\n", rc == 0 ? "ok" : "not ok", ++ntests, path);
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	return n;
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *base = strrchr(argv[0], '/');
	const char *name = base ? base + 1 : argv[0];
	if (strncmp(name, "test_", 5) == 0)
		name += 5;
	const char *top = getenv("PACTO_TOP") ? getenv("PACTO_TOP") : ".";
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top, name);
	int seeds = replay_dir(dir);
	if (seeds <= 0 && ++nfailed)
		printf("not ok %u - %s: no seed corpus\n", ++ntests, dir);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", top, name);
	replay_dir(dir);   /* a harness with no crash found yet has none */
	printf("1..%u\n", ntests);
	return nfailed ? 1 : 0;
}
