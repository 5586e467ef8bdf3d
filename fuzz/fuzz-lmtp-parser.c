/* libFuzzer target for the LMTP grammar.
 *
 * The input is split at its first NUL-free "\n" boundaries into command
 * lines, each parsed with lmtp_command_parse(); a MAIL/RCPT path that
 * parses is split with lmtp_recipient_split().  The whole input is also
 * run through the DATA decoder twice, whole and in chunks of a size picked
 * by the first byte: both runs must agree (resumability), the output must
 * have only CRLF line ends and never exceed the limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lmtp/lmtp-parser.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void fuzz_commands(const char *data, size_t size)
{
	size_t pos = 0;
	while (pos < size) {
		const char *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - (data + pos)) : size - pos;
		struct lmtp_command cmd;
		const char *reply = NULL;
		int r = lmtp_command_parse(data + pos, len, &cmd, &reply);
		if (r < 0) {
			CHECK(reply != NULL && strlen(reply) > 4);
		} else {
			CHECK(cmd.verb != LMTP_VERB_UNKNOWN);
			CHECK(strlen(cmd.path) <= LMTP_PATH_MAX);
			if (cmd.verb == LMTP_VERB_RCPT || cmd.verb == LMTP_VERB_MAIL) {
				char u[LMTP_PATH_MAX + 1], d[LMTP_PATH_MAX + 1];
				char dom[LMTP_PATH_MAX + 1];
				if (lmtp_recipient_split(cmd.path, u, sizeof(u), d,
							 sizeof(d), dom,
							 sizeof(dom)) == 0) {
					CHECK(u[0] != '\0');
					(void)lmtp_domain_listed("example.org a.b", dom);
				}
			}
		}
		pos += len + 1;
	}
}

static int run_data(const char *data, size_t size, size_t step,
		    struct strbuf *out, struct lmtp_data_decoder *d,
		    size_t *consumed_r)
{
	lmtp_data_init(d, out, 4096);
	size_t pos = 0;
	int done = 0;
	while (pos < size && !done) {
		size_t n = size - pos < step ? size - pos : step;
		size_t used = 0;
		done = lmtp_data_feed(d, data + pos, n, &used);
		CHECK(used <= n);
		CHECK(done || used == n);
		pos += used;
	}
	*consumed_r = pos;
	return done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = (size_t)data[0] % 17 + 1;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	fuzz_commands(text, len);

	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct lmtp_data_decoder da, db;
	size_t ca, cb;
	int ra = run_data(text, len, len ? len : 1, &a, &da, &ca);
	int rb = run_data(text, len, step, &b, &db, &cb);
	CHECK(ra == rb && ca == cb);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0));
	CHECK(da.size == db.size && da.too_big == db.too_big &&
	      da.has_nul == db.has_nul);
	CHECK(a.len <= 4096);
	for (size_t i = 0; i < a.len; i++) {
		CHECK(a.s[i] != '\0');
		if (a.s[i] == '\r')
			CHECK(i + 1 < a.len ? a.s[i + 1] == '\n' : da.too_big || !ra);
		if (a.s[i] == '\n')
			CHECK(i > 0 && a.s[i - 1] == '\r');
	}
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
