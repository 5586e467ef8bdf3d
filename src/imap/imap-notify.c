/* The NOTIFY matcher (RFC 5465): a consumer of the event pump that finds
 * the NOTIFY sessions an outbox event concerns through an index by user id
 * and writes the unsolicited responses of §5 to them at once.
 *
 * The selected mailbox keeps its own path (server_on_event queues the
 * view's updates first); here we only decide that those updates go out now
 * rather than at the end of the next command, and add the FETCH of
 * MessageNew's fetch-att.  Everything else (STATUS, LIST) is written here.
 */
#include "imap/imap-notify.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

#define NOTIFY_USER_BUCKETS 1024

/* One event group, names in the store's form (UTF-8). */
struct notify_spec_group {
	enum notify_filter filter;
	unsigned int events;
	unsigned int generation;    /* NOTIFY ADD count when it was added */
	char **names;
	size_t name_count;
	/* draft -07 message-match criteria, NULL = every message */
	struct imap_search *new_match;
	struct imap_search *flag_match;
};

struct imap_notify {
	struct imap_session *s;
	int64_t user_id;
	size_t bucket;
	struct imap_notify *prev, *next;

	bool has_selected;
	bool selected_delayed;
	unsigned int selected_events;
	struct imap_fetch_request *new_fetch;   /* selected MessageNew fetch-att */
	struct imap_search *selected_new_match; /* draft -07 criteria */
	struct imap_search *selected_flag_match;

	struct notify_spec_group *groups;       /* the non-selected groups */
	size_t group_count;
	unsigned int other_events;              /* union over groups */

	/* the subscription list, for the SUBSCRIBED filter: loaded when
	 * first needed, dropped when it changes (§6.4: re-evaluate) */
	char **subs;
	size_t sub_count;
	bool subs_loaded;
};

struct imap_notify_hub {
	struct imap_server *srv;
	struct imap_notify *by_user[NOTIFY_USER_BUCKETS];
};

/* What an outbox event means to NOTIFY, worked out once per event. */
enum notify_kind {
	KIND_NONE,
	KIND_NEW,
	KIND_EXPUNGE,
	KIND_FLAGS,
	KIND_MAILBOX_CREATE,
	KIND_MAILBOX_DELETE,
	KIND_MAILBOX_RENAME,
	KIND_SUBSCRIBE,
	KIND_UNSUBSCRIBE,
	KIND_QUOTA_EXCEED,
	KIND_QUOTA_WITHIN,
	KIND_QUOTA_CHANGE,
};

struct notify_event_info {
	const struct store_outbox_event *ev;
	enum notify_kind kind;
	json_t *json;
	bool json_tried;
	/* the mailbox row (message events), loaded once */
	bool mb_tried, mb_found;
	struct store_mailbox mb;
	/* names from the event's URLs (mailbox events) */
	char *name, *old_name;
	bool seen_changed;
};

