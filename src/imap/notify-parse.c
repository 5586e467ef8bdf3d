/* NOTIFY grammar (RFC 5465 §8).  Validate completely, change nothing: the
 * caller acts only on NOTIFY_PARSE_OK. */
#include "imap/notify-parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

static const struct {
	const char *name;
	unsigned int bit;
} event_names[] = {
	{ "MessageNew", NOTIFY_EV_MESSAGE_NEW },
	{ "MessageExpunge", NOTIFY_EV_MESSAGE_EXPUNGE },
	{ "FlagChange", NOTIFY_EV_FLAG_CHANGE },
	{ "AnnotationChange", NOTIFY_EV_ANNOTATION_CHANGE },
	{ "MailboxName", NOTIFY_EV_MAILBOX_NAME },
	{ "SubscriptionChange", NOTIFY_EV_SUBSCRIPTION_CHANGE },
	{ "MailboxMetadataChange", NOTIFY_EV_MAILBOX_METADATA_CHANGE },
	{ "ServerMetadataChange", NOTIFY_EV_SERVER_METADATA_CHANGE },
	{ "MailboxCreate", NOTIFY_EV_MAILBOX_CREATE },
	{ "MailboxDelete", NOTIFY_EV_MAILBOX_DELETE },
	{ "MailboxRename", NOTIFY_EV_MAILBOX_RENAME },
	{ "QuotaExceed", NOTIFY_EV_QUOTA_EXCEED },
	{ "QuotaWithin", NOTIFY_EV_QUOTA_WITHIN },
	{ "QuotaChange", NOTIFY_EV_QUOTA_CHANGE },
	{ "AdminMailbox", NOTIFY_EV_ADMIN_MAILBOX },
};
#define EVENT_NAME_COUNT (sizeof(event_names) / sizeof(event_names[0]))

void notify_events_write(struct strbuf *out, unsigned int events)
{
	bool first = true;
	for (size_t i = 0; i < EVENT_NAME_COUNT; i++) {
		if ((events & event_names[i].bit) == 0)
			continue;
		if (!first)
			strbuf_appendc(out, ' ');
		strbuf_appends(out, event_names[i].name);
		first = false;
	}
}

void notify_command_free(struct notify_command *cmd)
{
	for (size_t i = 0; i < cmd->group_count; i++) {
		struct notify_group *g = &cmd->groups[i];
		for (size_t j = 0; j < g->mailbox_count; j++)
			free(g->mailboxes[j]);
		free(g->mailboxes);
		if (g->new_fetch != NULL) {
			imap_fetch_request_free(g->new_fetch);
			free(g->new_fetch);
		}
	}
	free(cmd->groups);
	memset(cmd, 0, sizeof(*cmd));
}

struct parse_ctx {
	unsigned int supported;
	const struct notify_limits *limits;
	size_t mailbox_total;
	bool badevent;
	const char *error;
};

