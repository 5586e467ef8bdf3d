/* Commands valid in any state (RFC 3501 §6.1), ID (RFC 2971), ENABLE
 * (RFC 5161), and the command table. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/xalloc.h"

static const struct imap_command commands[] = {
	{ "APPEND", cmd_append, IMAP_CMD_LOGGED_IN },
	{ "AUTHENTICATE", cmd_authenticate, IMAP_CMD_NOT_AUTH },
	{ "CAPABILITY", cmd_capability, IMAP_CMD_ANY },
	{ "CHECK", cmd_check, IMAP_CMD_SELECTED },
	{ "CLOSE", cmd_close, IMAP_CMD_SELECTED },
	{ "COPY", cmd_copy, IMAP_CMD_SELECTED },
	{ "CREATE", cmd_create, IMAP_CMD_LOGGED_IN },
	{ "DELETE", cmd_delete, IMAP_CMD_LOGGED_IN },
	{ "DELETEACL", cmd_deleteacl, IMAP_CMD_LOGGED_IN },
	{ "ENABLE", cmd_enable, IMAP_CMD_LOGGED_IN },
	{ "EXAMINE", cmd_examine, IMAP_CMD_LOGGED_IN },
	{ "EXPUNGE", cmd_expunge, IMAP_CMD_SELECTED },
	{ "FETCH", cmd_fetch, IMAP_CMD_SELECTED },
	{ "GENURLAUTH", cmd_genurlauth, IMAP_CMD_LOGGED_IN },
	{ "GETACL", cmd_getacl, IMAP_CMD_LOGGED_IN },
	{ "GETMETADATA", cmd_getmetadata, IMAP_CMD_LOGGED_IN },
	{ "GETQUOTA", cmd_getquota, IMAP_CMD_LOGGED_IN },
	{ "GETQUOTAROOT", cmd_getquotaroot, IMAP_CMD_LOGGED_IN },
	{ "ID", cmd_id, IMAP_CMD_ANY },
	{ "IDLE", cmd_idle, IMAP_CMD_LOGGED_IN },
	{ "LIST", cmd_list, IMAP_CMD_LOGGED_IN },
	{ "LISTRIGHTS", cmd_listrights, IMAP_CMD_LOGGED_IN },
	{ "LOGIN", cmd_login, IMAP_CMD_NOT_AUTH },
	{ "LOGOUT", cmd_logout, IMAP_CMD_ANY },
	{ "LSUB", cmd_lsub, IMAP_CMD_LOGGED_IN },
	{ "MOVE", cmd_move, IMAP_CMD_SELECTED },
	{ "MYRIGHTS", cmd_myrights, IMAP_CMD_LOGGED_IN },
	{ "NAMESPACE", cmd_namespace, IMAP_CMD_LOGGED_IN },
	{ "NOOP", cmd_noop, IMAP_CMD_ANY },
	{ "NOTIFY", cmd_notify, IMAP_CMD_LOGGED_IN },
	{ "RENAME", cmd_rename, IMAP_CMD_LOGGED_IN },
	{ "RESETKEY", cmd_resetkey, IMAP_CMD_LOGGED_IN },
	{ "SEARCH", cmd_search, IMAP_CMD_SELECTED },
	{ "SELECT", cmd_select, IMAP_CMD_LOGGED_IN },
	{ "SETACL", cmd_setacl, IMAP_CMD_LOGGED_IN },
	{ "SETMETADATA", cmd_setmetadata, IMAP_CMD_LOGGED_IN },
	{ "SETQUOTA", cmd_setquota, IMAP_CMD_LOGGED_IN },
	{ "SORT", cmd_sort, IMAP_CMD_SELECTED },
	{ "STARTTLS", cmd_starttls, IMAP_CMD_NOT_AUTH },
	{ "STATUS", cmd_status, IMAP_CMD_LOGGED_IN },
	{ "STORE", cmd_store, IMAP_CMD_SELECTED },
	{ "SUBSCRIBE", cmd_subscribe, IMAP_CMD_LOGGED_IN },
	{ "THREAD", cmd_thread, IMAP_CMD_SELECTED },
	{ "UID", cmd_uid, IMAP_CMD_SELECTED },
	{ "UNSELECT", cmd_unselect, IMAP_CMD_SELECTED },
	{ "UNSUBSCRIBE", cmd_unsubscribe, IMAP_CMD_LOGGED_IN },
	{ "URLFETCH", cmd_urlfetch, IMAP_CMD_LOGGED_IN },
};

const struct imap_command *imap_command_find(const char *name)
{
	size_t lo = 0, hi = sizeof(commands) / sizeof(commands[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcasecmp(name, commands[mid].name);
		if (c == 0)
			return &commands[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool imap_session_plaintext_ok(const struct imap_session *s)
{
	const struct config *cfg = s->server->cfg;
	if (net_conn_is_tls(s->conn) || cfg->allow_plaintext_auth)
		return true;
	return cfg->plaintext_auth_loopback && net_conn_peer_is_loopback(s->conn);
}

void imap_capabilities_write(struct imap_session *s, struct strbuf *out)
{
	/* RFC 9051 Appendix A: both, before login too */
	strbuf_appends(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE");
	if (s->state == IMAP_STATE_NOT_AUTHENTICATED) {
		if (s->conn != NULL && !net_conn_is_tls(s->conn) && s->server->tls != NULL)
			strbuf_appends(out, " STARTTLS");
		if (s->conn != NULL && imap_session_plaintext_ok(s))
			strbuf_appends(out, " AUTH=PLAIN");
		else
			strbuf_appends(out, " LOGINDISABLED");
		return;
	}
	/* RFC 7889: the largest APPEND accepted, so the smaller limit. */
	uint64_t limit = s->server->cfg->max_literal_size;
	if (s->server->cfg->max_message_size > 0 && s->server->cfg->max_message_size < limit)
		limit = s->server->cfg->max_message_size;
	strbuf_appends(out, " NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE"
		       " ESEARCH SORT ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	/* One line per extension below, so each can be added on its own. */
	/* CONDSTORE/QRESYNC (RFC 7162) */
	strbuf_appends(out, " CONDSTORE QRESYNC");
	/* LIST-EXTENDED, LIST-STATUS (RFC 5258, RFC 5819) */
	strbuf_appends(out, " LIST-EXTENDED LIST-STATUS");
	/* QUOTA (RFC 9208) */
	strbuf_appends(out, " QUOTA QUOTASET QUOTA=RES-STORAGE QUOTA=RES-MESSAGE"
		       " QUOTA=RES-MAILBOX");
	/* ACL (RFC 4314) */
	strbuf_appends(out, " ACL RIGHTS=texk");
	/* METADATA (RFC 5464) */
	strbuf_appends(out, " METADATA METADATA-SERVER");
	/* ANNOTATE-EXPERIMENT-1 (RFC 5257) */
	strbuf_appends(out, " ANNOTATE-EXPERIMENT-1");
	/* NOTIFY (RFC 5465, draft -07) */
	strbuf_appends(out, " NOTIFY X-DRAFT-I07-NOTIFY");
	/* URLAUTH (RFC 4467) */
	strbuf_appends(out, " URLAUTH");
	/* IMAP4rev2, BINARY, UTF8=ACCEPT, WITHIN (RFC 9051, 3516, 6855, 5032) */
	strbuf_appends(out, " BINARY UTF8=ACCEPT WITHIN SEARCHRES");
	strbuf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)limit);
}

