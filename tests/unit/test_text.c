/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static const char *esc(const char *in, size_t n)
{
	static char out[256];
	size_t need = text_escape(out, sizeof(out), in, n);

	assert_int_equal(need, strlen(out));
	return out;
}

/* A forged PTR name cannot add a field or a line to a log line: it stays one token. */
static void test_escape_log_injection(void **state)
{
	(void)state;
	assert_string_equal(esc("mail.example.org", 16), "mail.example.org");
	assert_string_equal(esc("evil name=x.example.org", 23), "evil\\x20name\\x3dx.example.org");
	assert_string_equal(esc("a\nmxallowd: whitelist add", 25),
	                    "a\\x0amxallowd:\\x20whitelist\\x20add");
	assert_string_equal(esc("back\\slash \"q\"", 14), "back\\x5cslash\\x20\\x22q\\x22");
	assert_string_equal(esc("tab\there\r", 9), "tab\\x09here\\x0d");
	/* NUL and bytes above 0x7e (UTF-8, Latin-1) too. */
	assert_string_equal(esc("a\0b\x7f\xc3\xa9", 6), "a\\x00b\\x7f\\xc3\\xa9");
	assert_string_equal(esc("", 0), "");
}

/* A short buffer: always terminated, never half an escape, full length returned. */
static void test_escape_truncation(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(text_escape(out, sizeof(out), "abc def", 7), 10);
	assert_string_equal(out, "abc\\x20"); /* and no "d": nothing after a cut */
	assert_int_equal(text_escape(out, 6, "abc def", 7), 10);
	assert_string_equal(out, "abc"); /* "\x20" would not fit whole */
	assert_int_equal(text_escape(out, sizeof(out), "abcdefghij", 10), 10);
	assert_string_equal(out, "abcdefg");
	assert_int_equal(text_escape(out, 1, "abc", 3), 3);
	assert_string_equal(out, "");
	assert_int_equal(text_escape(NULL, 0, "a=b", 3), 6);
	/* The worst case fits TEXT_ESCAPED_SIZE. */
	{
		char big[TEXT_ESCAPED_SIZE(3)];

		assert_int_equal(text_escape(big, sizeof(big), "\n\n\n", 3), 12);
		assert_string_equal(big, "\\x0a\\x0a\\x0a");
	}
}

static void test_hostname(void **state)
{
	char name[300];

	(void)state;
	assert_true(text_is_hostname("mail.example.org"));
	assert_true(text_is_hostname("mail.example.org.")); /* rooted */
	assert_true(text_is_hostname("_dmarc.Example-1.ORG"));
	assert_true(text_is_hostname("localhost"));
	assert_true(text_is_hostname("1.2.3.4.in-addr.arpa"));
	assert_false(text_is_hostname(""));
	assert_false(text_is_hostname("."));
	assert_false(text_is_hostname("evil name=x.example.org"));
	assert_false(text_is_hostname("evil=x.example.org"));
	assert_false(text_is_hostname("a\nb.example.org"));
	assert_false(text_is_hostname("back\\slash.example.org"));
	assert_false(text_is_hostname("caf\xc3\xa9.example.org"));
	assert_false(text_is_hostname(".example.org"));
	assert_false(text_is_hostname("a..example.org"));
	assert_false(text_is_hostname("example.org.."));
	assert_false(text_is_hostname("a/b.example.org"));
	/* Labels: 63 characters at most. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".example.org");
	assert_true(text_is_hostname(name));
	memset(name, 'a', 64);
	strcpy(name + 64, ".example.org");
	assert_false(text_is_hostname(name));
	/* Names: 253 characters at most (254 with the root dot). */
	for (int i = 0; i < 4; i++) {
		memset(name + 64 * i, 'b', 63);
		name[64 * i + 63] = '.';
	}
	name[253] = 0; /* 4 labels of 63, dots between: 255 - 2 */
	name[252] = 'c';
	assert_int_equal(strlen(name), 253);
	assert_true(text_is_hostname(name));
	name[253] = '.';
	name[254] = 0;
	assert_true(text_is_hostname(name));
	name[254] = 'd';
	name[255] = 0;
	assert_false(text_is_hostname(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_log_injection),
	    cmocka_unit_test(test_escape_truncation),
	    cmocka_unit_test(test_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