static size_t user_bucket(int64_t user_id)
{
	return (size_t)((uint64_t)user_id * 0x9E3779B97F4A7C15ull >> 40) %
	       NOTIFY_USER_BUCKETS;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- lifetimes ---- */

static void notify_unlink(struct imap_notify_hub *hub, struct imap_notify *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		hub->by_user[n->bucket] = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

void imap_notify_session_free(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL)
		return;
	s->notify = NULL;
	notify_unlink(s->server->notify_hub, n);
	for (size_t i = 0; i < n->group_count; i++) {
		strings_free(n->groups[i].names, n->groups[i].name_count);
		imap_search_free(&n->groups[i].new_match);
		imap_search_free(&n->groups[i].flag_match);
	}
	free(n->groups);
	if (n->new_fetch != NULL) {
		imap_fetch_request_free(n->new_fetch);
		free(n->new_fetch);
	}
	imap_search_free(&n->selected_new_match);
	imap_search_free(&n->selected_flag_match);
	strings_free(n->subs, n->sub_count);
	free(n);
}

static struct imap_search *match_compile(const struct imap_arg *crit)
{
	if (crit == NULL)
		return NULL;
	struct imap_search *search = NULL;
	const char *error;
	bool badcharset;
	/* notify_parse() has checked it already */
	if (imap_search_parse(crit->list, crit->count, NULL, &search, &error,
			      &badcharset) < 0)
		return NULL;
	return search;
}

/* Moves the groups of an older spec behind the new ones (draft -07 ADD:
 * prepend, newer groups override older ones). */
static void notify_take_older(struct imap_notify *n, struct imap_notify *old)
{
	if (old == NULL)
		return;
	if (!n->has_selected && old->has_selected) {
		n->has_selected = true;
		n->selected_delayed = old->selected_delayed;
		n->selected_events = old->selected_events;
		n->new_fetch = old->new_fetch;
		old->new_fetch = NULL;
		n->selected_new_match = old->selected_new_match;
		old->selected_new_match = NULL;
		n->selected_flag_match = old->selected_flag_match;
		old->selected_flag_match = NULL;
	}
	unsigned int generation = 0;
	for (size_t i = 0; i < old->group_count; i++)
		if (old->groups[i].generation >= generation)
			generation = old->groups[i].generation + 1;
	for (size_t i = 0; i < n->group_count; i++)
		n->groups[i].generation = generation;
	n->groups = xrealloc(n->groups, (n->group_count + old->group_count + 1) *
			     sizeof(*n->groups));
	memcpy(n->groups + n->group_count, old->groups,
	       old->group_count * sizeof(*old->groups));
	n->group_count += old->group_count;
	n->other_events |= old->other_events;
	old->group_count = 0;
}

int imap_notify_set(struct imap_session *s, struct notify_command *cmd,
		    const char **error_r)
{
	struct imap_notify *n = xcalloc(1, sizeof(*n));
	n->s = s;
	n->user_id = s->user.id;
	n->groups = xcalloc(cmd->group_count ? cmd->group_count : 1, sizeof(*n->groups));
	struct strbuf name = STRBUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < cmd->group_count; i++) {
		struct notify_group *g = &cmd->groups[i];
		if (g->filter == NOTIFY_FILTER_SELECTED ||
		    g->filter == NOTIFY_FILTER_SELECTED_DELAYED) {
			n->has_selected = true;
			n->selected_delayed = g->filter == NOTIFY_FILTER_SELECTED_DELAYED;
			n->selected_events = g->events;
			n->new_fetch = g->new_fetch;
			g->new_fetch = NULL;
			n->selected_new_match = match_compile(g->new_match);
			n->selected_flag_match = match_compile(g->flag_match);
			continue;
		}
		struct notify_spec_group *sg = &n->groups[n->group_count++];
		sg->filter = g->filter;
		sg->events = g->events;
		sg->new_match = match_compile(g->new_match);
		sg->flag_match = match_compile(g->flag_match);
		n->other_events |= g->events;
		if (g->mailbox_count == 0)
			continue;
		sg->names = xcalloc(g->mailbox_count, sizeof(*sg->names));
		for (size_t j = 0; j < g->mailbox_count; j++) {
			char canon[STORE_MAILBOX_NAME_MAX + 1];
			struct store_error err;
			strbuf_reset(&name);
			if (imap_mailbox_from_client(g->mailboxes[j], &name) < 0) {
				*error_r = "Invalid mailbox name";
				ret = -1;
				break;
			}
			/* §3.1: a name that cannot exist is ignored, not
			 * refused; keep it verbatim, it matches nothing. */
			if (store_mailbox_name_normalize(strbuf_str(&name), canon, &err) < 0)
				sg->names[sg->name_count++] = xstrdup(strbuf_str(&name));
			else
				sg->names[sg->name_count++] = xstrdup(canon);
		}
		if (ret < 0)
			break;
	}
	strbuf_free(&name);
	struct imap_notify_hub *hub = s->server->notify_hub;
	/* link before a possible free, so that one path frees */
	n->bucket = user_bucket(n->user_id);
	n->next = hub->by_user[n->bucket];
	if (n->next != NULL)
		n->next->prev = n;
	hub->by_user[n->bucket] = n;
	if (ret < 0) {
		struct imap_notify *old = s->notify;
		s->notify = n;
		imap_notify_session_free(s);
		s->notify = old;
		return -1;
	}
	if (cmd->add)
		notify_take_older(n, s->notify);
	imap_notify_session_free(s);
	s->notify = n;
	return 0;
}

/* ---- which mailboxes ---- */

/* The one place that decides whether this session may learn about the
 * mailbox (RFC 5465 §3.1, §7: never reveal a mailbox or message the user
 * may not see).  Owner only for now; shared mailboxes (ACL, 'l' and 'r'
 * rights) plug in here. */
