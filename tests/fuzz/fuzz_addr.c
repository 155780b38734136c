/* fuzz_addr.c: the address parser (addr_parse_cidr, addr_parse), which
 * reads every address that comes from outside: log captures, reports,
 * treaties, the config file and control requests.
 * Properties: parsing never reads past its input; an accepted address has
 * a prefix within its family and no bit set past it; what addr_format
 * writes parses back to the same address (one text per address). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "fuzz.h"

static void check_valid(const struct addr *a)
{
	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
	FUZZ_CHECK(a->prefix <= addr_max_prefix(a));
	struct addr masked = *a;
	addr_mask(&masked, a->prefix);
	FUZZ_CHECK(memcmp(masked.bytes, a->bytes, sizeof(a->bytes)) == 0);
	if (a->family == AF_INET)
		for (size_t i = 4; i < sizeof(a->bytes); i++)
			FUZZ_CHECK(a->bytes[i] == 0);
	FUZZ_CHECK(addr_contains(a, a));
}

/* format -> parse gives the same address back. */
static void check_round_trip(const struct addr *a)
{
	char text[ADDR_STRLEN];
	struct addr again;
	addr_format(a, text, sizeof(text));
	FUZZ_CHECK(strlen(text) < ADDR_STRLEN);
	FUZZ_CHECK(addr_parse_cidr(text, &again) == 0);
	FUZZ_CHECK(addr_equal(a, &again));
	FUZZ_CHECK(memcmp(a->bytes, again.bytes, sizeof(a->bytes)) == 0);
	FUZZ_CHECK(addr_hash(a, 1) == addr_hash(&again, 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a;
	char *s = fuzz_strdup(data, size);
	int rc = addr_parse_cidr(s, &a);
	FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
	if (rc == 0) {
		check_valid(&a);
		check_round_trip(&a);
	}
	free(s);
	/* A host address from a log capture: bytes, no NUL at the end. */
	char *raw = fuzz_copy(data, size);
	if (addr_parse(raw, size, &a) == 0) {
		check_valid(&a);
		FUZZ_CHECK(a.prefix == addr_max_prefix(&a));
		check_round_trip(&a);
	}
	free(raw);
	return 0;
}