static enum notify_parse_result parse_mailboxes(struct parse_ctx *c,
						const struct imap_arg *arg,
						struct notify_group *g)
{
	const struct imap_arg *items = arg;
	size_t n = 1;
	if (arg->type == IMAP_ARG_LIST) {
		items = arg->list;
		n = arg->count;
		if (n == 0) {
			c->error = "Empty mailbox list";
			return NOTIFY_PARSE_BAD;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *name;
		size_t len;
		if (!imap_arg_astring(&items[i], &name, &len) || strlen(name) != len) {
			c->error = "Invalid mailbox name";
			return NOTIFY_PARSE_BAD;
		}
	}
	c->mailbox_total += n;
	if (c->mailbox_total > c->limits->max_mailboxes)
		return NOTIFY_PARSE_OVERFLOW;
	g->mailboxes = xcalloc(n, sizeof(*g->mailboxes));
	for (size_t i = 0; i < n; i++) {
		const char *name;
		size_t len;
		imap_arg_astring(&items[i], &name, &len);
		g->mailboxes[i] = xstrdup(name);
	}
	g->mailbox_count = n;
	return NOTIFY_PARSE_OK;
}

static enum notify_parse_result parse_events(struct parse_ctx *c,
					     const struct imap_arg *arg,
					     struct notify_group *g)
{
	if (arg->type != IMAP_ARG_LIST) {
		if (imap_arg_is_atom(arg, "NONE")) {
			g->events = 0;
			return NOTIFY_PARSE_OK;
		}
		c->error = "Expected an event list or NONE";
		return NOTIFY_PARSE_BAD;
	}
	if (arg->count == 0) {
		c->error = "Empty event list";
		return NOTIFY_PARSE_BAD;
	}
	for (size_t i = 0; i < arg->count; i++) {
		const struct imap_arg *e = &arg->list[i];
		const char *name;
		if (e->type != IMAP_ARG_ATOM || !imap_arg_atom(e, &name)) {
			c->error = "Expected an event name";
			return NOTIFY_PARSE_BAD;
		}
		unsigned int bit = 0;
		for (size_t k = 0; k < EVENT_NAME_COUNT; k++)
			if (strcasecmp(name, event_names[k].name) == 0)
				bit = event_names[k].bit;
		/* event-ext = atom: an event we do not know is grammatical;
		 * §3.1 answers it with NO [BADEVENT], after the syntax is
		 * known to be good. */
		if (bit == 0 || (bit & c->supported) == 0)
			c->badevent = true;
		if ((bit & g->events) != 0) {
			c->error = "Event given twice";
			return NOTIFY_PARSE_BAD;
		}
		g->events |= bit;
		if (bit == NOTIFY_EV_MESSAGE_NEW && i + 1 < arg->count &&
		    arg->list[i + 1].type == IMAP_ARG_LIST) {
			i++;
			if (arg->list[i].count == 0) {
				c->error = "Empty fetch-att list";
				return NOTIFY_PARSE_BAD;
			}
			const char *ferr = NULL;
			g->new_fetch = xcalloc(1, sizeof(*g->new_fetch));
			if (imap_fetch_parse(&arg->list[i], false, g->new_fetch, &ferr) < 0) {
				free(g->new_fetch);
				g->new_fetch = NULL;
				c->error = ferr != NULL ? ferr : "Invalid fetch-att";
				return NOTIFY_PARSE_BAD;
			}
		}
		/* draft -07: "(search-key)" limits the event to the messages
		 * that match */
		const struct imap_arg **match =
			bit == NOTIFY_EV_MESSAGE_NEW ? &g->new_match :
			bit == NOTIFY_EV_FLAG_CHANGE ? &g->flag_match :
			bit == NOTIFY_EV_ANNOTATION_CHANGE ? &g->annotation_match : NULL;
		if (match != NULL && i + 1 < arg->count &&
		    arg->list[i + 1].type == IMAP_ARG_LIST) {
			i++;
			const struct imap_arg *crit = &arg->list[i];
			struct imap_search *search = NULL;
			const char *serr = NULL;
			bool badcharset = false;
			if (crit->count == 0 ||
			    imap_arg_is_atom(&crit->list[0], "CHARSET") ||
			    imap_search_parse(crit->list, crit->count, NULL, &search,
					      &serr, &badcharset) < 0) {
				c->error = serr != NULL ? serr : "Invalid message-match criteria";
				return NOTIFY_PARSE_BAD;
			}
			imap_search_free(&search);
			*match = crit;
		}
	}
	return NOTIFY_PARSE_OK;
}

static enum notify_parse_result parse_group(struct parse_ctx *c,
					    const struct imap_arg *arg,
					    struct notify_group *g)
{
	if (arg->type != IMAP_ARG_LIST || arg->count < 2) {
		c->error = "Expected (filter events)";
		return NOTIFY_PARSE_BAD;
	}
	const struct imap_arg *a = arg->list;
	size_t want = 2;
	if (imap_arg_is_atom(&a[0], "SELECTED")) {
		g->filter = NOTIFY_FILTER_SELECTED;
	} else if (imap_arg_is_atom(&a[0], "SELECTED-DELAYED")) {
		g->filter = NOTIFY_FILTER_SELECTED_DELAYED;
	} else if (imap_arg_is_atom(&a[0], "INBOXES")) {
		g->filter = NOTIFY_FILTER_INBOXES;
	} else if (imap_arg_is_atom(&a[0], "PERSONAL")) {
		g->filter = NOTIFY_FILTER_PERSONAL;
	} else if (imap_arg_is_atom(&a[0], "SUBSCRIBED")) {
		g->filter = NOTIFY_FILTER_SUBSCRIBED;
	} else if (imap_arg_is_atom(&a[0], "SUBTREE")) {
		g->filter = NOTIFY_FILTER_SUBTREE;
		want = 3;
	} else if (imap_arg_is_atom(&a[0], "MAILBOXES")) {
		g->filter = NOTIFY_FILTER_MAILBOXES;
		want = 3;
	} else {
		c->error = "Unknown mailbox filter";
		return NOTIFY_PARSE_BAD;
	}
	if (arg->count != want) {
		c->error = want == 3 ? "Expected (filter mailboxes events)" :
				       "Expected (filter events)";
		return NOTIFY_PARSE_BAD;
	}
	enum notify_parse_result r;
	if (want == 3 && (r = parse_mailboxes(c, &a[1], g)) != NOTIFY_PARSE_OK)
		return r;
	if ((r = parse_events(c, &a[want - 1], g)) != NOTIFY_PARSE_OK)
		return r;

