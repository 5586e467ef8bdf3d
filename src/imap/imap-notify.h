/* NOTIFY (RFC 5465) between cmd-notify.c and the matcher in imap-notify.c. */
#ifndef TIDINGS_IMAP_NOTIFY_H
#define TIDINGS_IMAP_NOTIFY_H

#include "imap/imap-private.h"
#include "imap/notify-parse.h"

/* The events the matcher can deliver (any other gets NO [BADEVENT]). */
#define IMAP_NOTIFY_SUPPORTED (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_MESSAGE_EXPUNGE | \
			       NOTIFY_EV_FLAG_CHANGE | NOTIFY_EV_ANNOTATION_CHANGE | NOTIFY_EV_MAILBOX_NAME | \
			       NOTIFY_EV_SUBSCRIPTION_CHANGE | NOTIFY_EV_MAILBOX_CREATE | \
			       NOTIFY_EV_MAILBOX_DELETE | NOTIFY_EV_MAILBOX_RENAME | \
			       NOTIFY_EV_QUOTA_EXCEED | NOTIFY_EV_QUOTA_WITHIN | \
			       NOTIFY_EV_QUOTA_CHANGE | NOTIFY_EV_MAILBOX_METADATA_CHANGE | \
			       NOTIFY_EV_SERVER_METADATA_CHANGE | NOTIFY_EV_ADMIN_MAILBOX)

/* Replaces the session's NOTIFY state with cmd (NOTIFY SET), taking its
 * groups; names are converted to the store's form.  0, or -1 (BAD) with
 * *error_r when a mailbox name is not valid modified UTF-7. */
int imap_notify_set(struct imap_session *s, struct notify_command *cmd,
		    const char **error_r);
/* Whether a NOTIFY ADD keeps the session's spec within the limits (the
 * groups and names of every ADD so far count). */
bool imap_notify_add_fits(const struct imap_session *s, const struct notify_command *cmd,
			  size_t max_groups, size_t max_names);
/* SET STATUS: one STATUS for each mailbox that the message events of the
 * non-selected groups cover (§3.1). */
void imap_notify_status_all(struct imap_session *s);
/* SET: LIST (\NoAccess) for each named shared mailbox the user may LIST
 * but not read (§3.1). */
void imap_notify_noaccess_report(struct imap_session *s);

#endif