void cmd_capability(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "CAPABILITY takes no arguments");
		return;
	}
	struct strbuf line = STRBUF_INIT;
	strbuf_appends(&line, "* CAPABILITY ");
	imap_capabilities_write(s, &line);
	strbuf_appends(&line, "\r\n");
	imap_session_send(s, line.s, line.len);
	strbuf_free(&line);
	imap_session_flush_updates(s);
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Capability completed.");
}

void cmd_noop(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "NOOP takes no arguments");
		return;
	}
	imap_session_flush_updates(s);
	imap_session_tagged(s, cmd->tag, "OK", NULL, "NOOP completed.");
}

void cmd_logout(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "LOGOUT takes no arguments");
		return;
	}
	imap_session_sends(s, "* BYE Logging out\r\n");
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Logout completed.");
	s->logged_out = true;
	if (s->state != IMAP_STATE_NOT_AUTHENTICATED)
		s->state = IMAP_STATE_LOGOUT;
}

void cmd_id(struct imap_session *s, struct imap_parsed_command *cmd)
{
	/* RFC 2971: ("key" "value" ...) or NIL; at most 30 pairs, keys at
	 * most 30 octets, values at most 1024. */
	if (cmd->arg_count != 1 ||
	    (cmd->args[0].type != IMAP_ARG_NIL && cmd->args[0].type != IMAP_ARG_LIST)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "ID takes a list or NIL");
		return;
	}
	const struct imap_arg *l = &cmd->args[0];
	if (l->type == IMAP_ARG_LIST) {
		if (l->count % 2 != 0 || l->count > 60) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid ID parameter list");
			return;
		}
		for (size_t i = 0; i < l->count; i++) {
			const char *str;
			size_t len;
			if (i % 2 == 0 ? !imap_arg_string(&l->list[i], &str, &len) || len > 30
				       : (l->list[i].type != IMAP_ARG_NIL &&
					  (!imap_arg_string(&l->list[i], &str, &len) || len > 1024))) {
				imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid ID parameter");
				return;
			}
		}
	}
	imap_session_sends(s, "* ID (\"name\" \"Tidings\" \"version\" \"0.1.0\")\r\n");
	imap_session_flush_updates(s);
	imap_session_tagged(s, cmd->tag, "OK", NULL, "ID completed.");
}