static bool notify_may_see(const struct imap_session *s, int64_t owner_id)
{
	return owner_id == s->user.id;
}

static void notify_subs_load(struct imap_notify *n)
{
	if (n->subs_loaded)
		return;
	struct store_error err;
	if (store_subscription_list(n->s->server->store, n->user_id, &n->subs,
				    &n->sub_count, &err) < 0) {
		log_warn("imap: NOTIFY: subscriptions of %s: %s", n->s->user.name, err.msg);
		n->subs = NULL;
		n->sub_count = 0;
	}
	n->subs_loaded = true;
}

static bool group_matches(struct imap_notify *n, const struct notify_spec_group *g,
			  const char *name, bool delivered)
{
	switch (g->filter) {
	case NOTIFY_FILTER_PERSONAL:
		return true;
	case NOTIFY_FILTER_INBOXES:
		/* §6.3: INBOX and every mailbox mail is delivered to */
		return strcmp(name, "INBOX") == 0 || delivered;
	case NOTIFY_FILTER_SUBSCRIBED:
		notify_subs_load(n);
		for (size_t i = 0; i < n->sub_count; i++)
			if (strcmp(n->subs[i], name) == 0)
				return true;
		return false;
	case NOTIFY_FILTER_SUBTREE:
		for (size_t i = 0; i < g->name_count; i++) {
			size_t len = strlen(g->names[i]);
			if (strncmp(name, g->names[i], len) == 0 &&
			    (name[len] == '\0' || name[len] == '/'))
				return true;
		}
		return false;
	case NOTIFY_FILTER_MAILBOXES:
		/* §6.6: no wildcard expansion */
		for (size_t i = 0; i < g->name_count; i++)
			if (strcmp(name, g->names[i]) == 0)
				return true;
		return false;
	default:
		return false;
	}
}

/* The events the non-selected groups ask for on this mailbox.  Groups of
 * one command add up (RFC 5465 §6: several groups may apply); a group
 * added by a later NOTIFY ADD overrides the older ones for the mailboxes
 * it covers (draft -07), NONE included.  The groups are kept newest
 * first.  match_r (may be NULL) gets the message-match criteria for bit,
 * NULL when every message counts. */
static unsigned int notify_events_for(struct imap_notify *n, const char *name,
				      bool delivered, unsigned int bit,
				      struct imap_search **match_r)
{
	unsigned int events = 0;
	bool found = false, match_all = false;
	unsigned int generation = 0;
	struct imap_search *match = NULL;
	for (size_t i = 0; i < n->group_count; i++) {
		const struct notify_spec_group *g = &n->groups[i];
		if (found && g->generation != generation)
			break;
		if (!group_matches(n, g, name, delivered))
			continue;
		found = true;
		generation = g->generation;
		events |= g->events;
		if ((g->events & bit) == 0)
			continue;
		struct imap_search *crit = bit == NOTIFY_EV_MESSAGE_NEW ? g->new_match :
					   bit == NOTIFY_EV_FLAG_CHANGE ? g->flag_match : NULL;
		if (crit == NULL)
			match_all = true;
		else if (match == NULL)
			match = crit;
	}
	if (match_r != NULL)
		*match_r = match_all ? NULL : match;
	return events;
}

/* Whether message m matches the criteria (draft -07 message-match). */
static bool message_matches(struct imap_server *srv, const struct imap_search *match,
			    const struct store_message *m, uint32_t seq, bool recent,
			    uint32_t max_seq, uint32_t max_uid)
{
	struct imap_search_message sm = {
		.seq = seq, .uid = m->uid, .flags = m->flags, .recent = recent,
		.keywords = m->keywords, .internaldate = m->internaldate,
		.tz_offset = m->tz_offset, .size = m->size, .modseq = m->modseq,
	};
	struct imap_search_context ctx = { .max_seq = max_seq, .max_uid = max_uid };
	int r = imap_search_match_without_text(match, &ctx, &sm);
	if (r >= 0)
		return r == 1;
	struct store_body body;
	struct store_error err;
	if (store_body_open(srv->store, m->body_id, &body, &err) < 0)
		return false;
	sm.data = body.data;
	sm.len = body.len;
	bool ok = imap_search_match(match, &ctx, &sm);
	store_body_close(&body);
	return ok;
}

