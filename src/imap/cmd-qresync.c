/* CONDSTORE and QRESYNC (RFC 7162): mod-sequence arguments, the implicit
 * enabling of CONDSTORE, the SELECT/EXAMINE parameters, the FETCH and
 * STORE modifiers and the VANISHED response.  The commands themselves
 * (cmd-message.c, cmd-mailbox.c) call in here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Longest VANISHED line we build before starting another one. */
#define VANISHED_LINE_MAX (64 * 1024)

/* mod-sequence-value is 1..2^63-1; mod-sequence-valzer adds 0 (RFC 7162
 * §7). */
int imap_modseq_parse(const struct imap_arg *arg, bool allow_zero,
		      uint64_t *modseq_r)
{
	uint64_t n;
	if (!imap_arg_number64(arg, &n) || (n == 0 && !allow_zero))
		return -1;
	*modseq_r = n;
	return 0;
}

bool imap_condstore_enabled(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLE_CONDSTORE) != 0;
}

bool imap_qresync_enabled(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLE_QRESYNC) != 0;
}

void imap_condstore_enable(struct imap_session *s)
{
	if (imap_condstore_enabled(s))
		return;
	s->enabled |= IMAP_ENABLE_CONDSTORE;
	/* RFC 7162 §3.1: the first CONDSTORE enabling command with a
	 * mailbox selected returns its HIGHESTMODSEQ. */
	if (s->view == NULL)
		return;
	struct store_mailbox mb;
	struct store_error err;
	if (store_mailbox_get_by_id(s->server->store, s->view->mailbox_id, &mb,
				    &err) < 0)
		return;
	imap_session_sendf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			   (unsigned long long)mb.highestmodseq);
}

