/* The NOTIFY command grammar (RFC 5465 §8) -> a struct.  Knows nothing of
 * sessions or storage, so it can be fuzzed alone.  Mailbox names stay in
 * the client's form (modified UTF-7); the caller converts them. */
#ifndef TIDINGS_NOTIFY_PARSE_H
#define TIDINGS_NOTIFY_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "lib/strbuf.h"

/* The RFC 5465 event names, as bits. */
enum notify_event {
	NOTIFY_EV_MESSAGE_NEW = 1u << 0,
	NOTIFY_EV_MESSAGE_EXPUNGE = 1u << 1,
	NOTIFY_EV_FLAG_CHANGE = 1u << 2,
	NOTIFY_EV_ANNOTATION_CHANGE = 1u << 3,
	NOTIFY_EV_MAILBOX_NAME = 1u << 4,
	NOTIFY_EV_SUBSCRIPTION_CHANGE = 1u << 5,
	NOTIFY_EV_MAILBOX_METADATA_CHANGE = 1u << 6,
	NOTIFY_EV_SERVER_METADATA_CHANGE = 1u << 7,
	/* draft-gulbrandsen-imap-notify-07 */
	NOTIFY_EV_MAILBOX_CREATE = 1u << 8,
	NOTIFY_EV_MAILBOX_DELETE = 1u << 9,
	NOTIFY_EV_MAILBOX_RENAME = 1u << 10,
	NOTIFY_EV_QUOTA_EXCEED = 1u << 11,
	NOTIFY_EV_QUOTA_WITHIN = 1u << 12,
	NOTIFY_EV_QUOTA_CHANGE = 1u << 13,
	NOTIFY_EV_ADMIN_MAILBOX = 1u << 14,
};
#define NOTIFY_EV_MESSAGE_MASK (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_MESSAGE_EXPUNGE | \
				NOTIFY_EV_FLAG_CHANGE | NOTIFY_EV_ANNOTATION_CHANGE)
#define NOTIFY_EV_ALL 0x7fffu

enum notify_filter {
	NOTIFY_FILTER_SELECTED,
	NOTIFY_FILTER_SELECTED_DELAYED,
	NOTIFY_FILTER_INBOXES,
	NOTIFY_FILTER_PERSONAL,
	NOTIFY_FILTER_SUBSCRIBED,
	NOTIFY_FILTER_SUBTREE,
	NOTIFY_FILTER_MAILBOXES,
};

struct notify_group {
	enum notify_filter filter;
	unsigned int events;            /* enum notify_event bits; 0 = NONE */
	char **mailboxes;               /* SUBTREE / MAILBOXES: client form */
	size_t mailbox_count;
	struct imap_fetch_request *new_fetch; /* MessageNew's fetch-att, or NULL */
	/* draft -07 message-match criteria "(search-key)" after MessageNew
	 * (after its fetch-att), FlagChange and AnnotationChange; NULL =
	 * every message.  Points into the parsed command's arguments. */
	const struct imap_arg *new_match;
	const struct imap_arg *flag_match;
	const struct imap_arg *annotation_match;
};

struct notify_command {
	bool none;                      /* NOTIFY NONE */
	bool add;                       /* NOTIFY ADD (draft -07) */
	bool status;                    /* SET STATUS */
	struct notify_group *groups;
	size_t group_count;
};

struct notify_limits {
	size_t max_mailboxes;           /* names over all groups */
	size_t max_groups;
};

enum notify_parse_result {
	NOTIFY_PARSE_OK = 0,
	NOTIFY_PARSE_BAD = -1,          /* tagged BAD, *error_r says why */
	NOTIFY_PARSE_BADEVENT = -2,     /* tagged NO [BADEVENT (...)] (§3.1) */
	NOTIFY_PARSE_OVERFLOW = -3,     /* tagged NO [NOTIFICATIONOVERFLOW] */
};

/* Parses the arguments after "NOTIFY" (RFC 5465, plus draft -07's ADD,
 * events and message-match criteria).  supported: the event bits the
 * server can deliver; any other event (known but unsupported, or an
 * unknown event-ext atom) gives NOTIFY_PARSE_BADEVENT.  Checks every rule
 * of RFC 5465 §5 and §6.1 that needs no store.  Free *cmd_r after any
 * outcome with notify_command_free(). */
enum notify_parse_result notify_parse(const struct imap_arg *args, size_t count,
				      unsigned int supported,
				      const struct notify_limits *limits,
				      struct notify_command *cmd_r,
				      const char **error_r);
void notify_command_free(struct notify_command *cmd);
/* "MessageNew MessageExpunge ..." for the bits, in RFC order. */
void notify_events_write(struct strbuf *out, unsigned int events);

#endif