static int uid_compare(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Keeps the UIDs (ascending) of mailbox_id whose messages match. */
static size_t uids_filter(struct imap_server *srv, const struct imap_search *match,
			  int64_t mailbox_id, uint32_t *uids, size_t count,
			  uint32_t max_seq, uint32_t max_uid)
{
	if (count == 0)
		return 0;
	struct store_message_list list;
	struct store_error err;
	if (store_message_range(srv->store, mailbox_id, uids[0], uids[count - 1],
				&list, &err) < 0)
		return 0;
	size_t w = 0, j = 0;
	for (size_t i = 0; i < count; i++) {
		while (j < list.count && list.msgs[j].uid < uids[i])
			j++;
		if (j < list.count && list.msgs[j].uid == uids[i] &&
		    message_matches(srv, match, &list.msgs[j], (uint32_t)(j + 1), false,
				    max_seq, max_uid))
			uids[w++] = uids[i];
	}
	store_message_list_free(&list);
	return w;
}

/* ---- output ---- */

/* §5.8: a client that does not read its notifications gets
 * NOTIFICATIONOVERFLOW and NOTIFY NONE; if it still does not drain, the
 * output cap of imap-server.c disconnects it.  Returns false when the
 * session can take no more notifications. */
static bool notify_room(struct imap_session *s)
{
	if (s->conn == NULL || s->closing)
		return false;
	size_t max = s->server->cfg->output_buffer_max / 2;
	if (net_conn_output_pending(s->conn) <= max)
		return true;
	log_info("imap: %s: NOTIFY client does not read; NOTIFICATIONOVERFLOW",
		 s->client_ip);
	imap_notify_session_free(s);
	imap_session_sends(s, "* OK [NOTIFICATIONOVERFLOW] Too many notifications unread, NOTIFY is now NONE\r\n");
	return false;
}

static bool condstore_on(const struct imap_session *s)
{
	return IMAP_ENABLE_CONDSTORE != 0 && (s->enabled & IMAP_ENABLE_CONDSTORE) != 0;
}

static void status_write(struct imap_session *s, const struct store_mailbox *mb,
			 enum notify_kind kind)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_appends(&out, "* STATUS ");
	imap_mailbox_write(&out, mb->name);
	if (kind == KIND_FLAGS) {
		/* §5.1: UNSEEN when \Seen changed (the only flag change a
		 * STATUS can show without CONDSTORE) */
		strbuf_printf(&out, " (UIDVALIDITY %u UNSEEN %u", mb->uidvalidity, mb->unseen);
	} else {
		/* §5.2, §5.3: UIDNEXT MESSAGES */
		strbuf_printf(&out, " (UIDNEXT %u MESSAGES %u", mb->uidnext, mb->messages);
	}
	if (condstore_on(s))
		strbuf_printf(&out, " HIGHESTMODSEQ %llu",
			      (unsigned long long)mb->highestmodseq);
	strbuf_appends(&out, ")\r\n");
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

static void list_write(struct imap_session *s, const char *attrs, const char *name,
		       const char *old_name)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_printf(&out, "* LIST (%s) \"/\" ", attrs);
	imap_mailbox_write(&out, name);
	if (old_name != NULL) {
		/* §5.4: the extended LIST item OLDNAME */
		strbuf_appends(&out, " (\"OLDNAME\" (");
		imap_mailbox_write(&out, old_name);
		strbuf_appends(&out, "))");
	}
	strbuf_appends(&out, "\r\n");
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

/* ---- the selected mailbox ---- */

/* Sends the view's queued updates now, as SELECTED asks (§6.1.1), unless
 * a command is running: then they go out when it ends, under RFC 3501
 * §7.4.1.  SELECTED-DELAYED holds EXPUNGE back until a command allows it
 * (§6.1.2) and sends the rest at once. */
static void notify_selected_push(struct imap_session *s)
{
	struct imap_view *v = s->view;
	if (v == NULL || s->cmd_name != NULL || s->mode != IMAP_INPUT_COMMAND)
		return;
	size_t held = 0;
	if (s->notify->selected_delayed ||
	    (s->notify->selected_events & NOTIFY_EV_MESSAGE_EXPUNGE) == 0) {
		held = v->pending_expunge_count;
		v->pending_expunge_count = 0;
	}
	/* draft -07: flag changes only for the messages that match */
	if (s->notify->selected_flag_match != NULL && v->pending_flags_count > 0) {
		struct imap_search *match = s->notify->selected_flag_match;
		size_t cnt = v->pending_flags_count;
		/* ascending and unique for uids_filter */
		qsort(v->pending_flags, cnt, sizeof(*v->pending_flags), uid_compare);
		size_t u = 0;
		for (size_t i = 0; i < cnt; i++)
			if (u == 0 || v->pending_flags[u - 1] != v->pending_flags[i])
				v->pending_flags[u++] = v->pending_flags[i];
		v->pending_flags_count = uids_filter(s->server, match, v->mailbox_id,
						     v->pending_flags, u, (uint32_t)v->count,
						     v->count ? v->uids[v->count - 1] : 0);
	}
	/* §5.1: the FETCH of a flag change carries the UID */
	s->cmd_uid = true;
	imap_session_flush_updates(s);
	s->cmd_uid = false;
	if (s->view == v)
		v->pending_expunge_count += held;
}

void imap_notify_new_messages(struct imap_session *s, size_t first)
{
	struct imap_notify *n = s->notify;
	struct imap_view *v = s->view;
	if (n == NULL || n->new_fetch == NULL || v == NULL || first >= v->count ||
	    (n->selected_events & NOTIFY_EV_MESSAGE_NEW) == 0)
		return;
	struct store_message_list list;
	struct store_error err;
	if (store_message_range(s->server->store, v->mailbox_id, v->uids[first],
				v->uids[v->count - 1], &list, &err) < 0) {
		log_warn("imap: NOTIFY fetch of new messages in %s: %s", v->name, err.msg);
		return;
	}
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		uint32_t seq = imap_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		/* draft -07: only the messages that match the criteria */
		if (n->selected_new_match != NULL &&
		    !message_matches(s->server, n->selected_new_match, m, seq,
				     imap_view_is_recent(v, m->uid), (uint32_t)v->count,
				     v->uids[v->count - 1]))
			continue;
		struct imap_fetch_message fm = {
			.seq = seq, .uid = m->uid, .flags = m->flags,
			.recent = imap_view_is_recent(v, m->uid), .keywords = m->keywords,
			.internaldate = m->internaldate, .tz_offset = m->tz_offset,
			.size = m->size, .modseq = m->modseq,
		};
		struct store_body body = { 0 };
		struct mime_message *mime = NULL;
		bool opened = false;
		if (n->new_fetch->needs_body || n->new_fetch->needs_mime) {
			if (store_body_open(s->server->store, m->body_id, &body, &err) < 0)
				continue;
			opened = true;
			fm.data = body.data;
			fm.len = body.len;
			if (n->new_fetch->needs_mime) {
				mime = mime_parse(body.data, body.len);
				fm.mime = mime;
			}
		}
		strbuf_reset(&out);
		imap_fetch_write(n->new_fetch, &fm, &out);
		imap_session_send(s, out.s, out.len);
		mime_message_free(&mime);
		if (opened)
			store_body_close(&body);
	}
	strbuf_free(&out);
	store_message_list_free(&list);
}

