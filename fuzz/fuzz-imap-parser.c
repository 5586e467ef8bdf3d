/* libFuzzer target for the IMAP reader and parser, sequence sets and
 * modified UTF-7.
 *
 * The first input byte picks how the rest is split into feeds.  The stream
 * is framed twice, once in those chunks and once whole, acting on every
 * status as a server would; both runs must see exactly the same events
 * (resumability).  Each framed command is parsed and its arguments are
 * pushed through the helpers, with round-trip checks:
 * - imap_write_astring/imap_write_string output parses back to the value;
 * - valid modified UTF-7 decodes and re-encodes to itself (one spelling);
 * - a valid sequence set's numbers written compactly parse back the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static const struct imap_reader_limits fuzz_reader_limits = {
	.max_line = 1024,
	.max_literal = 2048,
	.max_command = 8192,
	.max_literals = 8,
};

static const struct imap_parser_limits fuzz_parser_limits = {
	.max_depth = 16,
	.max_args = 256,
};

static void fuzz_mutf7(const char *s)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

	if (mutf7_to_utf8(s, &a) == 0) {
		/* decoding then encoding gives the one valid spelling back */
		CHECK(utf8_to_mutf7(strbuf_str(&a), &b) == 0);
		CHECK(strcmp(strbuf_str(&b), s) == 0);
	}
	strbuf_reset(&a);
	strbuf_reset(&b);
	if (utf8_to_mutf7(s, &a) == 0) {
		CHECK(mutf7_to_utf8(strbuf_str(&a), &b) == 0);
		CHECK(strcmp(strbuf_str(&b), s) == 0);
	}
	strbuf_free(&a);
	strbuf_free(&b);
}

static void fuzz_seqset(const char *s)
{
	struct seqset set;

	if (seqset_parse(s, &set) == 0) {
		bool before = seqset_contains(&set, 7);
		bool has_star = false;
		for (size_t i = 0; i < set.count; i++) {
			CHECK(set.ranges[i].lo <= set.ranges[i].hi);
			CHECK(set.ranges[i].lo != 0);
			has_star = has_star || set.ranges[i].hi == SEQSET_STAR;
		}
		seqset_resolve(&set, has_star ? 100 : SEQSET_STAR);
		if (!has_star)
			CHECK(seqset_contains(&set, 7) == before);
		for (size_t i = 0; i < set.count; i++) {
			CHECK(set.ranges[i].lo >= 1);
			CHECK(set.ranges[i].lo <= set.ranges[i].hi);
			if (i > 0)
				CHECK((uint64_t)set.ranges[i - 1].hi + 1 <
				      set.ranges[i].lo);
		}
		for (uint32_t n = 0; n < 10; n++) {
			bool linear = false;
			for (size_t i = 0; i < set.count; i++)
				linear = linear || (n >= set.ranges[i].lo &&
						    n <= set.ranges[i].hi);
			CHECK(seqset_contains(&set, n) == linear);
		}
	}
	seqset_free(&set);

	uint32_t *nums, *nums2;
	size_t count, count2;
	if (seqset_to_numbers(s, &nums, &count, 4096) == 0) {
		struct strbuf out = STRBUF_INIT;
		for (size_t i = 1; i < count; i++)
			CHECK(nums[i - 1] < nums[i]);
		seqset_write_numbers(&out, nums, count);
		CHECK(seqset_to_numbers(strbuf_str(&out), &nums2, &count2,
					4096) == 0);
		CHECK(count2 == count);
		CHECK(memcmp(nums, nums2, count * sizeof(*nums)) == 0);
		free(nums2);
		free(nums);
		strbuf_free(&out);
	}
}

/* Writes the value with the writer and checks it parses back. */
static void fuzz_write(const char *s, size_t len, bool astring)
{
	struct strbuf line = STRBUF_INIT;
	struct imap_parsed_command cmd;
	const char *error, *str;
	size_t str_len;

	strbuf_appends(&line, "t X ");
	if (astring)
		imap_write_astring(&line, s);
	else
		imap_write_string(&line, s, len);
	strbuf_appends(&line, "\r\n");
	CHECK(imap_parse_command(line.s, line.len, NULL, &cmd, &error) == 0);
	CHECK(cmd.arg_count == 1);
	if (astring)
		CHECK(imap_arg_astring(&cmd.args[0], &str, &str_len));
	else
		CHECK(imap_arg_string(&cmd.args[0], &str, &str_len));
	CHECK(str_len == len && memcmp(str, s, len) == 0);
	imap_parsed_command_free(&cmd);
	strbuf_free(&line);
}

static void fuzz_args(const struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *arg = &args[i];
		const char *str;
		size_t len;
		uint32_t n32;
		uint64_t n64;

		if (arg->type == IMAP_ARG_LIST) {
			CHECK(arg->str == NULL);
			fuzz_args(arg->list, arg->count);
			continue;
		}
		CHECK(arg->str != NULL && arg->str[arg->len] == '\0');
		(void)imap_arg_astring(arg, &str, &len);
		(void)imap_arg_list_mailbox(arg, &str, &len);
		(void)imap_arg_nstring(arg, &str);
		(void)imap_arg_is_atom(arg, "NIL");
		if (imap_arg_number(arg, &n32))
			CHECK(imap_arg_number64(arg, &n64) && n64 == n32);
		if (imap_arg_atom(arg, &str))
			fuzz_seqset(str);
		if (arg->type == IMAP_ARG_LITERAL && !arg->literal8)
			CHECK(memchr(arg->str, '\0', arg->len) == NULL);
		fuzz_mutf7(arg->str);
		if (strlen(arg->str) == arg->len) {
			fuzz_write(arg->str, arg->len, true);
			fuzz_write(arg->str, arg->len, false);
		}
	}
}

