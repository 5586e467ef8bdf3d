/* NOTIFY SET [STATUS] / NOTIFY NONE (RFC 5465 §3.1). */
#include <string.h>

#include "imap/imap-notify.h"
#include "lib/strbuf.h"

/* Most event groups in one NOTIFY: far above what a client needs, low
 * enough that a command cannot make the per-session spec big. */
#define NOTIFY_MAX_GROUPS 64

void cmd_notify(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct notify_limits limits = {
		.max_mailboxes = s->server->cfg->notify_max_mailboxes,
		.max_groups = NOTIFY_MAX_GROUPS,
	};
	struct notify_command nc;
	const char *error = NULL;
	enum notify_parse_result r = notify_parse(cmd->args, cmd->arg_count,
						  IMAP_NOTIFY_SUPPORTED, &limits,
						  &nc, &error);
	switch (r) {
	case NOTIFY_PARSE_OK:
		break;
	case NOTIFY_PARSE_BADEVENT: {
		/* §3.1: NO, not BAD, listing every event we support */
		struct strbuf code = STRBUF_INIT;
		strbuf_appends(&code, "BADEVENT (");
		notify_events_write(&code, IMAP_NOTIFY_SUPPORTED);
		strbuf_appends(&code, ")");
		imap_session_tagged(s, cmd->tag, "NO", strbuf_str(&code),
				    "Unsupported NOTIFY event");
		strbuf_free(&code);
		notify_command_free(&nc);
		return;
	}
	case NOTIFY_PARSE_OVERFLOW:
		/* §3.1: too expensive; the limit is notify_max_mailboxes */
		imap_session_tagged(s, cmd->tag, "NO", "NOTIFICATIONOVERFLOW",
				    error != NULL ? error : "NOTIFY too expensive");
		notify_command_free(&nc);
		return;
	default:
		s->bad_commands++;
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    error != NULL ? error : "Invalid NOTIFY");
		notify_command_free(&nc);
		return;
	}
	if (!imap_notify_add_fits(s, &nc, NOTIFY_MAX_GROUPS, limits.max_mailboxes)) {
		imap_session_tagged(s, cmd->tag, "NO", "NOTIFICATIONOVERFLOW",
				    "Too many mailboxes or groups after NOTIFY ADD");
		notify_command_free(&nc);
		return;
	}
	if (nc.none) {
		imap_notify_session_free(s);
		notify_command_free(&nc);
		imap_session_ok(s, cmd->tag, NULL, "NOTIFY completed.");
		return;
	}
	if (imap_notify_set(s, &nc, &error) < 0) {
		s->bad_commands++;
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		notify_command_free(&nc);
		return;
	}
	bool status = nc.status;
	notify_command_free(&nc);
	imap_notify_noaccess_report(s);
	if (status)
		imap_notify_status_all(s);
	/* §3.1: NOTIFY SET implies a NOOP: accumulated changes of the
	 * selected mailbox go out before the tagged OK. */
	imap_session_ok(s, cmd->tag, NULL, "NOTIFY completed.");
}
