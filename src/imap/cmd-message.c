/* Selected-state commands: CHECK, CLOSE, UNSELECT, EXPUNGE, SEARCH, FETCH,
 * STORE, COPY, MOVE and their UID forms (RFC 3501 §6.4, UIDPLUS RFC 4315,
 * MOVE RFC 6851, UNSELECT RFC 3691). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

/* FETCH writes at most this much before waiting for the client to read. */
#define FETCH_OUTPUT_HIGH (1024 * 1024)
#define FETCH_CHUNK 256

/* ---- flags ---- */

static bool keyword_valid(const char *k)
{
	if (*k == '\0' || strlen(k) > 200)
		return false;
	for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
		/* atom-specials and '\' are not keyword characters */
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return true;
}

int imap_flags_parse(const struct imap_arg *list, uint32_t *flags_r,
		     struct strbuf *keywords, const char **error_r)
{
	const struct imap_arg *items = list;
	size_t count = 1;
	if (list->type == IMAP_ARG_LIST) {
		items = list->list;
		count = list->count;
	}
	*flags_r = 0;
	strbuf_reset(keywords);
	for (size_t i = 0; i < count; i++) {
		const char *f;
		if (!imap_arg_atom(&items[i], &f)) {
			*error_r = "Invalid flag";
			return -1;
		}
		if (f[0] == '\\') {
			uint32_t bit = store_flag_from_name(f);
			if (bit == 0) {
				*error_r = strcasecmp(f, "\\Recent") == 0 ?
					"\\Recent cannot be changed" : "Invalid system flag";
				return -1;
			}
			*flags_r |= bit;
			continue;
		}
		if (!keyword_valid(f)) {
			*error_r = "Invalid keyword";
			return -1;
		}
		/* skip duplicates (case-insensitive, RFC 3501 §2.3.2) */
		bool dup = false;
		const char *p = strbuf_str(keywords);
		size_t fl = strlen(f);
		while (*p != '\0') {
			const char *e = strchr(p, ' ');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			if (l == fl && strncasecmp(p, f, l) == 0)
				dup = true;
			p += l + (e ? 1 : 0);
		}
		if (dup)
			continue;
		if (keywords->len > 0)
			strbuf_appendc(keywords, ' ');
		strbuf_appends(keywords, f);
	}
	return 0;
}

/* ---- CHECK / CLOSE / UNSELECT / EXPUNGE ---- */

void cmd_check(struct imap_session *s, struct imap_parsed_command *cmd)
{
	/* Every change is durable when it is answered: nothing to do. */
	imap_session_ok(s, cmd->tag, NULL, "Check completed.");
}

void cmd_close(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct store_error err;
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "CLOSE takes no arguments");
		return;
	}
	int64_t mailbox_id = s->view->mailbox_id;
	bool readonly = s->view->readonly;
	/* RFC 4314 §4: without 'e' CLOSE expunges nothing, and says OK */
	bool may_expunge = (imap_view_rights(s) & IMAP_ACL_EXPUNGE) != 0;
	/* RFC 3501 §6.4.2: expunge silently, no EXPUNGE responses. */
	imap_session_unselect(s);
	if (!readonly && may_expunge) {
		int rc = store_message_expunge(s->server->store, &s->actor, mailbox_id,
					       NULL, 0, NULL, NULL, &err);
		imap_server_changed(s->server);
		if (rc < 0 && err.code != STORE_ERR_NONEXISTENT) {
			imap_session_store_error(s, cmd->tag, &err);
			return;
		}
	}
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Close completed.");
}

void cmd_unselect(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "UNSELECT takes no arguments");
		return;
	}
	imap_session_unselect(s);
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Unselect completed.");
}

