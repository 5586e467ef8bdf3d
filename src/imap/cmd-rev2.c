/* IMAP4rev2 (RFC 9051) beside IMAP4rev1, and UTF8=ACCEPT (RFC 6855): the
 * session-side rules that ENABLE IMAP4rev2 / ENABLE UTF8=ACCEPT switch
 * on.  A session that enabled neither sees exactly IMAP4rev1.
 *
 * What a rev2 session sees differently (RFC 9051 Appendix E):
 *  - no \Recent in FLAGS, no RECENT response (item 12), and SEARCH keys
 *    RECENT, NEW, OLD are not in the rev2 grammar (BAD);
 *  - SEARCH answers with ESEARCH (item 4; RFC 9051 §6.4.4);
 *  - unsolicited FETCH responses carry UID (item 21);
 *  - mailbox names in UTF-8, not modified UTF-7 (item 16), as after
 *    ENABLE UTF8=ACCEPT;
 *  - STATUS SIZE (item 3; RFC 8438) is answered for every session.
 * The rest of Appendix E (CLOSED, UNSELECT, MOVE, NAMESPACE, ESEARCH,
 * LIST-STATUS, BINARY FETCH, DELETED) Tidings does for rev1 too. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "lib/text.h"
#include "lib/xalloc.h"

/* Mailbox names are written and read by helpers that know no session
 * (imap_mailbox_write, imap_mailbox_from_client): the session whose
 * command runs sets the form here for the command's duration.  Tidings
 * runs all sessions on one loop thread. */
static bool rev2_names_utf8;

bool imap_rev2_enabled(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLE_IMAP4REV2) != 0;
}

bool imap_utf8_enabled(const struct imap_session *s)
{
	return (s->enabled & (IMAP_ENABLE_IMAP4REV2 | IMAP_ENABLE_UTF8_ACCEPT)) != 0;
}

void imap_mailbox_names_utf8_set(bool on)
{
	rev2_names_utf8 = on;
}

bool imap_mailbox_names_utf8(void)
{
	return rev2_names_utf8;
}

void imap_rev2_enable(struct imap_session *s, unsigned int bit)
{
	if (bit == IMAP_ENABLE_IMAP4REV2 && s->view != NULL)
		s->view->no_recent = true;
	/* The rest of this command's responses (ENABLED's OK) may use the
	 * new form already. */
	if (bit == IMAP_ENABLE_IMAP4REV2 || bit == IMAP_ENABLE_UTF8_ACCEPT)
		imap_mailbox_names_utf8_set(true);
}

void imap_search_limits_for(const struct imap_session *s,
			    const struct imap_search_limits *base,
			    struct imap_search_limits *out)
{
	*out = *base;
	out->no_recent_keys = imap_rev2_enabled(s);
	out->no_charset = (s->enabled & IMAP_ENABLE_UTF8_ACCEPT) != 0;
}

int imap_mailbox_name_utf8_check(const char *name)
{
	size_t len = strlen(name);
	if (!utf8_valid(name, len))
		return -1;
	/* RFC 6855 §3: no control characters (C0, DEL, C1), no U+2028 or
	 * U+2029 in a mailbox name. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c == 0xc2 && i + 1 < len &&
		    (unsigned char)name[i + 1] >= 0x80 &&
		    (unsigned char)name[i + 1] <= 0x9f)
			return -1;
		if (c == 0xe2 && i + 2 < len &&
		    (unsigned char)name[i + 1] == 0x80 &&
		    ((unsigned char)name[i + 2] == 0xa8 ||
		     (unsigned char)name[i + 2] == 0xa9))
			return -1;
	}
	return 0;
}

bool imap_status_size_item(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "SIZE");
}

void imap_status_size_write(struct imap_session *s, struct strbuf *o,
			    const struct store_mailbox *mb)
{
	struct store_message_list list;
	struct store_error err;
	uint64_t bytes = 0;

	/* RFC 8438 §3: the total of the messages' RFC822.SIZE */
	if (mb->messages > 0 &&
	    store_message_range(s->server->store, mb->id, 1, UINT32_MAX, &list,
				&err) == 0) {
		for (size_t i = 0; i < list.count; i++)
			bytes += list.msgs[i].size;
		store_message_list_free(&list);
	}
	strbuf_printf(o, "SIZE %" PRIu64, bytes);
}

int imap_append_message_arg(const struct imap_session *s,
			    const struct imap_arg *args, size_t count,
			    size_t i, const struct imap_arg **msg_r,
			    const char **error_r)
{
	/* RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")" */
	if (i < count && args[i].type == IMAP_ARG_ATOM &&
	    imap_arg_is_atom(&args[i], "UTF8")) {
		if ((s->enabled & (IMAP_ENABLE_UTF8_ACCEPT |
				   IMAP_ENABLE_IMAP4REV2)) == 0) {
			*error_r = "APPEND UTF8 needs ENABLE UTF8=ACCEPT";
			return -1;
		}
		if (i + 2 != count || args[i + 1].type != IMAP_ARG_LIST ||
		    args[i + 1].count != 1 ||
		    args[i + 1].list[0].type != IMAP_ARG_LITERAL ||
		    !args[i + 1].list[0].literal8) {
			*error_r = "APPEND UTF8 takes (~{n} message)";
			return -1;
		}
		*msg_r = &args[i + 1].list[0];
		return 0;
	}
	if (i + 1 != count || args[i].type != IMAP_ARG_LITERAL) {
		*error_r = i + 1 < count ? "MULTIAPPEND is not supported" :
			   "APPEND needs the message as a literal";
		return -1;
	}
	*msg_r = &args[i];
	return 0;
}

void imap_searchres_save(struct imap_session *s, unsigned int options,
			 bool uid, const uint32_t *nums, size_t count)
{
	struct imap_view *v = s->view;
	size_t n = count;

	if ((options & IMAP_ESEARCH_SAVE) == 0 || v == NULL)
		return;
	/* RFC 5182 §2.4: SAVE with MIN and/or MAX only keeps those */
	bool all = (options & (IMAP_ESEARCH_ALL | IMAP_ESEARCH_COUNT)) != 0 ||
		   (options & (IMAP_ESEARCH_MIN | IMAP_ESEARCH_MAX)) == 0;
	uint32_t pick[2];
	size_t npick = 0;
	if (!all && count > 0) {
		if (options & IMAP_ESEARCH_MIN)
			pick[npick++] = nums[0];
		if ((options & IMAP_ESEARCH_MAX) &&
		    (npick == 0 || nums[count - 1] != pick[0]))
			pick[npick++] = nums[count - 1];
		nums = pick;
		n = npick;
	} else if (!all) {
		n = 0;
	}
	free(v->saved);
	v->saved = NULL;
	v->saved_count = 0;
	if (n == 0)
		return;
	v->saved = xmalloc(n * sizeof(*v->saved));
	for (size_t i = 0; i < n; i++) {
		uint32_t u = uid ? nums[i] : (nums[i] >= 1 && nums[i] <= v->count ?
					      v->uids[nums[i] - 1] : 0);
		if (u != 0)
			v->saved[v->saved_count++] = u;
	}
}