/* ---- events ---- */

static enum notify_kind event_kind(const char *type)
{
	static const struct {
		const char *name;
		enum notify_kind kind;
	} kinds[] = {
		/* §5.2: MessageNew covers MessageAppend; §5.3: MessageExpunge
		 * covers MessageExpire; §5.1: FlagChange covers MessageRead,
		 * MessageTrash, FlagsSet, FlagsClear */
		{ "MessageNew", KIND_NEW },
		{ "MessageAppend", KIND_NEW },
		{ "MessageExpunge", KIND_EXPUNGE },
		{ "MessageExpire", KIND_EXPUNGE },
		{ "FlagsSet", KIND_FLAGS },
		{ "FlagsClear", KIND_FLAGS },
		{ "MessageRead", KIND_FLAGS },
		{ "MessageTrash", KIND_FLAGS },
		{ "MailboxCreate", KIND_MAILBOX_CREATE },
		{ "MailboxDelete", KIND_MAILBOX_DELETE },
		{ "MailboxRename", KIND_MAILBOX_RENAME },
		{ "MailboxSubscribe", KIND_SUBSCRIBE },
		{ "MailboxUnSubscribe", KIND_UNSUBSCRIBE },
		{ "QuotaExceed", KIND_QUOTA_EXCEED },
		{ "QuotaWithin", KIND_QUOTA_WITHIN },
		{ "QuotaChange", KIND_QUOTA_CHANGE },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].name) == 0)
			return kinds[i].kind;
	return KIND_NONE;
}