struct fuzz_run {
	struct imap_reader *reader;
	struct strbuf events;
	bool line_mode;
};

/* Acts on one status like a server would; records it. */
static void fuzz_status(struct fuzz_run *run, enum imap_reader_status status)
{
	struct imap_reader *reader = run->reader;
	struct imap_parsed_command cmd;
	const char *data, *error;
	size_t len;
	bool nonsync;

	strbuf_printf(&run->events, "%d:", (int)status);
	switch (status) {
	case IMAP_READER_NEED_MORE:
		break;
	case IMAP_READER_LITERAL_WAIT:
		strbuf_printf(&run->events, "%llu,",
			      (unsigned long long)imap_reader_literal_size(reader, &nonsync));
		CHECK(!nonsync);
		break;
	case IMAP_READER_COMMAND:
		data = imap_reader_command(reader, &len);
		strbuf_append(&run->events, data, len);
		strbuf_printf(&run->events, "|%s|", imap_reader_tag(reader));
		CHECK(len <= fuzz_reader_limits.max_command);
		CHECK(data[len] == '\0');
		if (run->line_mode) {
			CHECK(len + 1 <= fuzz_reader_limits.max_line);
			CHECK(memchr(data, '\n', len) == NULL);
			run->line_mode = false;
			imap_reader_set_line_mode(reader, false);
			imap_reader_reset(reader);
			break;
		}
		if (imap_parse_command(data, len, &fuzz_parser_limits, &cmd,
				       &error) == 0) {
			CHECK(error == NULL && cmd.tag != NULL && cmd.name != NULL);
			/* a framed command's tag is what the reader saw */
			CHECK(strcmp(cmd.tag, imap_reader_tag(reader)) == 0);
			fuzz_args(cmd.args, cmd.arg_count);
			/* AUTHENTICATE and IDLE read a raw line next */
			run->line_mode = strcmp(cmd.name, "AUTHENTICATE") == 0 ||
				strcmp(cmd.name, "IDLE") == 0;
			imap_reader_set_line_mode(reader, run->line_mode);
		} else {
			CHECK(error != NULL && cmd.args == NULL);
		}
		imap_parsed_command_free(&cmd);
		imap_reader_reset(reader);
		break;
	case IMAP_READER_LINE_TOO_LONG:
	case IMAP_READER_LITERAL_TOO_BIG:
	case IMAP_READER_COMMAND_TOO_BIG:
		strbuf_printf(&run->events, "%s,%llu,",
			      imap_reader_tag(reader),
			      (unsigned long long)imap_reader_literal_size(reader, &nonsync));
		run->line_mode = false;
		imap_reader_set_line_mode(reader, false);
		imap_reader_reset(reader);
		break;
	}
}

static void fuzz_stream(struct fuzz_run *run, const char *data, size_t size,
			uint8_t mode, bool literal_minus)
{
	size_t pos = 0, end = 0, feeds = 0;
	size_t base = (mode & 0x0f) + 1;
	size_t step = mode >> 4;

	run->reader = imap_reader_create(&fuzz_reader_limits);
	if (literal_minus)
		imap_reader_set_nonsync_limit(run->reader, 64);
	while (pos < size) {
		size_t used;
		if (end <= pos) {
			/* chunk sizes base, base+step, ... cycling */
			size_t chunk = mode == 0 ? size :
				base + (feeds++ % 5) * step;
			end = size - pos < chunk ? size : pos + chunk;
		}
		enum imap_reader_status status =
			imap_reader_feed(run->reader, data + pos, end - pos,
					 &used);
		CHECK(used <= end - pos);
		pos += used;
		if (status == IMAP_READER_NEED_MORE) {
			CHECK(pos == end);
			continue;
		}
		fuzz_status(run, status);
	}
	strbuf_printf(&run->events, "end:%d", imap_reader_busy(run->reader));
	imap_reader_destroy(&run->reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run chunked = { NULL, STRBUF_INIT, false };
	struct fuzz_run whole = { NULL, STRBUF_INIT, false };

	if (size < 1)
		return 0;
	bool literal_minus = (data[0] & 0x40) != 0;
	fuzz_stream(&chunked, (const char *)data + 1, size - 1, data[0],
		    literal_minus);
	fuzz_stream(&whole, (const char *)data + 1, size - 1, 0, literal_minus);
	CHECK(chunked.events.len == whole.events.len);
	CHECK(memcmp(chunked.events.s, whole.events.s, whole.events.len) == 0);
	strbuf_free(&chunked.events);
	strbuf_free(&whole.events);

	/* The parser alone on the raw input. */
	struct imap_parsed_command cmd;
	const char *error;
	if (imap_parse_command((const char *)data + 1, size - 1,
			       &fuzz_parser_limits, &cmd, &error) == 0)
		fuzz_args(cmd.args, cmd.arg_count);
	imap_parsed_command_free(&cmd);
	return 0;
}
