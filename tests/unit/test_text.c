/* test_text.c: text hygiene shared by every module: UTF-8 well-formedness
 * (utf8_len) and cuts between characters (utf8_prefix), messages made
 * safe for a terminal (put_printable), and JSON strings of bytes that may
 * not be UTF-8 (json_text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json_text.h"
#include "common/log.h"
#include "common/utf8.h"

static size_t len_of(const char *s)
{
	return utf8_len((const unsigned char *)s, strlen(s));
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(len_of("a"), 1);
	assert_int_equal(len_of("\xc3\xa9"), 2);          /* é */
	assert_int_equal(len_of("\xe6\x97\xa5"), 3);      /* 日 */
	assert_int_equal(len_of("\xf0\x9f\x94\x92"), 4);  /* U+1F512 */
	assert_int_equal(len_of("\xc0\xaf"), 0);          /* overlong / */
	assert_int_equal(len_of("\xe0\x80\xaf"), 0);      /* overlong, 3 bytes */
	assert_int_equal(len_of("\xed\xa0\x80"), 0);      /* a surrogate */
	assert_int_equal(len_of("\xf4\x90\x80\x80"), 0);  /* past U+10FFFF */
	assert_int_equal(len_of("\xff"), 0);
	assert_int_equal(len_of("\x80"), 0);              /* a lone continuation byte */
	assert_int_equal(utf8_len((const unsigned char *)"\xe6\x97", 2), 0);   /* cut short */
}

/* utf8_prefix: a cut never inside a character; bytes that are not UTF-8
 * count one each. */
static void test_utf8_prefix(void **state)
{
	(void)state;
	assert_int_equal(utf8_prefix("abc", 100), 3);
	assert_int_equal(utf8_prefix("abc", 2), 2);
	assert_int_equal(utf8_prefix("a\xc3\xa9", 2), 1);            /* é would end at 3 */
	assert_int_equal(utf8_prefix("a\xc3\xa9", 3), 3);
	assert_int_equal(utf8_prefix("\xe6\x97\xa5\xe6\x97\xa5", 5), 3);  /* 日日 */
	assert_int_equal(utf8_prefix("\xf0\x9f\x94\x92", 3), 0);      /* U+1F512 */
	assert_int_equal(utf8_prefix("\xff\xfe\xfd", 2), 2);
	assert_int_equal(utf8_prefix("", 10), 0);
}

/* put_printable(s) into a string. */
static char *printable(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	put_printable(f, s);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void expect_printable(const char *in, const char *want)
{
	char *got = printable(in);
	assert_string_equal(got, want);
	free(got);
}

/* Controls of every kind and bytes that are not UTF-8 are written as
 * \xHH; text, UTF-8 included, is written as it is. */
static void test_put_printable(void **state)
{
	(void)state;
	expect_printable("plain text: 1.2.3.4 [x]", "plain text: 1.2.3.4 [x]");
	expect_printable("caf\xc3\xa9 \xe6\x97\xa5", "caf\xc3\xa9 \xe6\x97\xa5");
	expect_printable("a\x1b[2Jb", "a\\x1b[2Jb");            /* ESC: clear the screen */
	expect_printable("a\xc2\x9b" "31mb", "a\\xc2\\x9b31mb");   /* C1 CSI, as UTF-8 */
	expect_printable("a\x9b" "31mb", "a\\x9b31mb");            /* C1 CSI, a raw byte */
	expect_printable("line\nforged line\r\t\x7f", "line\\x0aforged line\\x0d\\x09\\x7f");
	expect_printable("\xff\xfe", "\\xff\\xfe");
	expect_printable("\xe6\x97", "\\xe6\\x97");              /* a character cut short */
	expect_printable("", "");
}

static void expect_json_text(const char *in, size_t len, const char *want)
{
	json_t *j = json_text(in, len);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), want);
	json_decref(j);
}

/* UTF-8 text as it is; otherwise only the stray bytes become \xHH, the
 * well-formed characters around them stay. */
static void test_json_text(void **state)
{
	(void)state;
	expect_json_text("caf\xc3\xa9 \x1b[2J", 11, "caf\xc3\xa9 \x1b[2J");
	expect_json_text("caf\xc3\xa9 \xff!", 8, "caf\xc3\xa9 \\xff!");
	expect_json_text("\xe6\x97", 2, "\\xe6\\x97");
	expect_json_text("", 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_utf8_prefix),
		cmocka_unit_test(test_put_printable),
		cmocka_unit_test(test_json_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
