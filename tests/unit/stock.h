/* stock.h: the stock rules as built into pacto, loaded for a unit test.
 * Why: the tests that hold every stock pattern against PCRE2 (test_prefix,
 * test_native) load them the same way; one loader instead of a copy in
 * each. Include after <cmocka.h>. */
#ifndef PACTO_TEST_STOCK_H
#define PACTO_TEST_STOCK_H

#include "common/errors.h"
#include "ctl/cli.h"
#include "detect/rules.h"

/* The stock rule set; fails the test when it does not load. */
static inline struct ruleset *stock_ruleset(void)
{
	struct errors errs = {0};
	struct ruleset *rs = NULL;
	if (ruleset_load_texts(stock_rules, nstock_rules, &rs, &errs) != 0)
		fail_msg("the stock rules do not load");
	errors_clear(&errs);
	return rs;
}

#endif