static void do_expunge(struct imap_session *s, const char *tag,
		       const struct imap_arg *args, size_t count, bool uid)
{
	struct store_error err;
	uint32_t *uids = NULL;
	size_t n = 0;
	if (count != (uid ? 1u : 0u) || (uid && args[0].type != IMAP_ARG_ATOM)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    uid ? "UID EXPUNGE needs a UID set" : "EXPUNGE takes no arguments");
		return;
	}
	if (s->view->readonly) {
		imap_session_tagged(s, tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return;
	}
	if ((imap_view_rights(s) & IMAP_ACL_EXPUNGE) == 0) {   /* RFC 4314 §4 */
		imap_session_tagged(s, tag, "NO", "NOPERM", "No right to expunge");
		return;
	}
	if (uid) {
		const char *error;
		if (imap_view_resolve(s->view, args[0].str, true, &uids, &n, &error) < 0) {
			imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
			return;
		}
		/* RFC 4315 §2.1: only those of them that have \Deleted. */
		struct store_message_list list = { 0 };
		size_t w = 0;
		if (n > 0 && store_message_range(s->server->store, s->view->mailbox_id,
						 uids[0], uids[n - 1], &list, &err) == 0) {
			size_t j = 0;
			for (size_t i = 0; i < list.count; i++) {
				while (j < n && uids[j] < list.msgs[i].uid)
					j++;
				if (j < n && uids[j] == list.msgs[i].uid &&
				    (list.msgs[i].flags & STORE_FLAG_DELETED))
					uids[w++] = uids[j];
			}
			store_message_list_free(&list);
		}
		n = w;
		if (n == 0) {
			free(uids);
			imap_session_ok(s, tag, NULL, "Expunge completed.");
			return;
		}
	}
	size_t expunged = 0;
	int rc = store_message_expunge(s->server->store, &s->actor, s->view->mailbox_id,
				       uid ? uids : NULL, n, NULL, &expunged, &err);
	free(uids);
	imap_server_changed(s->server);
	if (rc < 0) {
		imap_session_store_error(s, tag, &err);
		return;
	}
	char code[64];
	imap_session_ok(s, tag, expunged > 0 ? imap_qresync_expunge_code(s, code, sizeof(code))
				       : NULL, "Expunge completed.");
}

void cmd_expunge(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_expunge(s, cmd->tag, cmd->args, cmd->arg_count, false);
}

/* ---- SEARCH ---- */