/* RFC 5161: the extensions ENABLE knows.  Each extension's owner adds a
 * row; unknown names are ignored. */
static const struct {
	const char *name;
	unsigned int bit;
} enable_table[] = {
	{ "CONDSTORE", IMAP_ENABLE_CONDSTORE },
	{ "QRESYNC", IMAP_ENABLE_QRESYNC },
	{ "UTF8=ACCEPT", IMAP_ENABLE_UTF8_ACCEPT },
	{ "IMAP4rev2", IMAP_ENABLE_IMAP4REV2 },
};

void cmd_enable(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count == 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "ENABLE needs capability names");
		return;
	}
	for (size_t i = 0; i < cmd->arg_count; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid capability name");
			return;
		}
	}
	struct strbuf line = STRBUF_INIT;
	strbuf_appends(&line, "* ENABLED");
	for (size_t i = 0; i < cmd->arg_count; i++) {
		const char *name = cmd->args[i].str;
		for (size_t j = 0; j < sizeof(enable_table) / sizeof(enable_table[0]); j++) {
			unsigned int bit = enable_table[j].bit;
			/* a row whose extension is not built yet has bit 0 */
			if (bit == 0 || strcasecmp(name, enable_table[j].name) != 0)
				continue;
			/* RFC 5161 §3.1: only newly enabled ones are listed */
			if ((s->enabled & bit) == 0) {
				imap_enable_apply(s, bit);
				strbuf_printf(&line, " %s", enable_table[j].name);
			}
		}
	}
	strbuf_appends(&line, "\r\n");
	imap_session_send(s, line.s, line.len);
	strbuf_free(&line);
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Enabled.");
}

/* Side effects of enabling (e.g. QRESYNC implies CONDSTORE, RFC 7162
 * §3.2.3).  Extensions add their rules here. */
void imap_enable_apply(struct imap_session *s, unsigned int bit)
{
	/* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE (not listed in ENABLED
	 * unless asked for); both are CONDSTORE enabling commands (§3.1). */
	if (bit == IMAP_ENABLE_CONDSTORE || bit == IMAP_ENABLE_QRESYNC)
		imap_condstore_enable(s);
	/* RFC 9051 Appendix A, RFC 6855 §3 */
	if (bit == IMAP_ENABLE_IMAP4REV2 || bit == IMAP_ENABLE_UTF8_ACCEPT)
		imap_rev2_enable(s, bit);
	s->enabled |= bit;
}