static json_t *info_json(struct notify_event_info *info)
{
	if (!info->json_tried) {
		info->json_tried = true;
		info->json = json_loads(info->ev->json, 0, NULL);
	}
	return info->json;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The mailbox name of an RFC 5092 URL imap://owner@host/Name;UIDVALIDITY=n
 * (store-events.c percent-encodes every byte outside bchar, ';' too). */
static char *url_mailbox_name(const char *url)
{
	if (url == NULL || strncmp(url, "imap://", 7) != 0)
		return NULL;
	const char *p = strchr(url + 7, '/');
	if (p == NULL || p[1] == '\0')
		return NULL;
	p++;
	size_t end = strcspn(p, ";?");
	char *name = xmalloc(end + 1);
	size_t w = 0;
	for (size_t i = 0; i < end; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < end + 1 && (hi = hex_value(p[i + 1])) >= 0 &&
		    (lo = hex_value(p[i + 2])) >= 0) {
			name[w++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			name[w++] = p[i];
		}
	}
	name[w] = '\0';
	if (w == 0 || strlen(name) != w) {
		free(name);
		return NULL;
	}
	return name;
}

static void info_names(struct notify_event_info *info)
{
	if (info->name != NULL)
		return;
	json_t *j = info_json(info);
	if (j == NULL)
		return;
	info->name = url_mailbox_name(json_string_value(json_object_get(j, "mailboxID")));
	info->old_name = url_mailbox_name(json_string_value(json_object_get(j, "oldMailboxID")));
}

static bool info_mailbox(struct imap_server *srv, struct notify_event_info *info)
{
	if (!info->mb_tried) {
		struct store_error err;
		info->mb_tried = true;
		info->mb_found = info->ev->mailbox_id != 0 &&
			store_mailbox_get_by_id(srv->store, info->ev->mailbox_id,
						&info->mb, &err) == 0;
	}
	return info->mb_found;
}

static bool event_seen_changed(struct notify_event_info *info)
{
	if (strcmp(info->ev->type, "MessageRead") == 0)
		return true;
	json_t *flags = json_object_get(info_json(info), "flagNames");
	size_t i;
	json_t *f;
	json_array_foreach(flags, i, f) {
		const char *name = json_string_value(f);
		if (name != NULL && strcasecmp(name, "\\Seen") == 0)
			return true;
	}
	return false;
}

/* draft -07 message-match: whether any message the event names matches. */
static bool info_any_match(struct imap_server *srv, struct notify_event_info *info,
			   const struct imap_search *match)
{
	const char *set = json_string_value(json_object_get(info_json(info), "uidset"));
	uint32_t *uids = NULL;
	size_t count = 0;
	if (set == NULL || seqset_to_numbers(set, &uids, &count, 1000000) < 0)
		return false;
	size_t left = uids_filter(srv, match, info->ev->mailbox_id, uids, count,
				  info->mb.messages,
				  info->mb.uidnext > 0 ? info->mb.uidnext - 1 : 0);
	free(uids);
	return left > 0;
}

static void notify_message_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	const struct store_outbox_event *ev = info->ev;
	unsigned int bit = info->kind == KIND_NEW ? NOTIFY_EV_MESSAGE_NEW :
			   info->kind == KIND_EXPUNGE ? NOTIFY_EV_MESSAGE_EXPUNGE :
			   NOTIFY_EV_FLAG_CHANGE;
	if (s->view != NULL && s->view->mailbox_id == ev->mailbox_id) {
		/* §3.1: the SELECTED group alone rules message events on the
		 * selected mailbox; without one, the RFC 3501 command-end
		 * updates stay (docs/notify.md). */
		if (n->has_selected && (n->selected_events & bit) != 0 && notify_room(s))
			notify_selected_push(s);
		return;
	}
	if ((n->other_events & bit) == 0)
		return;
	/* §5: not for a change this client made itself */
	if (ev->origin == s->id && ev->origin_pid == getpid())
		return;
	if (!info_mailbox(s->server, info) || info->mb.noselect ||
	    !notify_may_see(s, info->mb.user_id))
		return;
	struct imap_search *match = NULL;
	if ((notify_events_for(n, info->mb.name, info->mb.delivered, bit, &match) & bit) == 0)
		return;
	/* §5.1: without CONDSTORE only an UNSEEN change can be shown */
	if (info->kind == KIND_FLAGS && !condstore_on(s) && !info->seen_changed)
		return;
	if (match != NULL && !info_any_match(s->server, info, match))
		return;
	if (notify_room(s))
		status_write(s, &info->mb, info->kind);
}