static void do_search(struct imap_session *s, const char *tag,
		      const struct imap_arg *args, size_t count, bool uid)
{
	struct imap_search *search = NULL;
	const char *error = NULL;
	bool badcharset = false;
	static const struct imap_search_limits limits = { 64, 10000 };
	struct store_error err;
	/* RFC 4731: a RETURN (...) before the keys asks for ESEARCH. */
	unsigned int esearch = 0;
	size_t used = 0;
	int ret = imap_esearch_return_parse(args, count, &esearch, &used, &error);
	if (ret < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	if (used > 0) {
		args += used;
		count -= used;
	}

	if (count == 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "SEARCH needs search keys");
		return;
	}
	/* RFC 9051 §6.4.4: a rev2 SEARCH answers ESEARCH (ALL by default) */
	if (esearch == 0 && imap_rev2_enabled(s))
		esearch = IMAP_ESEARCH_ALL;
	struct imap_search_limits session_limits;
	imap_search_limits_for(s, &limits, &session_limits);
	if (imap_search_parse(args, count, &session_limits, &search, &error, &badcharset) < 0) {
		if (badcharset)
			imap_session_tagged(s, tag, "NO", "BADCHARSET (UTF-8 US-ASCII)",
					    "Unsupported charset");
		else
			imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error ? error : "Invalid search");
		return;
	}
	struct imap_view *v = s->view;
	struct store_message_list list = { 0 };
	if (v->count > 0 &&
	    store_message_range(s->server->store, v->mailbox_id, v->uids[0],
				v->uids[v->count - 1], &list, &err) < 0) {
		imap_search_free(&search);
		/* RFC 5182 §2.1: a SAVE search answered NO empties "$" */
		imap_searchres_save(s, esearch, uid, NULL, 0);
		imap_session_store_error(s, tag, &err);
		return;
	}
	struct imap_search_context ctx = {
		.max_seq = (uint32_t)v->count,
		.max_uid = v->count ? v->uids[v->count - 1] : 0,
		.saved_uids = v->saved,
		.saved_count = v->saved_count,
	};
	bool needs_body = imap_search_needs_body(search);
	bool header_only = needs_body && imap_search_needs_header_only(search);
	struct strbuf header = STRBUF_INIT;
	/* RFC 7162 §3.1.5: a MODSEQ key enables CONDSTORE and the result
	 * carries the highest mod-sequence of the messages found. */
	bool uses_modseq = imap_search_uses_modseq(search);
	bool uses_annotations = imap_search_uses_annotations(search);
	uint64_t found_modseq = 0;
	if (uses_modseq)
		imap_condstore_enable(s);
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* SEARCH");
	uint32_t *found = NULL;
	size_t found_count = 0, found_cap = 0;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		uint32_t seq = imap_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		struct imap_search_message sm;
		imap_view_search_message(v, m, seq, &sm);
		/* RFC 5257 §4.8 (cmd-annotate.c) */
		struct imap_annotate_loaded *ann = uses_annotations ?
			imap_annotate_search_load(s, m->uid, &sm) : NULL;
		struct store_body body = { 0 };
		bool opened = false;
		/* Cheap keys first: most messages never need their text read. */
		int quick = needs_body ? imap_search_match_without_text(search, &ctx, &sm) : -1;
		/* header keys only: the (cached) header, not the whole body */
		if (quick < 0 && header_only &&
		    store_body_header(s->server->store, m->body_id, &header, &err) == 0) {
			sm.data = strbuf_str(&header);
			sm.len = header.len;
		} else if (quick < 0 && needs_body &&
		    store_body_open(s->server->store, m->body_id, &body, &err) == 0) {
			sm.data = body.data;
			sm.len = body.len;
			opened = true;
		}
		if (quick > 0 || (quick < 0 && imap_search_match(search, &ctx, &sm))) {
			if (m->modseq > found_modseq)
				found_modseq = m->modseq;
			if (esearch != 0) {
				if (found_count == found_cap) {
					found_cap = found_cap ? found_cap * 2 : 64;
					found = xrealloc(found, found_cap * sizeof(*found));
				}
				found[found_count++] = uid ? m->uid : seq;
			} else {
				strbuf_printf(o, " %u", uid ? m->uid : seq);
			}
		}
		if (opened)
			store_body_close(&body);
		imap_annotate_loaded_free(&ann);
	}
	strbuf_free(&header);
	if (uses_modseq && found_modseq > 0)
		strbuf_printf(o, " (MODSEQ %llu)", (unsigned long long)found_modseq);
	strbuf_appends(o, "\r\n");
	if (esearch != 0) {
		strbuf_reset(o);
		/* RFC 5182 §2.1: RETURN (SAVE) alone answers no ESEARCH */
		if ((esearch & ~(unsigned int)IMAP_ESEARCH_SAVE) != 0) {
			imap_esearch_write(o, tag, uid, esearch, found, found_count);
			if (uses_modseq && found_modseq > 0)
				imap_esearch_modseq_append(o, found_modseq);
		}
		imap_searchres_save(s, esearch, uid, found, found_count);
		free(found);
	}
	store_message_list_free(&list);
	imap_search_free(&search);
	imap_session_send(s, o->s, o->len);
	imap_session_ok(s, tag, NULL, "Search completed.");
}

void cmd_search(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_search(s, cmd->tag, cmd->args, cmd->arg_count, false);
}

/* ---- FETCH ---- */

static void fetch_job_free(struct imap_session *s)
{
	struct imap_fetch_job *job = s->fetch_job;
	if (job == NULL)
		return;
	s->fetch_job = NULL;
	imap_fetch_request_free(&job->req);
	free(job->uids);
	free(job->tag);
	free(job);
}

