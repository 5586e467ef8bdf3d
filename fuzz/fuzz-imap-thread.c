/* libFuzzer target: SORT and THREAD without a store.  The input is lines;
 * every four lines describe one message (Subject, Message-ID, References,
 * In-Reply-To), and its date is taken from the line lengths so that ties
 * and orders vary.  Each line also goes through the address and sort
 * criteria parsers.  Both threading algorithms and a SORT by every key
 * then run over the messages. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#define FUZZ_MAX_LINES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmemdupz(data, size);
	char *lines[FUZZ_MAX_LINES];
	size_t n = 0;
	for (char *p = text; n < FUZZ_MAX_LINES;) {
		lines[n++] = p;
		char *nl = memchr(p, '\n', size - (size_t)(p - text));
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}

	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		strbuf_reset(&sb);
		imap_sort_address_mailbox(lines[i], strlen(lines[i]), &sb);
		strbuf_reset(&sb);
		strbuf_printf(&sb, "a SORT %s\r\n", lines[i]);
		struct imap_parsed_command cmd;
		const char *error = NULL;
		if (imap_parse_command(sb.s, sb.len, NULL, &cmd, &error) == 0 &&
		    cmd.arg_count > 0) {
			struct imap_sort_program prog;
			(void)imap_sort_program_parse(&cmd.args[0], &prog, &error);
		}
		imap_parsed_command_free(&cmd);
	}

	size_t count = n / 4;
	struct imap_thread_message *m = xcalloc(count ? count : 1, sizeof(*m));
	struct imap_sort_message *sm = xcalloc(count ? count : 1, sizeof(*sm));
	struct strbuf *subj = xcalloc(count ? count : 1, sizeof(*subj));
	for (size_t i = 0; i < count; i++) {
		const char *s = lines[i * 4];
		m[i].is_reply = imap_sort_base_subject(s, strlen(s), &subj[i]);
		strbuf_append(&subj[i], "", 0);
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i * 3 + 7;
		m[i].date = (int64_t)(strlen(lines[i * 4 + 1]) % 7);
		m[i].subject = subj[i].s;
		m[i].message_id = lines[i * 4 + 1];
		m[i].references = lines[i * 4 + 2];
		m[i].in_reply_to = lines[i * 4 + 3];
		sm[i] = (struct imap_sort_message){
			.seq = m[i].seq, .uid = m[i].uid, .arrival = (int64_t)strlen(s) % 5,
			.date = m[i].date, .size = strlen(lines[i * 4 + 2]),
			.from = lines[i * 4 + 1], .to = lines[i * 4 + 2],
			.cc = lines[i * 4 + 3], .subject = subj[i].s,
		};
	}
	strbuf_reset(&sb);
	imap_thread_build(IMAP_THREAD_REFERENCES, m, count, false, &sb);
	strbuf_reset(&sb);
	imap_thread_build(IMAP_THREAD_ORDEREDSUBJECT, m, count, true, &sb);
	struct imap_sort_program prog = {
		.criteria = {
			{ IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, true },
			{ IMAP_SORT_FROM, false }, { IMAP_SORT_TO, true },
			{ IMAP_SORT_CC, false }, { IMAP_SORT_SIZE, true },
			{ IMAP_SORT_ARRIVAL, false },
		},
		.count = 7,
	};
	imap_sort_messages(&prog, sm, count);

	for (size_t i = 0; i < count; i++)
		strbuf_free(&subj[i]);
	free(subj);
	free(sm);
	free(m);
	strbuf_free(&sb);
	free(text);
	return 0;
}
