/* libFuzzer target: a NOTIFY command line through the real IMAP parser,
 * then notify_parse() with every event supported and small limits, so
 * that the grammar, the rules, the fetch-att and search-key sub-parsers
 * and the frees all run. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/notify-parse.h"
#include "lib/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits parser_limits = {
		.max_depth = 32,
		.max_args = 2000,
	};
	static const struct notify_limits limits = {
		.max_mailboxes = 100,
		.max_groups = 16,
	};
	struct imap_parsed_command cmd;
	const char *error;

	if (size > 65536)
		return 0;
	if (imap_parse_command((const char *)data, size, &parser_limits,
			       &cmd, &error) < 0) {
		imap_parsed_command_free(&cmd);
		return 0;
	}
	/* half the inputs with every event supported, half with few */
	unsigned int supported = (size & 1) ? NOTIFY_EV_ALL :
		NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_MESSAGE_EXPUNGE;
	struct notify_command nc;
	if (notify_parse(cmd.args, cmd.arg_count, supported, &limits, &nc,
			 &error) == NOTIFY_PARSE_OK) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < nc.group_count; i++)
			notify_events_write(&sb, nc.groups[i].events);
		strbuf_free(&sb);
	}
	notify_command_free(&nc);
	imap_parsed_command_free(&cmd);
	return 0;
}
