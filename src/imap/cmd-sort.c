/* SORT and THREAD (RFC 5256), ESORT (RFC 5267 §3) and the ESEARCH
 * responses of SEARCH RETURN (RFC 4731).  The algorithms are in
 * imap-sort.c and imap-thread.c; this file walks the view as do_search
 * does, reads the few header fields they need and writes the responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

/* References / In-Reply-To / Message-ID: only the tail is kept (the
 * threading uses the last IMAP_THREAD_MAX_REFERENCES ids anyway). */
#define SORT_MAX_ID_HEADER 16384

/* ---- ESEARCH (RFC 4731) ---- */

int imap_esearch_return_parse(const struct imap_arg *args, size_t count,
			      unsigned int *options_r, size_t *consumed_r,
			      const char **error_r)
{
	*options_r = 0;
	*consumed_r = 0;
	if (count == 0 || !imap_arg_is_atom(&args[0], "RETURN"))
		return 0;
	if (count < 2 || args[1].type != IMAP_ARG_LIST) {
		*error_r = "RETURN needs a list of return options";
		return -1;
	}
	const struct imap_arg *l = &args[1];
	for (size_t i = 0; i < l->count; i++) {
		const char *name;
		if (l->list[i].type != IMAP_ARG_ATOM || !imap_arg_atom(&l->list[i], &name)) {
			*error_r = "Invalid return option";
			return -1;
		}
		if (strcasecmp(name, "MIN") == 0)
			*options_r |= IMAP_ESEARCH_MIN;
		else if (strcasecmp(name, "MAX") == 0)
			*options_r |= IMAP_ESEARCH_MAX;
		else if (strcasecmp(name, "ALL") == 0)
			*options_r |= IMAP_ESEARCH_ALL;
		else if (strcasecmp(name, "COUNT") == 0)
			*options_r |= IMAP_ESEARCH_COUNT;
		else if (strcasecmp(name, "SAVE") == 0)
			*options_r |= IMAP_ESEARCH_SAVE;
		else {
			*error_r = "Unknown return option";
			return -1;
		}
	}
	/* RFC 4731 §3.1: RETURN () means RETURN (ALL). */
	if (*options_r == 0)
		*options_r = IMAP_ESEARCH_ALL;
	*consumed_r = 2;
	return 1;
}

void imap_esearch_write(struct strbuf *out, const char *tag, bool uid,
			unsigned int options, const uint32_t *nums, size_t count)
{
	strbuf_printf(out, "* ESEARCH (TAG \"%s\")", tag);
	if (uid)
		strbuf_appends(out, " UID");
	/* RFC 4731 §3.1: no MIN, MAX or ALL when nothing matched.  In sort
	 * order (ESORT) MIN and MAX are the first and last sorted. */
	if (count > 0 && (options & IMAP_ESEARCH_MIN))
		strbuf_printf(out, " MIN %u", nums[0]);
	if (count > 0 && (options & IMAP_ESEARCH_MAX))
		strbuf_printf(out, " MAX %u", nums[count - 1]);
	if (count > 0 && (options & IMAP_ESEARCH_ALL)) {
		/* Ranges only over ascending runs (RFC 5267 §3.2). */
		strbuf_appends(out, " ALL ");
		for (size_t i = 0; i < count;) {
			size_t j = i;
			while (j + 1 < count && nums[j + 1] == nums[j] + 1)
				j++;
			if (i > 0)
				strbuf_appendc(out, ',');
			if (j > i)
				strbuf_printf(out, "%u:%u", nums[i], nums[j]);
			else
				strbuf_printf(out, "%u", nums[i]);
			i = j + 1;
		}
	}
	if (options & IMAP_ESEARCH_COUNT)
		strbuf_printf(out, " COUNT %zu", count);
	strbuf_appends(out, "\r\n");
}

/* ---- searching and reading the header ---- */

