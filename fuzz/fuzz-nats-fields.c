/* libFuzzer target: the nats sink's event-line scanner (sink-nats.c
 * nats_fields_scan), differentially: whatever the scan accepts must give
 * the same seq, event, user, mailboxID and uri as a full parse with
 * jansson; anything it refuses goes to that parse in the sink too. */
#include "../src/events/sink-nats.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_same(const struct strbuf *a, bool has_a,
		      const struct strbuf *b, bool has_b)
{
	if (has_a != has_b || strcmp(strbuf_str(a), strbuf_str(b)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nats_fields scan = { 0, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT,
				    STRBUF_INIT, false, false, false };
	struct nats_fields parse = { 0, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT,
				     STRBUF_INIT, false, false, false };
	const char *line = (const char *)data;
	if (nats_fields_scan(line, size, &scan)) {
		/* a line the scan takes is one jansson takes, with the
		 * same values (jansson refuses NUL bytes in strings and
		 * duplicate keys are the scan's own refusal) */
		json_error_t jerr;
		json_t *ev = json_loadb(line, size, JSON_REJECT_DUPLICATES,
					&jerr);
		if (ev != NULL && json_is_object(ev) &&
		    json_is_integer(json_object_get(ev, "seq")) &&
		    json_is_string(json_object_get(ev, "event"))) {
			if (!nats_fields_parse(line, size, &parse))
				abort();
			if (scan.seq != parse.seq)
				abort();
			fuzz_same(&scan.event, true, &parse.event, true);
			fuzz_same(&scan.user, scan.has_user, &parse.user,
				  parse.has_user);
			fuzz_same(&scan.mailbox_id, scan.has_mailbox_id,
				  &parse.mailbox_id, parse.has_mailbox_id);
			fuzz_same(&scan.uri, scan.has_uri, &parse.uri,
				  parse.has_uri);
			struct strbuf subject = STRBUF_INIT;
			nats_subject_build("t.<event>.<user>.<mailbox>", &scan,
					   &subject);
			strbuf_free(&subject);
		}
		json_decref(ev);
	}
	nats_fields_free(&scan);
	nats_fields_free(&parse);
	return 0;
}