static void fetch_one(struct imap_session *s, struct imap_fetch_job *job,
		      const struct store_message *m, uint32_t seq)
{
	struct imap_view *v = s->view;
	struct imap_fetch_message fm = {
		.seq = seq, .uid = m->uid, .flags = m->flags,
		.recent = imap_view_is_recent(v, m->uid), .keywords = m->keywords,
		.internaldate = m->internaldate, .tz_offset = m->tz_offset,
		.size = m->size, .modseq = m->modseq,
	};
	struct store_body body = { 0 };
	struct mime_message *mime = NULL;
	struct store_error err;
	bool opened = false;
	if (job->req.needs_body || job->req.needs_mime) {
		if (store_body_open(s->server->store, m->body_id, &body, &err) < 0) {
			log_warn("imap: %s: message %u of %s unreadable: %s",
				 s->user.name, m->uid, v->name, err.msg);
			return;
		}
		opened = true;
		fm.data = body.data;
		fm.len = body.len;
		if (job->req.needs_mime) {
			mime = mime_parse(body.data, body.len);
			fm.mime = mime;
		}
	}
	/* RFC 5257 §4.4 (cmd-annotate.c) */
	struct strbuf ann = STRBUF_INIT;
	imap_annotate_fetch_fill(s, &job->req, m->uid, &ann, &fm);
	strbuf_reset(&s->out);
	/* RFC 3516 §4.3: a BINARY item that cannot be decoded fails the
	 * command (NO [UNKNOWN-CTE]); that message's response is left out. */
	if (imap_fetch_write_checked(&job->req, &fm, &s->out) < 0)
		job->unknown_cte = true;
	else
		imap_session_send(s, s->out.s, s->out.len);
	strbuf_free(&ann);
	mime_message_free(&mime);
	if (opened)
		store_body_close(&body);
}

void imap_fetch_job_continue(struct imap_session *s)
{
	struct imap_fetch_job *job = s->fetch_job;
	struct store_error err;
	while (job->next < job->count) {
		if (s->conn == NULL || s->closing) {
			fetch_job_free(s);
			return;
		}
		if (net_conn_output_pending(s->conn) > FETCH_OUTPUT_HIGH) {
			s->mode = IMAP_INPUT_PAUSED;
			return;
		}
		size_t end = job->next + FETCH_CHUNK;
		if (end > job->count)
			end = job->count;
		struct store_message_list list;
		if (store_message_range(s->server->store, s->view->mailbox_id,
					job->uids[job->next], job->uids[end - 1], &list, &err) < 0) {
			char *tag = xstrdup(job->tag);
			fetch_job_free(s);
			s->mode = IMAP_INPUT_COMMAND;
			imap_session_store_error(s, tag, &err);
			free(tag);
			return;
		}
		size_t j = 0, i;
		for (i = job->next; i < end; i++) {
			/* Pause after any message that fills the output. */
			if (i > job->next && (s->conn == NULL || s->closing ||
			    net_conn_output_pending(s->conn) > FETCH_OUTPUT_HIGH))
				break;
			while (j < list.count && list.msgs[j].uid < job->uids[i])
				j++;
			if (j < list.count && list.msgs[j].uid == job->uids[i]) {
				uint32_t seq = imap_view_seq(s->view, job->uids[i]);
				if (seq != 0 && list.msgs[j].modseq > job->changedsince)
					fetch_one(s, job, &list.msgs[j], seq);
			} else {
				job->vanished++;
			}
		}
		store_message_list_free(&list);
		job->next = i;
	}
	char *tag = xstrdup(job->tag);
	bool vanished = job->vanished > 0;
	bool unknown_cte = job->unknown_cte;
	const char *saved_name = s->cmd_name;
	bool saved_uid = s->cmd_uid;
	s->cmd_name = "FETCH";
	s->cmd_uid = job->uid_command;
	fetch_job_free(s);
	imap_session_flush_updates(s);
	s->cmd_name = saved_name;
	s->cmd_uid = saved_uid;
	if (unknown_cte)
		imap_session_tagged(s, tag, "NO", "UNKNOWN-CTE",
				    "Cannot decode the content-transfer-encoding of a section");
	else if (vanished)
		imap_session_tagged(s, tag, "NO", "EXPUNGEISSUED",
				    "Some of the requested messages no longer exist");
	else
		imap_session_tagged(s, tag, "OK", NULL, "Fetch completed.");
	free(tag);
	if (s->mode == IMAP_INPUT_PAUSED) {
		s->mode = IMAP_INPUT_COMMAND;
		/* NOTIFY SELECTED: what the FETCH held back goes out now */
		if (s->notify != NULL)
			imap_notify_command_done(s);
		imap_session_resume(s);
	}
}