struct sort_record {
	uint32_t seq;
	uint32_t uid;
	int64_t arrival;
	int64_t date;
	uint64_t size;
	char *from, *to, *cc, *subject;
	bool is_reply;
	char *message_id, *references, *in_reply_to;
};

struct sort_records {
	struct sort_record *recs;
	size_t count;
	size_t cap;
};

static void sort_records_free(struct sort_records *r)
{
	for (size_t i = 0; i < r->count; i++) {
		struct sort_record *x = &r->recs[i];
		free(x->from);
		free(x->to);
		free(x->cc);
		free(x->subject);
		free(x->message_id);
		free(x->references);
		free(x->in_reply_to);
	}
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

static char *header_address(const struct mime_message *mm, const char *name,
			    struct strbuf *tmp)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_reset(tmp);
	if (mime_header_raw(mm, &mm->root, name, tmp))
		imap_sort_address_mailbox(tmp->s, tmp->len, &out);
	strbuf_append(&out, "", 0);
	return strbuf_detach(&out, NULL);
}

static char *header_tail(const struct mime_message *mm, const char *name,
			 struct strbuf *tmp)
{
	strbuf_reset(tmp);
	if (!mime_header_raw(mm, &mm->root, name, tmp))
		return NULL;
	size_t skip = tmp->len > SORT_MAX_ID_HEADER ? tmp->len - SORT_MAX_ID_HEADER : 0;
	return xmemdupz(tmp->s + skip, tmp->len - skip);
}

