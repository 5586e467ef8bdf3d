/* libFuzzer target: the ANNOTATE (RFC 5257) grammar.  The input goes
 * through the IMAP parser; every argument is tried as FETCH's
 * (entries attribs), as STORE's / APPEND's entry-attribute-value list,
 * and (strings) as entry names; values are written back; and the input,
 * split at its first NUL, is matched as pattern against entry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-annotate.h"
#include "imap/imap-parser.h"
#include "lib/strbuf.h"

static void fuzz_arg(const struct imap_arg *arg, unsigned int depth)
{
	const char *error;
	struct imap_annotate_fetch *f = NULL;
	if (imap_annotate_fetch_parse(arg, &f, &error) == 0) {
		for (size_t i = 0; i < f->entry_count; i++)
			(void)imap_annotate_entry_match(f->entries[i],
							"/vendor/x/comment");
	}
	imap_annotate_fetch_free(&f);

	struct imap_annotate_store st;
	if (imap_annotate_store_parse(arg, &st, &error) == 0) {
		struct strbuf out = STRBUF_INIT;
		for (size_t i = 0; i < st.count; i++)
			imap_annotate_value_write(&out, st.items[i].value,
						  st.items[i].len);
		strbuf_free(&out);
	}
	imap_annotate_store_free(&st);

	if (arg->type != IMAP_ARG_LIST && arg->str != NULL) {
		unsigned int bits;
		(void)imap_annotate_entry_valid(arg->str, arg->len, false);
		(void)imap_annotate_entry_valid(arg->str, arg->len, true);
		(void)imap_annotate_attr_parse(arg->str, arg->len, false, &bits);
		(void)imap_annotate_attr_parse(arg->str, arg->len, true, &bits);
	}
	if (arg->type == IMAP_ARG_LIST && depth < 4) {
		for (size_t i = 0; i < arg->count; i++)
			fuzz_arg(&arg->list[i], depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits limits = {
		.max_depth = 16, .max_args = 1000,
	};

	/* pattern NUL entry */
	if (size <= 600) {
		char buf[601];
		memcpy(buf, data, size);
		buf[size] = '\0';
		const char *entry = buf + strlen(buf);
		if ((size_t)(entry - buf) < size)
			entry++;
		(void)imap_annotate_entry_match(buf, entry);
	}

	struct imap_parsed_command cmd;
	const char *error;
	memset(&cmd, 0, sizeof(cmd));
	if (imap_parse_command((const char *)data, size, &limits, &cmd,
			       &error) == 0) {
		for (size_t i = 0; i < cmd.arg_count; i++)
			fuzz_arg(&cmd.args[i], 0);
	}
	imap_parsed_command_free(&cmd);
	return 0;
}