static void do_fetch(struct imap_session *s, const char *tag,
		     const struct imap_arg *args, size_t count, bool uid)
{
	const char *error;
	uint32_t *uids = NULL;
	size_t n = 0;
	struct store_error err;
	if ((count != 2 && count != 3) || args[0].type != IMAP_ARG_ATOM) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "FETCH needs a sequence set and items");
		return;
	}
	struct imap_fetch_job *job = xcalloc(1, sizeof(*job));
	/* RFC 5257 §4.3: "FETCH set ANNOTATION (entries attribs)" is one
	 * fetch-att in two arguments: parse it as a list of both */
	struct imap_arg ann_pair = { .type = IMAP_ARG_LIST,
				     .list = (struct imap_arg *)&args[1],
				     .count = 2 };
	bool ann_single = count == 3 && imap_arg_is_atom(&args[1], "ANNOTATION");
	if (ann_single)
		count = 2;
	if (imap_fetch_parse(ann_single ? &ann_pair : &args[1], uid, &job->req,
			     &error) < 0) {
		free(job);
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	/* RFC 7162 §3.1.4, §3.2.6: (CHANGEDSINCE n [VANISHED]) */
	bool want_vanished = false;
	if (count == 3 && imap_fetch_modifiers_parse(s, &args[2], uid, &job->changedsince,
						     &want_vanished, &error) < 0) {
		imap_fetch_request_free(&job->req);
		free(job);
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	/* A UID command may carry EXPUNGE responses (RFC 3501 §7.4.1): send
	 * what is queued first, so UIDs expunged elsewhere are not asked for
	 * (the set is resolved against the view that is left). */
	if (uid)
		imap_session_flush_updates(s);
	if (imap_view_resolve(s->view, args[0].str, uid, &uids, &n, &error) < 0) {
		imap_fetch_request_free(&job->req);
		free(job);
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	/* RFC 7162 §3.1: MODSEQ or CHANGEDSINCE enables CONDSTORE, and
	 * CHANGEDSINCE implies the MODSEQ item (§3.1.4.1). */
	if (job->changedsince > 0)
		imap_fetch_request_add_modseq(&job->req);
	if (imap_fetch_request_has_modseq(&job->req))
		imap_condstore_enable(s);
	if (want_vanished)
		imap_fetch_vanished_send(s, args[0].str, job->changedsince);
	job->tag = xstrdup(tag);
	job->uid_command = uid;
	job->uids = uids;
	job->count = n;
	s->fetch_job = job;

	/* RFC 3501 §6.4.5: BODY[...] (not PEEK) sets \Seen; the FETCH
	 * responses then show it. */
	/* RFC 4314 §4: only with 's' */
	if (job->req.sets_seen && !s->view->readonly && n > 0 &&
	    (imap_view_rights(s) & IMAP_ACL_SEEN)) {
		uint32_t *changed = NULL;
		size_t nchanged = 0;
		if (store_message_flags(s->server->store, &s->actor, s->view->mailbox_id,
					uids, n, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL,
					&changed, &nchanged, &err) < 0)
			log_warn("imap: setting \\Seen: %s", err.msg);
		imap_server_changed(s->server);
		/* The FLAGS item is added so the client learns of it. */
		if (nchanged > 0) {
			bool has_flags = false;
			for (size_t i = 0; i < job->req.count; i++)
				has_flags |= job->req.items[i].kind == IMAP_FETCH_FLAGS;
			if (!has_flags) {
				job->req.items = xrealloc(job->req.items,
					(job->req.count + 1) * sizeof(*job->req.items));
				memset(&job->req.items[job->req.count], 0, sizeof(job->req.items[0]));
				job->req.items[job->req.count].kind = IMAP_FETCH_FLAGS;
				job->req.count++;
			}
			/* RFC 7162 §3.2.4: with MODSEQ once CONDSTORE is on */
			imap_fetch_request_add_seen_items(s, &job->req);
		}
		free(changed);
	}
	imap_fetch_job_continue(s);
}

void cmd_fetch(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_fetch(s, cmd->tag, cmd->args, cmd->arg_count, false);
}

/* ---- STORE ---- */

static void store_run(struct imap_session *s, const char *tag,
		      const struct imap_arg *args, size_t count, bool uid,
		      bool conditional, uint64_t unchangedsince)
{
	const char *error, *item;
	uint32_t *uids = NULL;
	size_t n = 0;
	struct store_error err;
	struct strbuf keywords = STRBUF_INIT;
	uint32_t flags;

	if (count < 3 || args[0].type != IMAP_ARG_ATOM || !imap_arg_atom(&args[1], &item)) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "STORE needs a set, an item and flags");
		return;
	}
	enum store_flag_op op = STORE_FLAGS_REPLACE;
	const char *p = item;
	if (*p == '+') {
		op = STORE_FLAGS_ADD;
		p++;
	} else if (*p == '-') {
		op = STORE_FLAGS_REMOVE;
		p++;
	}
	/* RFC 5257 §4.5 (cmd-annotate.c) */
	if (p == item && strcasecmp(p, "ANNOTATION") == 0) {
		imap_annotate_store_run(s, tag, args, count, uid, conditional,
					unchangedsince);
		return;
	}
	bool silent;
	if (strcasecmp(p, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(p, "FLAGS.SILENT") == 0)
		silent = true;
	else {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid STORE item");
		return;
	}
	/* flags: one list, or flags as separate atoms */
	if (count == 3 && args[2].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(&args[2], &flags, &keywords, &error) < 0)
			goto bad;
	} else {
		struct imap_arg tmp = { .type = IMAP_ARG_LIST, .list = (struct imap_arg *)&args[2],
					.count = count - 2 };
		for (size_t i = 2; i < count; i++)
			if (args[i].type != IMAP_ARG_ATOM) {
				error = "Invalid flag";
				goto bad;
			}
		if (imap_flags_parse(&tmp, &flags, &keywords, &error) < 0)
			goto bad;
	}
	if (imap_view_resolve(s->view, args[0].str, uid, &uids, &n, &error) < 0)
		goto bad;
	if (s->view->readonly) {
		imap_session_tagged(s, tag, "NO", "READ-ONLY", "Mailbox is read-only");
		goto out;
	}
	/* RFC 4314 §4: s for \Seen, t for \Deleted, w for the others */
	int acl = imap_acl_store_prepare(s, tag, op == STORE_FLAGS_REPLACE, conditional,
					 &flags, &keywords);
	if (acl < 0)
		goto out;
	/* RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE */
	if (conditional)
		imap_condstore_enable(s);
	uint32_t *modified = NULL;
	size_t nmodified = 0;
	if (n > 0) {
		int rc = acl > 0 ?
			imap_acl_flags_rewrite(s, s->view->mailbox_id, uids, n,
					       imap_view_rights(s), true, flags,
					       keywords.len ? keywords.s : "", &err) :
			conditional ?
			store_message_flags_unchanged(s->server->store, &s->actor,
						      s->view->mailbox_id, uids, n, op, flags,
						      keywords.len ? keywords.s : "",
						      unchangedsince, NULL, NULL,
						      &modified, &nmodified, &err) :
			store_message_flags(s->server->store, &s->actor, s->view->mailbox_id,
					    uids, n, op, flags,
					    keywords.len ? keywords.s : "", NULL, NULL, &err);
		imap_server_changed(s->server);
		if (rc < 0) {
			imap_session_store_error(s, tag, &err);
			goto out;
		}
	}
	/* RFC 7162 §3.1.3: a conditional STORE answers with MODSEQ even
	 * when .SILENT. */
	if ((!silent || conditional) && n > 0) {
		/* RFC 3501 §6.4.6: an untagged FETCH with the new flags of
		 * each message. */
		struct store_message_list list;
		if (store_message_range(s->server->store, s->view->mailbox_id, uids[0],
					uids[n - 1], &list, &err) == 0) {
			struct strbuf *o = &s->out;
			strbuf_reset(o);
			size_t j = 0;
			for (size_t i = 0; i < list.count; i++) {
				const struct store_message *m = &list.msgs[i];
				while (j < n && uids[j] < m->uid)
					j++;
				if (j >= n || uids[j] != m->uid)
					continue;
				imap_condstore_store_fetch_write(s, o, m, uid, silent,
								 modified, nmodified);
			}
			store_message_list_free(&list);
			imap_session_send(s, o->s, o->len);
		}
	}
	if (nmodified > 0) {
		/* RFC 7162 §3.1.3: [MODIFIED set] of those that failed */
		struct strbuf code = STRBUF_INIT;
		imap_condstore_modified_code(s, &code, modified, nmodified, uid);
		imap_session_ok(s, tag, code.s, "Conditional STORE failed");
		strbuf_free(&code);
	} else {
		imap_session_ok(s, tag, NULL, "Store completed.");
	}
	free(modified);
	goto out;
bad:
	imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
out:
	free(uids);
	strbuf_free(&keywords);
}