/* The header block of a message: up to and including the blank line. */
static size_t header_length(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static void record_fill(struct sort_record *r, const char *data, size_t len)
{
	struct mime_message *mm = mime_parse(data, header_length(data, len));
	struct strbuf tmp = STRBUF_INIT;
	struct strbuf out = STRBUF_INIT;

	strbuf_reset(&tmp);
	if (mime_header_raw(mm, &mm->root, "Date", &tmp)) {
		time_t t;
		int tz;
		if (mime_parse_date(strbuf_str(&tmp), &t, &tz) == 0)
			r->date = (int64_t)t;
	}
	strbuf_reset(&tmp);
	if (mime_header_decoded(mm, &mm->root, "Subject", &tmp))
		r->is_reply = imap_sort_base_subject(tmp.s, tmp.len, &out);
	strbuf_append(&out, "", 0);
	free(r->subject);
	r->subject = strbuf_detach(&out, NULL);
	free(r->from);
	free(r->to);
	free(r->cc);
	r->from = header_address(mm, "From", &tmp);
	r->to = header_address(mm, "To", &tmp);
	r->cc = header_address(mm, "Cc", &tmp);
	r->message_id = header_tail(mm, "Message-ID", &tmp);
	r->references = header_tail(mm, "References", &tmp);
	r->in_reply_to = header_tail(mm, "In-Reply-To", &tmp);
	strbuf_free(&tmp);
	strbuf_free(&out);
	mime_message_free(&mm);
}

/* Runs the search over the view, like do_search, and collects the
 * matching messages (in sequence order); with want_header their header
 * fields too.  0, or -1 after answering NO. */
static int sort_collect(struct imap_session *s, const char *tag,
			const struct imap_search *search, bool want_header,
			struct sort_records *r)
{
	struct imap_view *v = s->view;
	struct store_message_list list = { 0 };
	struct store_error err;
	if (v->count > 0 &&
	    store_message_range(s->server->store, v->mailbox_id, v->uids[0],
				v->uids[v->count - 1], &list, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		return -1;
	}
	struct imap_search_context ctx = {
		.max_seq = (uint32_t)v->count,
		.max_uid = v->count ? v->uids[v->count - 1] : 0,
		.saved_uids = v->saved,    /* "$", RFC 5182 */
		.saved_count = v->saved_count,
	};
	bool needs_body = imap_search_needs_body(search);
	bool uses_annotations = imap_search_uses_annotations(search);
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		uint32_t seq = imap_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		struct imap_search_message sm;
		imap_view_search_message(v, m, seq, &sm);
		/* RFC 5257 §4.8 search keys (cmd-annotate.c) */
		struct imap_annotate_loaded *ann = uses_annotations ?
			imap_annotate_search_load(s, m->uid, &sm) : NULL;
		struct store_body body = { 0 };
		bool opened = false;
		int quick = needs_body ? imap_search_match_without_text(search, &ctx, &sm) : -1;
		if (quick == 0) {
			imap_annotate_loaded_free(&ann);
			continue;
		}
		if ((want_header || (quick < 0 && needs_body)) &&
		    store_body_open(s->server->store, m->body_id, &body, &err) == 0) {
			sm.data = body.data;
			sm.len = body.len;
			opened = true;
		}
		bool matched = quick > 0 || imap_search_match(search, &ctx, &sm);
		imap_annotate_loaded_free(&ann);
		if (matched) {
			if (r->count == r->cap) {
				r->cap = r->cap ? r->cap * 2 : 64;
				r->recs = xrealloc(r->recs, r->cap * sizeof(*r->recs));
			}
			struct sort_record *x = &r->recs[r->count++];
			memset(x, 0, sizeof(*x));
			x->seq = seq;
			x->uid = m->uid;
			x->arrival = m->internaldate;
			x->date = m->internaldate;   /* §2.2 fallback */
			x->size = m->size;
			if (want_header && opened)
				record_fill(x, body.data, body.len);
			if (x->subject == NULL)
				x->subject = xstrdup("");
			if (x->from == NULL)
				x->from = xstrdup("");
			if (x->to == NULL)
				x->to = xstrdup("");
			if (x->cc == NULL)
				x->cc = xstrdup("");
		}
		if (opened)
			store_body_close(&body);
	}
	store_message_list_free(&list);
	/* The view lists messages by UID, and sequence numbers follow UIDs,
	 * so the records are already in sequence order. */
	return 0;
}

/* Parses "charset key..." (after the sort criteria or the algorithm).
 * NULL after answering BAD or NO. */
static struct imap_search *sort_search_parse(struct imap_session *s,
					     const char *tag,
					     const struct imap_arg *args,
					     size_t count)
{
	static const struct imap_search_limits limits = { 64, 10000 };
	const char *charset, *error = NULL;
	size_t len;
	bool badcharset = false;
	struct imap_search *search = NULL;

	if (count == 0 || !imap_arg_astring(&args[0], &charset, &len)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Missing charset");
		return NULL;
	}
	if (count < 2) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Missing search criteria");
		return NULL;
	}
	/* Syntax first (a BAD wins over a NO), then the charset. */
	if (imap_search_parse(args + 1, count - 1, &limits, &search, &error,
			      &badcharset) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error ? error : "Invalid search");
		return NULL;
	}
	if (!imap_sort_charset_supported(charset)) {
		imap_search_free(&search);
		imap_session_tagged(s, tag, "NO", "BADCHARSET (UTF-8 US-ASCII)",
				    "Unsupported charset");
		return NULL;
	}
	return search;
}

/* RFC 5256 §3: no untagged EXPUNGE during SORT and THREAD (their UID
 * forms may have them); imap_session_flush_updates knows the rule. */
static void sort_done(struct imap_session *s, const char *tag, const char *text)
{
	imap_session_ok(s, tag, NULL, text);
}

/* ---- SORT ---- */