	bool selected = g->filter == NOTIFY_FILTER_SELECTED ||
			g->filter == NOTIFY_FILTER_SELECTED_DELAYED;
	/* RFC 5465 §5.4's MailboxName is draft -07's three events */
	if (g->events & NOTIFY_EV_MAILBOX_NAME)
		g->events |= NOTIFY_EV_MAILBOX_CREATE | NOTIFY_EV_MAILBOX_DELETE |
			     NOTIFY_EV_MAILBOX_RENAME;
	/* §6.1: only message events with the selected filters. */
	if (selected && (g->events & ~NOTIFY_EV_MESSAGE_MASK) != 0) {
		c->error = "Only message events are allowed for the selected mailbox";
		return NOTIFY_PARSE_BAD;
	}
	/* RFC 5465 §8: the fetch-att list only for SELECTED /
	 * SELECTED-DELAYED.  Draft -07 always has one before the criteria;
	 * in that form it is accepted elsewhere and unused (STATUS is sent
	 * for other mailboxes, whatever was asked). */
	if (!selected && g->new_fetch != NULL) {
		if (g->new_match == NULL) {
			c->error = "MessageNew fetch attributes are only allowed for the selected mailbox";
			return NOTIFY_PARSE_BAD;
		}
		imap_fetch_request_free(g->new_fetch);
		free(g->new_fetch);
		g->new_fetch = NULL;
	}
	/* §5: MessageNew and MessageExpunge together; FlagChange and
	 * AnnotationChange need both. */
	bool has_new = g->events & NOTIFY_EV_MESSAGE_NEW;
	bool has_expunge = g->events & NOTIFY_EV_MESSAGE_EXPUNGE;
	if (has_new != has_expunge) {
		c->error = "MessageNew and MessageExpunge must be given together";
		return NOTIFY_PARSE_BAD;
	}
	if ((g->events & (NOTIFY_EV_FLAG_CHANGE | NOTIFY_EV_ANNOTATION_CHANGE)) && !has_new) {
		c->error = "FlagChange and AnnotationChange need MessageNew and MessageExpunge";
		return NOTIFY_PARSE_BAD;
	}
	return NOTIFY_PARSE_OK;
}

enum notify_parse_result notify_parse(const struct imap_arg *args, size_t count,
				      unsigned int supported,
				      const struct notify_limits *limits,
				      struct notify_command *cmd_r,
				      const char **error_r)
{
	struct parse_ctx c = { .supported = supported, .limits = limits };
	memset(cmd_r, 0, sizeof(*cmd_r));
	*error_r = NULL;
	if (count == 0) {
		*error_r = "Expected SET, ADD or NONE";
		return NOTIFY_PARSE_BAD;
	}
	if (imap_arg_is_atom(&args[0], "NONE")) {
		if (count != 1) {
			*error_r = "NOTIFY NONE takes no arguments";
			return NOTIFY_PARSE_BAD;
		}
		cmd_r->none = true;
		return NOTIFY_PARSE_OK;
	}
	if (imap_arg_is_atom(&args[0], "ADD")) {
		cmd_r->add = true;
	} else if (!imap_arg_is_atom(&args[0], "SET")) {
		*error_r = "Expected SET, ADD or NONE";
		return NOTIFY_PARSE_BAD;
	}
	size_t i = 1;
	/* RFC 5465 §8: [status-indicator]; draft -07's ADD has the same
	 * STATUS responses, so it takes the indicator too */
	if (i < count && imap_arg_is_atom(&args[i], "STATUS")) {
		cmd_r->status = true;
		i++;
	}
	if (i == count) {
		*error_r = "Expected at least one event group";
		return NOTIFY_PARSE_BAD;
	}
	if (count - i > limits->max_groups) {
		*error_r = "Too many event groups";
		return NOTIFY_PARSE_OVERFLOW;
	}
	cmd_r->groups = xcalloc(count - i, sizeof(*cmd_r->groups));
	bool have_selected = false;
	for (; i < count; i++) {
		struct notify_group *g = &cmd_r->groups[cmd_r->group_count++];
		enum notify_parse_result r = parse_group(&c, &args[i], g);
		if (r != NOTIFY_PARSE_OK) {
			*error_r = r == NOTIFY_PARSE_OVERFLOW ?
				"Too many mailboxes named" : c.error;
			return r;
		}
		if (g->filter == NOTIFY_FILTER_SELECTED ||
		    g->filter == NOTIFY_FILTER_SELECTED_DELAYED) {
			/* §6.1: only one of them in a NOTIFY command */
			if (have_selected) {
				*error_r = "SELECTED or SELECTED-DELAYED given twice";
				return NOTIFY_PARSE_BAD;
			}
			have_selected = true;
		}
	}
	if (c.badevent) {
		*error_r = "Unsupported event";
		return NOTIFY_PARSE_BADEVENT;
	}
	return NOTIFY_PARSE_OK;
}
