/* libFuzzer target for the POP3 grammar.
 *
 * The input (after its first byte) is split at "\n" into command lines,
 * each parsed with pop3_command_parse(): a parsed command must be
 * consistent (a known verb, arguments within the line limit, message
 * numbers >= 1).  The same input is also run through the RETR/TOP encoder
 * whole and in chunks of a size picked by the first byte: both runs must
 * agree (resumability), and the output must have only CRLF line ends, no
 * line "." before the end, and end with ".\r\n". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "pop3/pop3-parser.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void fuzz_commands(const char *data, size_t size)
{
	size_t pos = 0;
	while (pos < size) {
		const char *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (data + pos)) : size - pos;
		struct pop3_command cmd;
		const char *error = NULL;
		if (pop3_command_parse(data + pos, len, &cmd, &error) < 0) {
			CHECK(error != NULL && error[0] != '\0');
		} else {
			CHECK(error == NULL);
			CHECK(cmd.verb != POP3_VERB_UNKNOWN);
			CHECK(cmd.argc <= 2);
			CHECK(strlen(cmd.arg) <= POP3_LINE_MAX);
			CHECK(strlen(cmd.arg2) <= POP3_LINE_MAX);
			if (cmd.verb == POP3_VERB_RETR ||
			    cmd.verb == POP3_VERB_DELE ||
			    cmd.verb == POP3_VERB_TOP)
				CHECK(cmd.msg >= 1);
			CHECK(strlen(pop3_verb_name(cmd.verb)) >= 3);
		}
		pos += len + 1;
	}
}

static void run_encoder(const char *data, size_t size, size_t step, bool top,
			uint64_t lines, struct strbuf *out)
{
	struct pop3_encoder e;
	pop3_encoder_init(&e, top, lines);
	size_t pos = 0;
	while (pos < size && !e.done) {
		size_t n = size - pos < step ? size - pos : step;
		size_t used = pop3_encoder_feed(&e, data + pos, n, out);
		CHECK(used <= n);
		CHECK(e.done || used == n);
		pos += used;
	}
	pop3_encoder_finish(&e, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = (size_t)data[0] % 17 + 1;
	bool top = (data[0] & 0x80) != 0;
	uint64_t lines = (data[0] >> 5) & 3;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	fuzz_commands(text, len);

	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	run_encoder(text, len, len ? len : 1, top, lines, &a);
	run_encoder(text, len, step, top, lines, &b);
	CHECK(a.len == b.len && memcmp(a.s, b.s, a.len) == 0);
	CHECK(a.len >= 3 && memcmp(a.s + a.len - 3, ".\r\n", 3) == 0);
	/* the only line that is exactly "." is the last one */
	size_t bol = 0;
	for (size_t i = 0; i < a.len; i++) {
		if (a.s[i] == '\n') {
			CHECK(i > 0 && a.s[i - 1] == '\r');
			if (i + 1 < a.len)
				CHECK(!(i - bol == 2 && a.s[bol] == '.'));
			bol = i + 1;
		}
	}
	if (!top)
		CHECK(a.len >= len);
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
