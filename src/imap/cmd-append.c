/* APPEND (RFC 3501 §6.3.11) with UIDPLUS (RFC 4315) APPENDUID and
 * APPENDLIMIT (RFC 7889). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "imap/imap-annotate.h"
#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

void cmd_append(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct strbuf name = STRBUF_INIT, keywords = STRBUF_INIT, reencoded = STRBUF_INIT;
	struct imap_annotate_store ann = { 0 };  /* RFC 5257 §4.7 */
	struct store_error err;
	uint32_t flags = 0;
	int64_t internaldate = (int64_t)time(NULL);
	int tz_offset;
	const char *str;
	size_t len, i = 1;

	/* The local zone's offset for "now". */
	struct tm tm;
	time_t now = (time_t)internaldate;
	localtime_r(&now, &tm);
	tz_offset = (int)(tm.tm_gmtoff / 60);

	if (cmd->arg_count < 2) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "APPEND needs a mailbox and a message");
		return;
	}
	if (!imap_arg_astring(&cmd->args[0], &str, &len) || strlen(str) != len) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid mailbox name");
		return;
	}
	if (imap_mailbox_from_client(str, &name) < 0) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		goto out;
	}
	if (i < cmd->arg_count && cmd->args[i].type == IMAP_ARG_LIST) {
		const char *error;
		if (imap_flags_parse(&cmd->args[i], &flags, &keywords, &error) < 0) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
			goto out;
		}
		i++;
	}
	if (i < cmd->arg_count && cmd->args[i].type == IMAP_ARG_QUOTED) {
		if (imap_datetime_parse(cmd->args[i].str, &internaldate, &tz_offset) < 0) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid date-time");
			goto out;
		}
		i++;
	}
	/* RFC 5257 §4.7: append-ext ANNOTATION (...) (cmd-annotate.c) */
	if (imap_annotate_append_parse(s, cmd->tag, cmd->args, cmd->arg_count, &i, &ann) < 0)
		goto out;
	/* a literal, literal8 (RFC 3516 §4.4) or UTF8 (~{n}) (RFC 6855 §4) */
	const struct imap_arg *msg;
	const char *msg_error;
	if (imap_append_message_arg(s, cmd->args, cmd->arg_count, i, &msg, &msg_error) < 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", msg_error);
		goto out;
	}
	if (msg->len == 0) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Cannot append an empty message");
		goto out;
	}
	if (s->server->cfg->max_message_size > 0 && msg->len > s->server->cfg->max_message_size) {
		imap_session_tagged(s, cmd->tag, "NO", "TOOBIG", "Message too big");
		goto out;
	}
	/* RFC 3516 §4.4, §6: binary parts of a literal8 are stored as base64,
	 * so BODY[] can carry them and BODYSTRUCTURE describes what BODY[]
	 * sends (src/mime/mime-reencode.c). */
	const char *msg_data = msg->str;
	size_t msg_len = msg->len;
	if (msg->literal8) {
		const char *cte_error;
		int cte_rc = mime_binary_reencode(msg->str, msg->len, &reencoded, &cte_error);
		if (cte_rc < 0) {
			imap_session_tagged(s, cmd->tag, "NO", "UNKNOWN-CTE", cte_error);
			goto out;
		}
		if (cte_rc > 0) {
			msg_data = reencoded.s;
			msg_len = reencoded.len;
		}
	}
	struct store_mailbox mb;
	uint32_t rights;
	/* RFC 4314 §4: 'i' on the target */
	if (imap_mailbox_get(s, name.s, IMAP_ACL_INSERT, &mb, &rights, &err) < 0) {
		if (err.code == STORE_ERR_NONEXISTENT)
			imap_session_tagged(s, cmd->tag, "NO", "TRYCREATE", "Mailbox does not exist");
		else
			imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (mb.noselect) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox cannot hold messages");
		goto out;
	}
	/* RFC 4314 §4: flags the user may not set are dropped, not refused */
	bool keywords_ok;
	flags = imap_acl_flags_allowed(rights, flags, &keywords_ok);
	if (!keywords_ok)
		strbuf_reset(&keywords);
	if (imap_annotate_append_check(s, cmd->tag, &ann, rights) < 0)
		goto out;
	uint32_t uid = 0, uidvalidity = 0;
	int rc = store_message_append(s->server->store, &s->actor, mb.id, msg_data, msg_len,
				      flags, keywords.len ? keywords.s : NULL,
				      internaldate, tz_offset, &uid, &uidvalidity, &err);
	imap_server_changed(s->server);
	if (rc < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (imap_annotate_append_apply(s, mb.id, uid, &ann, &err) < 0) {
		log_error("imap: %s: message %u appended without its annotations: %s",
			  s->user.name, uid, err.msg);
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	char code[64];
	snprintf(code, sizeof(code), "APPENDUID %u %u", uidvalidity, uid);
	imap_session_ok(s, cmd->tag, code, "Append completed.");
out:
	strbuf_free(&name);
	strbuf_free(&keywords);
	strbuf_free(&reencoded);
	imap_annotate_store_free(&ann);
}
