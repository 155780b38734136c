/* fuzz_addr.c: the address parser (addr_parse_cidr, addr_parse), which
 * reads every address that comes from outside: log captures, reports,
 * treaties, the config file and control requests.
 * Properties: parsing never reads past its input; an accepted address has
 * a prefix within its family and no bit set past it; what addr_format
 * writes parses back to the same address (one text per address);
 * addr_parse, which reads the usual forms itself, reads what inet_pton
 * reads (a text without ':' as IPv4, the IPv4-mapped space as IPv4). */
#include <arpa/inet.h>
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

/* addr_parse against inet_pton on the same text (refused: empty, too
 * long for any address, or holding a NUL, where inet_pton would stop). */
static void check_as_inet_pton(const char *raw, size_t size, int rc, const struct addr *a)
{
	char text[64];
	uint8_t bin[16];
	if (size == 0 || size >= 46 || memchr(raw, '\0', size)) {
		FUZZ_CHECK(rc == -1);
		return;
	}
	memcpy(text, raw, size);
	text[size] = '\0';
	bool v6 = memchr(raw, ':', size) != NULL;
	int want = inet_pton(v6 ? AF_INET6 : AF_INET, text, bin) == 1 ? 0 : -1;
	FUZZ_CHECK(rc == want);
	if (rc != 0)
		return;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *bytes = bin;
	if (v6 && memcmp(bin, mapped, 12) == 0)
		bytes = bin + 12, v6 = false;
	FUZZ_CHECK(a->family == (v6 ? AF_INET6 : AF_INET));
	FUZZ_CHECK(memcmp(a->bytes, bytes, v6 ? 16 : 4) == 0);
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
	rc = addr_parse(raw, size, &a);
	check_as_inet_pton(raw, size, rc, &a);
	if (rc == 0) {
		check_valid(&a);
		FUZZ_CHECK(a.prefix == addr_max_prefix(&a));
		check_round_trip(&a);
	}
	free(raw);
	return 0;
}