static void notify_mailbox_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	const struct store_outbox_event *ev = info->ev;
	bool subscription = info->kind == KIND_SUBSCRIBE || info->kind == KIND_UNSUBSCRIBE;
	/* MailboxName is the three draft -07 events (notify-parse.c) */
	unsigned int bit = subscription ? NOTIFY_EV_SUBSCRIPTION_CHANGE :
			   info->kind == KIND_MAILBOX_CREATE ? NOTIFY_EV_MAILBOX_CREATE :
			   info->kind == KIND_MAILBOX_DELETE ? NOTIFY_EV_MAILBOX_DELETE :
			   NOTIFY_EV_MAILBOX_RENAME;
	if (subscription) {
		/* §6.4: the subscribed set is re-evaluated */
		strings_free(n->subs, n->sub_count);
		n->subs = NULL;
		n->sub_count = 0;
		n->subs_loaded = false;
	}
	if ((n->other_events & bit) == 0)
		return;
	if (ev->origin == s->id && ev->origin_pid == getpid())
		return;
	if (!notify_may_see(s, ev->user_id))
		return;
	info_names(info);
	if (info->name == NULL)
		return;
	bool exists = info_mailbox(s->server, info);
	bool delivered = exists && info->mb.delivered;
	unsigned int events = notify_events_for(n, info->name, delivered, 0, NULL);
	if (info->old_name != NULL)
		events |= notify_events_for(n, info->old_name, false, 0, NULL);
	if ((events & bit) == 0 || !notify_room(s))
		return;
	switch (info->kind) {
	case KIND_MAILBOX_CREATE:
		list_write(s, "", info->name, NULL);
		break;
	case KIND_MAILBOX_DELETE:
		/* §5.4: a name that no longer refers to a mailbox */
		list_write(s, "\\NonExistent", info->name, NULL);
		break;
	case KIND_MAILBOX_RENAME:
		list_write(s, "", info->name, info->old_name);
		break;
	case KIND_SUBSCRIBE:
	case KIND_UNSUBSCRIBE: {
		/* §5.5: \Subscribed iff subscribed now; attributes computed
		 * as LIST would */
		struct store_mailbox mb;
		struct store_error err;
		bool present = store_mailbox_get(s->server->store, s->user.id,
						 info->name, &mb, &err) == 0;
		const char *attrs = info->kind == KIND_SUBSCRIBE ?
			(present ? "\\Subscribed" : "\\NonExistent \\Subscribed") :
			(present ? "" : "\\NonExistent");
		list_write(s, attrs, info->name, NULL);
		break;
	}
	default:
		break;
	}
}

/* draft -07 §5.4: QUOTAROOT and QUOTA for the user's one quota root "",
 * when a watched mailbox is affected (any of them when the event names
 * none: the root governs them all).  The owner has the 'a' right. */
static void notify_quota_event(struct imap_notify *n, struct notify_event_info *info)
{
	struct imap_session *s = n->s;
	unsigned int bit = info->kind == KIND_QUOTA_EXCEED ? NOTIFY_EV_QUOTA_EXCEED :
			   info->kind == KIND_QUOTA_WITHIN ? NOTIFY_EV_QUOTA_WITHIN :
			   NOTIFY_EV_QUOTA_CHANGE;
	if ((n->other_events & bit) == 0 || !notify_may_see(s, info->ev->user_id))
		return;
	if (info->kind != KIND_QUOTA_CHANGE &&
	    info->ev->origin == s->id && info->ev->origin_pid == getpid())
		return;
	const char *name = "INBOX";
	if (info_mailbox(s->server, info)) {
		name = info->mb.name;
		if ((notify_events_for(n, name, info->mb.delivered, 0, NULL) & bit) == 0)
			return;
	}
	struct store_quota q;
	struct store_error err;
	if (store_quota_get(s->server->store, s->user.id, &q, &err) < 0 || !notify_room(s))
		return;
	struct strbuf out = STRBUF_INIT;
	strbuf_appends(&out, "* QUOTAROOT ");
	imap_mailbox_write(&out, name);
	strbuf_appends(&out, " \"\"\r\n");
	imap_quota_write(&out, "", &q);
	imap_session_send(s, out.s, out.len);
	strbuf_free(&out);
}