void imap_sort_run(struct imap_session *s, const char *tag,
		   const struct imap_arg *args, size_t count, bool uid)
{
	unsigned int options = 0;
	size_t used = 0;
	const char *error = NULL;
	struct imap_sort_program prog;

	int ret = imap_esearch_return_parse(args, count, &options, &used, &error);
	if (ret < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	/* SEARCHRES's SAVE is a SEARCH option (RFC 5182 §2.1) */
	if (options & IMAP_ESEARCH_SAVE) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "SAVE is not a SORT return option");
		return;
	}
	if (used > 0) {
		args += used;
		count -= used;
	}
	if (count == 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "SORT needs sort criteria");
		return;
	}
	if (imap_sort_program_parse(&args[0], &prog, &error) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	struct imap_search *search = sort_search_parse(s, tag, args + 1, count - 1);
	if (search == NULL)
		return;

	struct sort_records r = { 0 };
	if (sort_collect(s, tag, search, imap_sort_program_needs_header(&prog), &r) < 0) {
		imap_search_free(&search);
		return;
	}
	imap_search_free(&search);
	struct imap_sort_message *msgs = xcalloc(r.count ? r.count : 1, sizeof(*msgs));
	for (size_t i = 0; i < r.count; i++) {
		const struct sort_record *x = &r.recs[i];
		msgs[i] = (struct imap_sort_message){
			.seq = x->seq, .uid = x->uid, .arrival = x->arrival,
			.date = x->date, .size = x->size, .from = x->from,
			.to = x->to, .cc = x->cc, .subject = x->subject,
		};
	}
	imap_sort_messages(&prog, msgs, r.count);

	struct strbuf *o = &s->out;
	strbuf_reset(o);
	if (ret > 0) {
		uint32_t *nums = xcalloc(r.count ? r.count : 1, sizeof(*nums));
		for (size_t i = 0; i < r.count; i++)
			nums[i] = uid ? msgs[i].uid : msgs[i].seq;
		imap_esearch_write(o, tag, uid, options, nums, r.count);
		free(nums);
	} else {
		strbuf_appends(o, "* SORT");
		for (size_t i = 0; i < r.count; i++)
			strbuf_printf(o, " %u", uid ? msgs[i].uid : msgs[i].seq);
		strbuf_appends(o, "\r\n");
	}
	free(msgs);
	sort_records_free(&r);
	imap_session_send(s, o->s, o->len);
	sort_done(s, tag, "Sort completed.");
}

void cmd_sort(struct imap_session *s, struct imap_parsed_command *cmd)
{
	imap_sort_run(s, cmd->tag, cmd->args, cmd->arg_count, false);
}

/* ---- THREAD ---- */

void imap_thread_run(struct imap_session *s, const char *tag,
		     const struct imap_arg *args, size_t count, bool uid)
{
	const char *name;
	enum imap_thread_algorithm alg;
	if (count == 0 || args[0].type != IMAP_ARG_ATOM || !imap_arg_atom(&args[0], &name)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "THREAD needs an algorithm");
		return;
	}
	if (!imap_thread_algorithm_parse(name, &alg)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Unknown threading algorithm");
		return;
	}
	struct imap_search *search = sort_search_parse(s, tag, args + 1, count - 1);
	if (search == NULL)
		return;
	struct sort_records r = { 0 };
	if (sort_collect(s, tag, search, true, &r) < 0) {
		imap_search_free(&search);
		return;
	}
	imap_search_free(&search);
	struct imap_thread_message *msgs = xcalloc(r.count ? r.count : 1, sizeof(*msgs));
	for (size_t i = 0; i < r.count; i++) {
		const struct sort_record *x = &r.recs[i];
		msgs[i] = (struct imap_thread_message){
			.seq = x->seq, .uid = x->uid, .date = x->date,
			.subject = x->subject, .is_reply = x->is_reply,
			.message_id = x->message_id, .references = x->references,
			.in_reply_to = x->in_reply_to,
		};
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* THREAD");
	if (r.count > 0) {
		strbuf_appendc(o, ' ');
		imap_thread_build(alg, msgs, r.count, uid, o);
	}
	strbuf_appends(o, "\r\n");
	free(msgs);
	sort_records_free(&r);
	imap_session_send(s, o->s, o->len);
	sort_done(s, tag, "Thread completed.");
}

void cmd_thread(struct imap_session *s, struct imap_parsed_command *cmd)
{
	imap_thread_run(s, cmd->tag, cmd->args, cmd->arg_count, false);
}