static void do_store(struct imap_session *s, const char *tag,
		     const struct imap_arg *args, size_t count, bool uid)
{
	/* RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE n) item flags */
	if (count >= 4 && args[1].type == IMAP_ARG_LIST) {
		uint64_t unchangedsince;
		const char *error;
		if (imap_store_modifiers_parse(&args[1], &unchangedsince, &error) < 0) {
			imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
			return;
		}
		struct imap_arg *rest = xmalloc((count - 1) * sizeof(*rest));
		rest[0] = args[0];
		memcpy(rest + 1, args + 2, (count - 2) * sizeof(*rest));
		store_run(s, tag, rest, count - 1, uid, true, unchangedsince);
		free(rest);
		return;
	}
	store_run(s, tag, args, count, uid, false, 0);
}

void cmd_store(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_store(s, cmd->tag, cmd->args, cmd->arg_count, false);
}

/* ---- COPY / MOVE ---- */

static void do_copy(struct imap_session *s, const char *tag,
		    const struct imap_arg *args, size_t count, bool uid, bool move)
{
	const char *error, *str;
	size_t len, n = 0;
	uint32_t *uids = NULL;
	struct strbuf name = STRBUF_INIT;
	struct store_error err;

	if (count != 2 || args[0].type != IMAP_ARG_ATOM ||
	    !imap_arg_astring(&args[1], &str, &len) || strlen(str) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Expected a sequence set and a mailbox");
		return;
	}
	if (imap_view_resolve(s->view, args[0].str, uid, &uids, &n, &error) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", error);
		return;
	}
	if (imap_mailbox_from_client(str, &name) < 0) {
		imap_session_tagged(s, tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		goto out;
	}
	if (move && s->view->readonly) {
		imap_session_tagged(s, tag, "NO", "READ-ONLY", "Mailbox is read-only");
		goto out;
	}
	/* RFC 4314 §4 (and RFC 6851 §4.3): MOVE expunges, so 't' and 'e' */
	if (move && (imap_view_rights(s) & (IMAP_ACL_DELETE_MESSAGES | IMAP_ACL_EXPUNGE)) !=
	    (IMAP_ACL_DELETE_MESSAGES | IMAP_ACL_EXPUNGE)) {
		imap_session_tagged(s, tag, "NO", "NOPERM", "No right to expunge here");
		goto out;
	}
	struct store_mailbox mb;
	uint32_t dst_rights;
	/* RFC 4314 §4: 'i' on the target */
	if (imap_mailbox_get(s, name.s, IMAP_ACL_INSERT, &mb, &dst_rights, &err) < 0) {
		if (err.code == STORE_ERR_NONEXISTENT)
			imap_session_tagged(s, tag, "NO", "TRYCREATE", "Mailbox does not exist");
		else
			imap_session_store_error(s, tag, &err);
		goto out;
	}
	if (mb.noselect) {
		imap_session_tagged(s, tag, "NO", "CANNOT", "Mailbox cannot hold messages");
		goto out;
	}
	if (n == 0) {
		imap_session_ok(s, tag, NULL, move ? "Move completed." : "Copy completed.");
		goto out;
	}
	uint32_t *src = NULL, *dst = NULL, uidvalidity = 0;
	size_t copied = 0;
	int rc = store_message_copy(s->server->store, &s->actor, s->view->mailbox_id,
				    uids, n, mb.id, move, &src, &dst, &copied,
				    &uidvalidity, &err);
	/* RFC 4314 §4: the copies keep only flags the user may set there */
	if (rc == 0 && dst_rights != IMAP_ACL_ALL && copied > 0)
		rc = imap_acl_flags_rewrite(s, mb.id, dst, copied, dst_rights, false,
					    0, "", &err);
	imap_server_changed(s->server);
	if (rc < 0) {
		imap_session_store_error(s, tag, &err);
		goto out;
	}
	struct strbuf code = STRBUF_INIT;
	if (copied > 0) {
		/* COPYUID pairs source and destination UIDs in order; both
		 * ascend, so each is written as a compact uid-set. */
		strbuf_printf(&code, "COPYUID %u ", uidvalidity);
		seqset_write_numbers(&code, src, copied);
		strbuf_appendc(&code, ' ');
		seqset_write_numbers(&code, dst, copied);
	}
	free(src);
	free(dst);
	if (move) {
		/* RFC 6851 §3.3: COPYUID in an untagged OK before the
		 * EXPUNGE responses. */
		if (code.len > 0)
			imap_session_sendf(s, "* OK [%s] Moved UIDs.\r\n", code.s);
		char hms[64];
		imap_session_ok(s, tag, copied > 0 ? imap_qresync_expunge_code(s, hms, sizeof(hms))
					   : NULL, "Move completed.");
	} else {
		imap_session_ok(s, tag, code.len ? code.s : NULL, "Copy completed.");
	}
	strbuf_free(&code);
out:
	free(uids);
	strbuf_free(&name);
}

void cmd_copy(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_copy(s, cmd->tag, cmd->args, cmd->arg_count, false, false);
}

void cmd_move(struct imap_session *s, struct imap_parsed_command *cmd)
{
	do_copy(s, cmd->tag, cmd->args, cmd->arg_count, false, true);
}

/* ---- UID ---- */

void cmd_uid(struct imap_session *s, struct imap_parsed_command *cmd)
{
	const char *sub;
	if (cmd->arg_count < 1 || !imap_arg_atom(&cmd->args[0], &sub)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "UID needs a command");
		return;
	}
	const struct imap_arg *args = cmd->args + 1;
	size_t count = cmd->arg_count - 1;
	s->cmd_uid = true;
	if (strcasecmp(sub, "FETCH") == 0) {
		s->cmd_name = "FETCH";
		do_fetch(s, cmd->tag, args, count, true);
	} else if (strcasecmp(sub, "STORE") == 0) {
		s->cmd_name = "STORE";
		do_store(s, cmd->tag, args, count, true);
	} else if (strcasecmp(sub, "SEARCH") == 0) {
		s->cmd_name = "SEARCH";
		do_search(s, cmd->tag, args, count, true);
	} else if (strcasecmp(sub, "COPY") == 0) {
		s->cmd_name = "COPY";
		do_copy(s, cmd->tag, args, count, true, false);
	} else if (strcasecmp(sub, "MOVE") == 0) {
		s->cmd_name = "MOVE";
		do_copy(s, cmd->tag, args, count, true, true);
	} else if (strcasecmp(sub, "EXPUNGE") == 0) {
		s->cmd_name = "EXPUNGE";
		do_expunge(s, cmd->tag, args, count, true);
	} else if (strcasecmp(sub, "SORT") == 0) {
		s->cmd_name = "SORT";
		imap_sort_run(s, cmd->tag, args, count, true);
	} else if (strcasecmp(sub, "THREAD") == 0) {
		s->cmd_name = "THREAD";
		imap_thread_run(s, cmd->tag, args, count, true);
	} else {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Unknown UID command");
	}
}

/* ---- IDLE (RFC 2177) ---- */

void cmd_idle(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "IDLE takes no arguments");
		return;
	}
	free(s->pending_tag);
	s->pending_tag = xstrdup(cmd->tag);
	s->mode = IMAP_INPUT_IDLE;
	imap_reader_set_line_mode(s->reader, true);
	imap_session_sends(s, "+ idling\r\n");
	s->cmd_name = NULL;
	imap_session_flush_updates(s);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	char *tag = s->pending_tag;
	s->pending_tag = NULL;
	s->mode = IMAP_INPUT_COMMAND;
	imap_reader_set_line_mode(s->reader, false);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_session_ok(s, tag, NULL, "Idle completed.");
	} else {
		s->bad_commands++;
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Expected DONE");
	}
	free(tag);
}
