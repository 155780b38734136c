/* seed.c: random_seed() (see seed.h). */
#include "common/seed.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t random_seed(void)
{
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	return seed;
}