void imap_vanished_write(struct imap_session *s, bool earlier,
			 const uint32_t *uids, size_t count)
{
	struct strbuf line = STRBUF_INIT;
	size_t i = 0;
	while (i < count) {
		/* Long lists are split over several responses, each a
		 * valid known-uids set. */
		size_t j = i;
		size_t budget = VANISHED_LINE_MAX / 12;
		while (j < count && j - i < budget)
			j++;
		strbuf_reset(&line);
		strbuf_appends(&line, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
		seqset_write_numbers(&line, uids + i, j - i);
		strbuf_appends(&line, "\r\n");
		imap_session_send(s, line.s, line.len);
		i = j;
	}
	strbuf_free(&line);
}

const char *imap_qresync_expunge_code(struct imap_session *s, char *code,
				      size_t size)
{
	/* RFC 7162 §3.2.9: "If at least one message got expunged and
	 * QRESYNC was enabled, the server MUST send the updated
	 * per-mailbox modification sequence" in the tagged OK.  The loop
	 * runs no other session between the store change and here. */
	struct store_mailbox mb;
	struct store_error err;
	if (!imap_qresync_enabled(s) || s->view == NULL ||
	    store_mailbox_get_by_id(s->server->store, s->view->mailbox_id, &mb,
				    &err) < 0)
		return NULL;
	snprintf(code, size, "HIGHESTMODSEQ %llu",
		 (unsigned long long)mb.highestmodseq);
	return code;
}

/* ---- SELECT / EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5) ---- */

static bool qresync_set_valid(const struct imap_arg *arg, bool star_ok)
{
	struct seqset set;
	if (arg->type != IMAP_ARG_ATOM || arg->str == NULL ||
	    seqset_parse(arg->str, &set) < 0)
		return false;
	bool ok = true;
	for (size_t i = 0; i < set.count && !star_ok; i++)
		if (set.ranges[i].lo == SEQSET_STAR || set.ranges[i].hi == SEQSET_STAR)
			ok = false;
	seqset_free(&set);
	return ok;
}

static int qresync_parse(const struct imap_arg *l, struct imap_select_params *p,
			 const char **error_r)
{
	/* (uidvalidity mod-sequence-value [known-uids [seq-match-data]]) */
	if (l->type != IMAP_ARG_LIST || l->count < 2 || l->count > 4) {
		*error_r = "QRESYNC needs (uidvalidity modseq [known-uids [seq-match]])";
		return -1;
	}
	uint32_t uidvalidity;
	if (!imap_arg_number(&l->list[0], &uidvalidity) || uidvalidity == 0) {
		*error_r = "Invalid QRESYNC UIDVALIDITY";
		return -1;
	}
	if (imap_modseq_parse(&l->list[1], false, &p->modseq) < 0) {
		*error_r = "Invalid QRESYNC mod-sequence";
		return -1;
	}
	p->uidvalidity = uidvalidity;
	if (l->count >= 3) {
		/* RFC 7162 §3.2.5: known-uids is a sequence-set of UIDs; '*'
		 * is not meaningful in it. */
		if (!qresync_set_valid(&l->list[2], false)) {
			*error_r = "Invalid QRESYNC known UIDs";
			return -1;
		}
		p->known_uids = xstrdup(l->list[2].str);
	}
	if (l->count == 4) {
		const struct imap_arg *m = &l->list[3];
		/* seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
		if (m->type != IMAP_ARG_LIST || m->count != 2 ||
		    !qresync_set_valid(&m->list[0], false) ||
		    !qresync_set_valid(&m->list[1], false)) {
			*error_r = "Invalid QRESYNC sequence match data";
			return -1;
		}
		/* Every expunge is kept (the expunged table is never pruned
		 * while UIDVALIDITY holds), so the exact answer needs no hint
		 * from the client: the data is checked, then not needed. */
	}
	return 0;
}

int imap_select_params_parse(struct imap_session *s, const struct imap_arg *args,
			     size_t count, struct imap_select_params *p,
			     const char **error_r)
{
	memset(p, 0, sizeof(*p));
	if (count == 0)
		return 0;
	if (count != 1 || args[0].type != IMAP_ARG_LIST || args[0].count == 0) {
		*error_r = "Invalid SELECT parameters";
		return -1;
	}
	const struct imap_arg *l = args[0].list;
	for (size_t i = 0; i < args[0].count; i++) {
		if (imap_arg_is_atom(&l[i], "CONDSTORE")) {
			if (p->condstore) {
				*error_r = "CONDSTORE given twice";
				return -1;
			}
			p->condstore = true;
		} else if (imap_arg_is_atom(&l[i], "QRESYNC")) {
			/* RFC 7162 §3.2.5: BAD unless QRESYNC was ENABLEd. */
			if (!imap_qresync_enabled(s)) {
				*error_r = "QRESYNC was not enabled";
				return -1;
			}
			if (p->qresync || i + 1 >= args[0].count) {
				*error_r = "Invalid QRESYNC parameter";
				return -1;
			}
			if (qresync_parse(&l[++i], p, error_r) < 0) {
				imap_select_params_free(p);
				return -1;
			}
			p->qresync = true;
		} else if (imap_arg_is_atom(&l[i], "ANNOTATE")) {
			/* RFC 5257 §4.2: accepted; the unsolicited ANNOTATION
			 * FETCH it asks for is a SHOULD Tidings leaves to
			 * NOTIFY's AnnotationChange (docs/metadata.md) */
		} else {
			imap_select_params_free(p);
			*error_r = "Unknown SELECT parameter";
			return -1;
		}
	}
	return 0;
}

void imap_select_params_free(struct imap_select_params *p)
{
	free(p->known_uids);
	p->known_uids = NULL;
}

void imap_select_params_begin(struct imap_session *s,
			      const struct imap_select_params *p)
{
	/* RFC 7162 §3.1.8: SELECT (CONDSTORE) is an enabling command.  No
	 * mailbox is selected at this point, so no extra HIGHESTMODSEQ. */
	if (p->condstore || p->qresync)
		imap_condstore_enable(s);
}

/* The FETCH sent for a changed message during resynchronisation and for
 * unsolicited flag updates: UID, FLAGS, MODSEQ (RFC 7162 §3.2.4). */
static void qresync_fetch_write(struct imap_session *s, struct strbuf *o,
				uint32_t seq, const struct store_message *m)
{
	strbuf_printf(o, "* %u FETCH (UID %u FLAGS ", seq, m->uid);
	imap_flags_write(o, m->flags, m->keywords, imap_view_is_recent(s->view, m->uid));
	strbuf_printf(o, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
}

void imap_select_params_respond(struct imap_session *s,
				const struct store_mailbox *mb,
				const struct imap_select_params *p)
{
	if (!imap_condstore_enabled(s))
		return;
	imap_session_sendf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			   (unsigned long long)mb->highestmodseq);
	/* RFC 7162 §3.2.5: another UIDVALIDITY means the client's cache is
	 * void; the rest of the parameters are ignored. */
	if (!p->qresync || p->uidvalidity != mb->uidvalidity || s->view == NULL)
		return;
	struct seqset known = { 0 };
	bool have_known = p->known_uids != NULL &&
			  seqset_parse(p->known_uids, &known) == 0;
	if (have_known)
		seqset_resolve(&known, mb->uidnext > 0 ? mb->uidnext - 1 : 0);
	struct store_error err;
	uint32_t *gone = NULL;
	size_t ngone = 0;
	if (store_message_expunged_since(s->server->store, mb->id, p->modseq,
					 &gone, &ngone, &err) == 0) {
		size_t w = 0;
		for (size_t i = 0; i < ngone; i++)
			if (!have_known || seqset_contains(&known, gone[i]))
				gone[w++] = gone[i];
		if (w > 0)
			imap_vanished_write(s, true, gone, w);
	}
	free(gone);
	struct store_message_list list;
	if (store_message_range(s->server->store, mb->id, 1, UINT32_MAX, &list, &err) == 0) {
		struct strbuf o = STRBUF_INIT;
		for (size_t i = 0; i < list.count; i++) {
			const struct store_message *m = &list.msgs[i];
			if (m->modseq <= p->modseq ||
			    (have_known && !seqset_contains(&known, m->uid)))
				continue;
			uint32_t seq = imap_view_seq(s->view, m->uid);
			if (seq != 0)
				qresync_fetch_write(s, &o, seq, m);
			if (o.len > VANISHED_LINE_MAX) {
				imap_session_send(s, o.s, o.len);
				strbuf_reset(&o);
			}
		}
		if (o.len > 0)
			imap_session_send(s, o.s, o.len);
		strbuf_free(&o);
		store_message_list_free(&list);
	}
	if (have_known)
		seqset_free(&known);
}

/* ---- FETCH modifiers (RFC 7162 §3.1.4, §3.2.6) ---- */

int imap_fetch_modifiers_parse(struct imap_session *s, const struct imap_arg *arg,
			       bool uid, uint64_t *changedsince_r,
			       bool *vanished_r, const char **error_r)
{
	*changedsince_r = 0;
	*vanished_r = false;
	bool have_changedsince = false;
	if (arg->type != IMAP_ARG_LIST || arg->count == 0) {
		*error_r = "Invalid FETCH modifiers";
		return -1;
	}
	for (size_t i = 0; i < arg->count; i++) {
		const struct imap_arg *a = &arg->list[i];
		if (imap_arg_is_atom(a, "CHANGEDSINCE") && !have_changedsince) {
			if (i + 1 >= arg->count ||
			    imap_modseq_parse(&arg->list[i + 1], false, changedsince_r) < 0) {
				*error_r = "CHANGEDSINCE needs a mod-sequence (1 to 2^63-1)";
				return -1;
			}
			have_changedsince = true;
			i++;
		} else if (imap_arg_is_atom(a, "VANISHED") && !*vanished_r) {
			*vanished_r = true;
		} else {
			*error_r = "Unknown FETCH modifier";
			return -1;
		}
	}
	if (*vanished_r) {
		/* RFC 7162 §3.2.6: UID FETCH only, with CHANGEDSINCE, once
		 * QRESYNC is enabled; BAD otherwise. */
		if (!imap_qresync_enabled(s)) {
			*error_r = "VANISHED needs ENABLE QRESYNC";
			return -1;
		}
		if (!uid) {
			*error_r = "VANISHED is only allowed with UID FETCH";
			return -1;
		}
		if (!have_changedsince) {
			*error_r = "VANISHED needs CHANGEDSINCE";
			return -1;
		}
	}
	return 0;
}

static void fetch_request_add_item(struct imap_fetch_request *req,
				   enum imap_fetch_item_kind kind)
{
	for (size_t i = 0; i < req->count; i++)
		if (req->items[i].kind == kind)
			return;
	req->items = xrealloc(req->items, (req->count + 1) * sizeof(*req->items));
	memset(&req->items[req->count], 0, sizeof(req->items[0]));
	req->items[req->count].kind = kind;
	req->count++;
}

void imap_fetch_request_add_modseq(struct imap_fetch_request *req)
{
	fetch_request_add_item(req, IMAP_FETCH_MODSEQ);
}

void imap_fetch_request_add_seen_items(struct imap_session *s,
				       struct imap_fetch_request *req)
{
	/* RFC 7162 §3.2.4 (on a server that offers QRESYNC): UID and
	 * MODSEQ once any CONDSTORE enabling command was seen */
	if (imap_condstore_enabled(s)) {
		fetch_request_add_item(req, IMAP_FETCH_UID);
		fetch_request_add_item(req, IMAP_FETCH_MODSEQ);
	}
}

bool imap_fetch_request_has_modseq(const struct imap_fetch_request *req)
{
	for (size_t i = 0; i < req->count; i++)
		if (req->items[i].kind == IMAP_FETCH_MODSEQ)
			return true;
	return false;
}

void imap_fetch_vanished_send(struct imap_session *s, const char *set,
			      uint64_t changedsince)
{
	struct seqset req;
	if (seqset_parse(set, &req) < 0)
		return;
	struct store_mailbox mb;
	struct store_error err;
	uint32_t *gone = NULL;
	size_t ngone = 0;
	if (store_mailbox_get_by_id(s->server->store, s->view->mailbox_id, &mb, &err) == 0 &&
	    store_message_expunged_since(s->server->store, s->view->mailbox_id,
					 changedsince, &gone, &ngone, &err) == 0) {
		seqset_resolve(&req, mb.uidnext > 0 ? mb.uidnext - 1 : 0);
		size_t w = 0;
		for (size_t i = 0; i < ngone; i++)
			if (seqset_contains(&req, gone[i]))
				gone[w++] = gone[i];
		if (w > 0)
			imap_vanished_write(s, true, gone, w);
	}
	free(gone);
	seqset_free(&req);
}

/* ---- STORE modifier (RFC 7162 §3.1.3) ---- */

int imap_store_modifiers_parse(const struct imap_arg *arg, uint64_t *unchangedsince_r,
			       const char **error_r)
{
	if (arg->type != IMAP_ARG_LIST || arg->count != 2 ||
	    !imap_arg_is_atom(&arg->list[0], "UNCHANGEDSINCE")) {
		*error_r = "Unknown STORE modifier";
		return -1;
	}
	if (imap_modseq_parse(&arg->list[1], true, unchangedsince_r) < 0) {
		*error_r = "UNCHANGEDSINCE needs a mod-sequence (0 to 2^63-1)";
		return -1;
	}
	return 0;
}

static bool uids_contain(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void imap_condstore_store_fetch_write(struct imap_session *s, struct strbuf *o,
				      const struct store_message *m, bool uid,
				      bool silent, const uint32_t *modified,
				      size_t nmodified)
{
	bool failed = uids_contain(modified, nmodified, m->uid);
	bool condstore = imap_condstore_enabled(s);
	strbuf_printf(o, "* %u FETCH (", imap_view_seq(s->view, m->uid));
	/* RFC 7162 §3.2.4: UID too once CONDSTORE is enabled */
	if (uid || condstore)
		strbuf_printf(o, "UID %u ", m->uid);
	/* A message that failed the test is shown as it is now, so the
	 * client need not ask (RFC 7162 §3.1.3, Example 6); a silent one
	 * that passed gets only its MODSEQ. */
	if (!silent || failed) {
		strbuf_appends(o, "FLAGS ");
		imap_flags_write(o, m->flags, m->keywords,
				 imap_view_is_recent(s->view, m->uid));
		if (condstore)
			strbuf_appendc(o, ' ');
	}
	if (condstore)
		strbuf_printf(o, "MODSEQ (%llu)", (unsigned long long)m->modseq);
	strbuf_appends(o, ")\r\n");
}

void imap_condstore_modified_code(struct imap_session *s, struct strbuf *code,
				  const uint32_t *modified, size_t nmodified,
				  bool uid)
{
	strbuf_appends(code, "MODIFIED ");
	if (uid) {
		seqset_write_numbers(code, modified, nmodified);
		return;
	}
	uint32_t *seqs = xmalloc((nmodified ? nmodified : 1) * sizeof(*seqs));
	size_t n = 0;
	for (size_t i = 0; i < nmodified; i++) {
		uint32_t seq = imap_view_seq(s->view, modified[i]);
		if (seq != 0)
			seqs[n++] = seq;
	}
	/* UIDs ascend, so do their sequence numbers */
	seqset_write_numbers(code, seqs, n);
	free(seqs);
}

void imap_esearch_modseq_append(struct strbuf *o, uint64_t modseq)
{
	/* RFC 7162 §3.1.5: "MODSEQ n" is the last return data item */
	if (o->len >= 2 && o->s[o->len - 2] == '\r' && o->s[o->len - 1] == '\n') {
		o->len -= 2;
		o->s[o->len] = '\0';
	}
	strbuf_printf(o, " MODSEQ %llu\r\n", (unsigned long long)modseq);
}