static void hub_on_event(const struct store_outbox_event *ev, void *ctx)
{
	struct imap_notify_hub *hub = ctx;
	if (ev->user_id == 0)
		return;
	size_t b = user_bucket(ev->user_id);
	if (hub->by_user[b] == NULL)
		return;
	enum notify_kind kind = event_kind(ev->type);
	if (kind == KIND_NONE)
		return;
	struct notify_event_info info = { .ev = ev, .kind = kind };
	if (kind == KIND_FLAGS)
		info.seen_changed = event_seen_changed(&info);
	struct imap_notify *next;
	/* Only this user's NOTIFY sessions: O(sessions concerned). */
	for (struct imap_notify *n = hub->by_user[b]; n != NULL; n = next) {
		next = n->next;
		if (n->user_id != ev->user_id || n->s->conn == NULL || n->s->closing)
			continue;
		if (kind == KIND_NEW || kind == KIND_EXPUNGE || kind == KIND_FLAGS)
			notify_message_event(n, &info);
		else if (kind == KIND_QUOTA_EXCEED || kind == KIND_QUOTA_WITHIN ||
			 kind == KIND_QUOTA_CHANGE)
			notify_quota_event(n, &info);
		else
			notify_mailbox_event(n, &info);
		/* n may be gone now (NOTIFICATIONOVERFLOW) */
	}
	if (info.json != NULL)
		json_decref(info.json);
	free(info.name);
	free(info.old_name);
}

bool imap_notify_add_fits(const struct imap_session *s, const struct notify_command *cmd,
			  size_t max_groups, size_t max_names)
{
	const struct imap_notify *n = s->notify;
	if (!cmd->add || n == NULL)
		return true;
	size_t groups = n->group_count + cmd->group_count, names = 0;
	for (size_t i = 0; i < n->group_count; i++)
		names += n->groups[i].name_count;
	for (size_t i = 0; i < cmd->group_count; i++)
		names += cmd->groups[i].mailbox_count;
	return groups <= max_groups && names <= max_names;
}

void imap_notify_status_all(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || (n->other_events & (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_FLAG_CHANGE)) == 0)
		return;
	struct store_mailbox *list = NULL;
	size_t count = 0;
	struct store_error err;
	if (store_mailbox_list(s->server->store, s->user.id, &list, &count, &err) < 0)
		return;
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < count && s->notify != NULL; i++) {
		const struct store_mailbox *mb = &list[i];
		if (mb->noselect || !notify_may_see(s, mb->user_id) ||
		    (s->view != NULL && s->view->mailbox_id == mb->id))
			continue;
		unsigned int events = notify_events_for(n, mb->name, mb->delivered, 0, NULL);
		if ((events & (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_FLAG_CHANGE)) == 0)
			continue;
		/* §3.1: MESSAGES, UIDNEXT, UIDVALIDITY for MessageNew;
		 * UIDVALIDITY (and HIGHESTMODSEQ) for FlagChange */
		strbuf_reset(&out);
		strbuf_appends(&out, "* STATUS ");
		imap_mailbox_write(&out, mb->name);
		strbuf_printf(&out, " (MESSAGES %u UIDNEXT %u UIDVALIDITY %u",
			      mb->messages, mb->uidnext, mb->uidvalidity);
		if (events & NOTIFY_EV_FLAG_CHANGE)
			strbuf_printf(&out, " UNSEEN %u", mb->unseen);
		if (condstore_on(s))
			strbuf_printf(&out, " HIGHESTMODSEQ %llu",
				      (unsigned long long)mb->highestmodseq);
		strbuf_appends(&out, ")\r\n");
		imap_session_send(s, out.s, out.len);
	}
	strbuf_free(&out);
	free(list);
}

/* ---- the hub ---- */

struct imap_notify_hub *imap_notify_hub_create(struct imap_server *srv)
{
	struct imap_notify_hub *hub = xcalloc(1, sizeof(*hub));
	hub->srv = srv;
	event_pump_add_consumer(srv->pump, hub_on_event, hub);
	return hub;
}

void imap_notify_hub_destroy(struct imap_notify_hub **hubp)
{
	free(*hubp);
	*hubp = NULL;
}
