/* Listeners, session lifetimes, the input loop, timeouts and the pump
 * consumer that queues every session's updates. */
#include "imap/imap-server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/event-pump.h"
#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "net/net-ipcount.h"
#include "net/net-listen.h"

struct imap_listener_entry {
	struct net_listener *listener;
	struct imap_server *srv;
	bool implicit_tls;
	struct imap_listener_entry *next;
};

static void session_destroy(struct imap_session *s);

/* Sessions are never freed inside their own callbacks: a closed session is
 * put on the reap list and freed from a separate loop turn. */
static void session_schedule_reap(struct imap_session *s)
{
	struct imap_server *srv = s->server;
	if (s->reaping)
		return;
	s->reaping = true;
	s->reap_next = srv->reap_list;
	srv->reap_list = s;
	event_active(srv->reap_event, 0, 0);
}

static void server_reap(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	while (srv->reap_list != NULL) {
		struct imap_session *s = srv->reap_list;
		srv->reap_list = s->reap_next;
		session_destroy(s);
	}
}

/* ---- lists ---- */

static void lru_unlink(struct imap_server *srv, struct imap_session *s)
{
	if (s->lru_prev != NULL)
		s->lru_prev->lru_next = s->lru_next;
	else if (srv->lru_head == s)
		srv->lru_head = s->lru_next;
	if (s->lru_next != NULL)
		s->lru_next->lru_prev = s->lru_prev;
	else if (srv->lru_tail == s)
		srv->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_touch(struct imap_session *s)
{
	struct imap_server *srv = s->server;
	s->last_activity = time(NULL);
	if (srv->lru_tail == s)
		return;
	lru_unlink(srv, s);
	s->lru_prev = srv->lru_tail;
	if (srv->lru_tail != NULL)
		srv->lru_tail->lru_next = s;
	srv->lru_tail = s;
	if (srv->lru_head == NULL)
		srv->lru_head = s;
}

static size_t mailbox_bucket(int64_t mailbox_id)
{
	return (size_t)((uint64_t)mailbox_id * 0x9E3779B97F4A7C15ull >> 52) %
	       IMAP_MAILBOX_BUCKETS;
}

void imap_server_index_add(struct imap_session *s)
{
	struct imap_server *srv = s->server;
	size_t b = mailbox_bucket(s->view->mailbox_id);
	s->mbox_bucket = b;
	s->mbox_prev = NULL;
	s->mbox_next = srv->by_mailbox[b];
	if (s->mbox_next != NULL)
		s->mbox_next->mbox_prev = s;
	srv->by_mailbox[b] = s;
	s->in_mbox_index = true;
}

void imap_server_index_remove(struct imap_session *s)
{
	struct imap_server *srv = s->server;
	if (!s->in_mbox_index)
		return;
	if (s->mbox_prev != NULL)
		s->mbox_prev->mbox_next = s->mbox_next;
	else
		srv->by_mailbox[s->mbox_bucket] = s->mbox_next;
	if (s->mbox_next != NULL)
		s->mbox_next->mbox_prev = s->mbox_prev;
	s->mbox_prev = s->mbox_next = NULL;
	s->in_mbox_index = false;
}

/* ---- output ---- */

/* A client that leaves more than output_buffer_max unread is dropped.  One
 * response may be bigger than that (FETCH BODY[] of a big message, written
 * only while little is queued): the limit grows by the biggest response
 * written while the client was keeping up, until the output drains. */
static void session_check_output(struct imap_session *s, size_t before, size_t len)
{
	if (s->conn == NULL)
		return;
	size_t max = s->server->cfg->output_buffer_max;
	if (before <= max && len > s->out_grace)
		s->out_grace = len;
	size_t pending = net_conn_output_pending(s->conn);
	if (pending > max + s->out_grace) {
		log_info("imap: %s: client does not read its output (%zu bytes queued); disconnecting",
			 s->client_ip, pending);
		if (s->close_reason == NULL)
			s->close_reason = "error";
		s->closing = true;
		net_conn_destroy(&s->conn);
		session_schedule_reap(s);
	}
}

void imap_session_send(struct imap_session *s, const char *data, size_t len)
{
	if (s->conn == NULL || s->closing)
		return;
	size_t before = net_conn_output_pending(s->conn);
	net_conn_write(s->conn, data, len);
	session_check_output(s, before, len);
}

void imap_session_sendf(struct imap_session *s, const char *fmt, ...)
{
	strbuf_reset(&s->out);
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	imap_session_send(s, s->out.s, s->out.len);
}

void imap_session_tagged(struct imap_session *s, const char *tag,
			 const char *status, const char *code,
			 const char *text)
{
	strbuf_reset(&s->out);
	strbuf_printf(&s->out, "%s %s ", tag, status);
	if (code != NULL && code[0] != '\0')
		strbuf_printf(&s->out, "[%s] ", code);
	strbuf_appends(&s->out, text);
	strbuf_appends(&s->out, "\r\n");
	imap_session_send(s, s->out.s, s->out.len);
}

void imap_session_store_error(struct imap_session *s, const char *tag,
			      const struct store_error *err)
{
	/* RFC 5530 response codes for the store's error classes. */
	static const char *const codes[] = {
		[STORE_OK] = NULL,
		[STORE_ERR_NONEXISTENT] = "NONEXISTENT",
		[STORE_ERR_ALREADYEXISTS] = "ALREADYEXISTS",
		[STORE_ERR_NOPERM] = "NOPERM",
		[STORE_ERR_CANNOT] = "CANNOT",
		[STORE_ERR_HASCHILDREN] = "INUSE",
		[STORE_ERR_OVERQUOTA] = "OVERQUOTA",
		[STORE_ERR_TOOBIG] = "TOOBIG",
		[STORE_ERR_LIMIT] = "LIMIT",
		[STORE_ERR_EXPUNGED] = "EXPUNGEISSUED",
		[STORE_ERR_BUSY] = "INUSE",
		[STORE_ERR_INTERNAL] = "SERVERBUG",
	};
	const char *code = NULL;
	if ((size_t)err->code < sizeof(codes) / sizeof(codes[0]))
		code = codes[err->code];
	imap_session_tagged(s, tag, "NO", code,
			    err->msg[0] ? err->msg : "Operation failed");
}

void imap_session_sends(struct imap_session *s, const char *str)
{
	imap_session_send(s, str, strlen(str));
}

void imap_session_ok(struct imap_session *s, const char *tag, const char *code,
		     const char *text)
{
	imap_session_flush_updates(s);
	imap_session_tagged(s, tag, "OK", code, text);
}

void imap_session_bye(struct imap_session *s, const char *text)
{
	if (s->conn == NULL || s->closing)
		return;
	imap_session_sendf(s, "* BYE %s\r\n", text);
	s->closing = true;
	net_conn_close_after_flush(&s->conn);
	session_schedule_reap(s);
}

/* ---- sessions ---- */

static void session_on_read(struct net_conn *conn, void *ctx);
static void session_on_close(struct net_conn *conn, void *ctx, const char *reason);
static void session_on_drained(struct net_conn *conn, void *ctx);

static const struct net_conn_callbacks session_callbacks = {
	.on_read = session_on_read,
	.on_close = session_on_close,
	.on_drained = session_on_drained,
};

static void server_accept(struct imap_server *srv, int fd, bool implicit_tls)
{
	if (srv->shutting_down) {
		close(fd);
		return;
	}
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->server = srv;
	s->id = ++srv->next_session_id;
	s->conn = net_conn_create(srv->base, fd, implicit_tls ? srv->tls : NULL,
				  &session_callbacks, s);
	if (s->conn == NULL) {
		free(s);
		return;
	}
	snprintf(s->client_ip, sizeof(s->client_ip), "%s", net_conn_peer_ip(s->conn));
	s->reader = imap_reader_create(&srv->reader_limits);
	s->state = IMAP_STATE_NOT_AUTHENTICATED;
	s->mode = IMAP_INPUT_COMMAND;
	s->actor.service = "imap";
	s->actor.client_ip = s->client_ip;
	s->actor.client_port = net_conn_peer_port(s->conn);
	s->actor.server_port = net_conn_local_port(s->conn);
	s->actor.origin = store_origin_next();

	s->all_next = srv->all;
	if (srv->all != NULL)
		srv->all->all_prev = s;
	srv->all = s;
	srv->session_count++;
	unsigned int from_ip = net_ipcount_add(srv->ip_counts, s->client_ip);
	lru_touch(s);

	if (srv->session_count > srv->cfg->max_connections) {
		log_warn("imap: %s: connection limit (%u) reached", s->client_ip,
			 srv->cfg->max_connections);
		imap_session_bye(s, "[UNAVAILABLE] Too many connections, try again later");
		return;
	}
	if (from_ip > srv->cfg->max_connections_per_ip) {
		log_warn("imap: %s: per-IP connection limit (%u) reached",
			 s->client_ip, srv->cfg->max_connections_per_ip);
		imap_session_bye(s, "[UNAVAILABLE] Too many connections from your address");
		return;
	}
	strbuf_reset(&s->out);
	strbuf_appends(&s->out, "* OK [CAPABILITY ");
	imap_capabilities_write(s, &s->out);
	strbuf_appends(&s->out, "] Tidings ready.\r\n");
	imap_session_send(s, s->out.s, s->out.len);
	log_debug("imap: session %llu from %s:%d", (unsigned long long)s->id,
		  s->client_ip, s->actor.client_port);
}

static void session_destroy(struct imap_session *s)
{
	struct imap_server *srv = s->server;
	if (s->state == IMAP_STATE_AUTHENTICATED || s->state == IMAP_STATE_SELECTED ||
	    (s->state == IMAP_STATE_LOGOUT && s->user.id != 0)) {
		struct store_error err;
		/* RFC 5423 §6 vendor parameters: why and after how long */
		s->actor.logout_reason = s->logged_out ? "logout" :
			s->close_reason != NULL ? s->close_reason : "disconnect";
		time_t now = time(NULL);
		s->actor.session_seconds = now > s->login_time ?
			(int64_t)(now - s->login_time) : 0;
		if (store_event_logout(srv->store, &s->actor, &err) < 0)
			log_warn("imap: Logout event for %s: %s", s->user.name, err.msg);
		imap_server_changed(srv);
	}
	if (s->auth_job != NULL)
		s->auth_job->ctx = NULL;
	imap_session_unselect(s);
	imap_notify_session_free(s);
	lru_unlink(srv, s);
	if (s->all_prev != NULL)
		s->all_prev->all_next = s->all_next;
	else
		srv->all = s->all_next;
	if (s->all_next != NULL)
		s->all_next->all_prev = s->all_prev;
	srv->session_count--;
	net_ipcount_remove(srv->ip_counts, s->client_ip);
	if (s->conn != NULL)
		net_conn_destroy(&s->conn);
	if (s->delay_event != NULL)
		event_free(s->delay_event);
	if (s->fetch_job != NULL) {
		imap_fetch_request_free(&s->fetch_job->req);
		free(s->fetch_job->uids);
		free(s->fetch_job->tag);
		free(s->fetch_job);
	}
	imap_reader_destroy(&s->reader);
	free(s->pending_tag);
	free(s->delayed_reply);
	strbuf_free(&s->out);
	free(s);
}

static void session_on_close(struct net_conn *conn, void *ctx, const char *reason)
{
	struct imap_session *s = ctx;
	log_debug("imap: session %llu: %s", (unsigned long long)s->id, reason);
	net_conn_destroy(&s->conn);
	s->closing = true;
	session_schedule_reap(s);
}

static void session_on_drained(struct net_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	s->out_grace = 0;
	if (s->fetch_job != NULL)
		imap_fetch_job_continue(s);
	if (s->tls_pending) {
		s->tls_pending = false;
		if (net_conn_starttls(s->conn, s->server->tls) < 0) {
			log_warn("imap: %s: STARTTLS failed", s->client_ip);
			if (s->close_reason == NULL)
				s->close_reason = "error";
			s->closing = true;
			net_conn_destroy(&s->conn);
			session_schedule_reap(s);
			return;
		}
		s->mode = IMAP_INPUT_COMMAND;
	}
	if (s->mode == IMAP_INPUT_COMMAND && s->conn != NULL && !s->closing)
		session_on_read(s->conn, s);
}

void imap_session_resume(struct imap_session *s)
{
	if (s->conn != NULL && !s->closing)
		session_on_read(s->conn, s);
}

static bool session_gone(struct imap_session *s)
{
	return s->conn == NULL;
}

/* Executes one framed command. */
static void session_execute(struct imap_session *s, const char *data, size_t len)
{
	struct imap_parsed_command cmd;
	const char *error = NULL;
	if (imap_parse_command(data, len, &s->server->parser_limits, &cmd, &error) < 0) {
		s->bad_commands++;
		if (cmd.tag != NULL)
			imap_session_tagged(s, cmd.tag, "BAD", "CLIENTBUG", error);
		else
			imap_session_sendf(s, "* BAD [CLIENTBUG] %s\r\n", error);
		imap_parsed_command_free(&cmd);
		return;
	}
	const struct imap_command *c = imap_command_find(cmd.name);
	if (c == NULL) {
		s->bad_commands++;
		imap_session_tagged(s, cmd.tag, "BAD", "CLIENTBUG", "Unknown command");
		imap_parsed_command_free(&cmd);
		return;
	}
	unsigned int need = s->state == IMAP_STATE_NOT_AUTHENTICATED ? IMAP_CMD_NOT_AUTH :
			    s->state == IMAP_STATE_AUTHENTICATED ? IMAP_CMD_AUTH :
			    IMAP_CMD_SELECTED;
	if ((c->flags & need) == 0) {
		s->bad_commands++;
		const char *why = s->state == IMAP_STATE_NOT_AUTHENTICATED ?
			"Command not permitted before authentication" :
			s->state == IMAP_STATE_AUTHENTICATED && (c->flags & IMAP_CMD_SELECTED) ?
			"No mailbox selected" :
			"Command not permitted in this state";
		imap_session_tagged(s, cmd.tag, "BAD", "CLIENTBUG", why);
		imap_parsed_command_free(&cmd);
		return;
	}
	/* Another user's mailbox whose 'l' or 'r' was taken away while it
	 * was selected: only CLOSE and UNSELECT still work (docs/acl.md). */
	if (s->state == IMAP_STATE_SELECTED && (c->flags & IMAP_CMD_AUTH) == 0 &&
	    strcmp(c->name, "CLOSE") != 0 && strcmp(c->name, "UNSELECT") != 0 &&
	    !imap_view_access_check(s)) {
		imap_session_tagged(s, cmd.tag, "NO", "NOPERM",
				    "Access to the selected mailbox was revoked");
		imap_parsed_command_free(&cmd);
		return;
	}
	s->cmd_name = c->name;
	s->cmd_uid = false;
	s->cmd_silent_store = false;
	/* UTF-8 mailbox names for this command (RFC 6855, RFC 9051) */
	imap_mailbox_names_utf8_set(imap_utf8_enabled(s));
	c->fn(s, &cmd);
	imap_mailbox_names_utf8_set(false);
	s->cmd_name = NULL;
	imap_parsed_command_free(&cmd);
	if (s->notify != NULL)
		imap_notify_command_done(s);
}

static void session_limit_error(struct imap_session *s, const char *text)
{
	const char *tag = imap_reader_tag(s->reader);
	s->bad_commands++;
	if (tag != NULL && tag[0] != '\0')
		imap_session_tagged(s, tag, "BAD", "TOOBIG", text);
	else
		imap_session_sendf(s, "* BAD [TOOBIG] %s\r\n", text);
}

static void session_on_read(struct net_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	struct evbuffer *in = net_conn_input(conn);
	lru_touch(s);
	if (s->input_stopped && s->mode != IMAP_INPUT_PAUSED) {
		s->input_stopped = false;
		net_conn_set_reading(conn, true);
	}

	while (!session_gone(s) && !s->closing && s->mode != IMAP_INPUT_PAUSED &&
	       !s->tls_pending) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		struct evbuffer_iovec vec;
		if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
			break;
		size_t consumed = 0;
		enum imap_reader_status st = imap_reader_feed(s->reader,
			vec.iov_base, vec.iov_len, &consumed);
		evbuffer_drain(in, consumed);

		switch (st) {
		case IMAP_READER_NEED_MORE:
			if (consumed == 0 && vec.iov_len > 0) {
				/* Should not happen; avoid spinning. */
				imap_session_bye(s, "Internal parser error");
				return;
			}
			continue;
		case IMAP_READER_LITERAL_WAIT:
			imap_session_send(s, "+ Ready for literal data\r\n", 26);
			continue;
		case IMAP_READER_LITERAL_TOO_BIG: {
			bool nonsync = false;
			imap_reader_literal_size(s->reader, &nonsync);
			if (nonsync) {
				/* RFC 7888 §4: the data follows anyway; we will
				 * not read megabytes to throw them away. */
				session_limit_error(s, "Literal too big");
				imap_session_bye(s, "[TOOBIG] Literal too big");
				return;
			}
			session_limit_error(s, "Literal too big");
			imap_reader_reset(s->reader);
			break;
		}
		case IMAP_READER_LINE_TOO_LONG:
			if (s->mode == IMAP_INPUT_AUTHENTICATE) {
				/* RFC 3501 §6.2.2: the exchange ends with a
				 * tagged BAD; the next line is a command again. */
				char *tag = s->pending_tag;
				s->pending_tag = NULL;
				s->mode = IMAP_INPUT_COMMAND;
				imap_reader_reset(s->reader);
				imap_reader_set_line_mode(s->reader, false);
				s->bad_commands++;
				imap_session_tagged(s, tag, "BAD", "TOOBIG",
						    "Authentication response too long");
				free(tag);
				break;
			}
			session_limit_error(s, "Command line too long");
			imap_reader_reset(s->reader);
			break;
		case IMAP_READER_COMMAND_TOO_BIG:
			session_limit_error(s, "Command too big");
			imap_reader_reset(s->reader);
			break;
		case IMAP_READER_COMMAND:
			if (s->mode == IMAP_INPUT_IDLE || s->mode == IMAP_INPUT_AUTHENTICATE) {
				size_t llen = 0;
				const char *line = imap_reader_line(s->reader, &llen);
				char *copy = xmemdupz(line, llen);
				imap_reader_reset(s->reader);
				if (s->mode == IMAP_INPUT_IDLE)
					imap_idle_line(s, copy, llen);
				else
					imap_auth_continue(s, copy, llen);
				free(copy);
			} else {
				size_t clen = 0;
				const char *data = imap_reader_command(s->reader, &clen);
				/* The reader's buffer is reused by the next
				 * feed; commands run to completion first. */
				session_execute(s, data, clen);
				if (s->reader != NULL)
					imap_reader_reset(s->reader);
			}
			break;
		}
		/* RFC 3501 §6.1.3: nothing after LOGOUT is run. */
		if (s->closing || session_gone(s) || s->logged_out)
			break;
		if (s->bad_commands >= s->server->cfg->max_bad_commands) {
			if (s->close_reason == NULL)
				s->close_reason = "error";
			imap_session_bye(s, "Too many invalid commands");
			break;
		}
	}
	if (s->logged_out && s->conn != NULL) {
		s->closing = true;
		net_conn_close_after_flush(&s->conn);
		session_schedule_reap(s);
	}
	/* While a command is in progress (FETCH output, password check, auth
	 * failure delay) nothing is consumed: stop reading once a line's
	 * worth is buffered, so TCP pushes back instead of the server
	 * buffering whatever the client sends.  Reading resumes above. */
	if (s->conn != NULL && !s->closing && s->mode == IMAP_INPUT_PAUSED &&
	    !s->input_stopped &&
	    evbuffer_get_length(in) > s->server->cfg->max_line_length) {
		s->input_stopped = true;
		net_conn_set_reading(s->conn, false);
	}
}

/* ---- the pump consumer ---- */

static void view_push(uint32_t **arr, size_t *count, size_t *cap, uint32_t v)
{
	if (*count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[(*count)++] = v;
}

static bool event_is(const char *type, const char *name)
{
	return strcmp(type, name) == 0;
}

/* Extracts "uidset" from the event JSON without a JSON library on the hot
 * path: the store writes it as a plain string value. */
static int event_uids(const char *json, uint32_t **uids_r, size_t *count_r)
{
	const char *p = strstr(json, "\"uidset\":\"");
	if (p == NULL)
		return -1;
	p += 10;
	const char *end = strchr(p, '"');
	if (end == NULL)
		return -1;
	char *set = xmemdupz(p, (size_t)(end - p));
	int ret = seqset_to_numbers(set, uids_r, count_r, 10000000);
	free(set);
	return ret;
}

static void session_event(struct imap_session *s, const struct store_outbox_event *ev,
			  const uint32_t *uids, size_t count)
{
	struct imap_view *v = s->view;
	/* no updates once the rights on another user's mailbox are gone */
	if (!imap_view_access_check(s))
		return;
	if (event_is(ev->type, "MessageAppend") || event_is(ev->type, "MessageNew")) {
		v->pending_new = true;
	} else if (event_is(ev->type, "MessageExpunge") || event_is(ev->type, "MessageExpire")) {
		for (size_t i = 0; i < count; i++)
			view_push(&v->pending_expunge, &v->pending_expunge_count,
				  &v->pending_expunge_cap, uids[i]);
	} else if (event_is(ev->type, "FlagsSet") || event_is(ev->type, "FlagsClear") ||
		   event_is(ev->type, "MessageRead") || event_is(ev->type, "MessageTrash")) {
		/* The session's own STORE answers with FETCH itself. */
		if (ev->origin == s->actor.origin && ev->origin_pid == getpid())
			return;
		for (size_t i = 0; i < count; i++)
			view_push(&v->pending_flags, &v->pending_flags_count,
				  &v->pending_flags_cap, uids[i]);
	} else if (event_is(ev->type, "MailboxDelete") || event_is(ev->type, "MailboxRename")) {
		/* Handled at the next flush: the mailbox is gone or moved. */
		v->pending_new = true;
	} else if (strcmp(ev->type, "vnd.tidings.AnnotationChange") == 0) {
		/* NOTIFY SELECTED AnnotationChange: FETCH ANNOTATION at once */
		if (s->notify != NULL)
			imap_notify_selected_event(s, ev);
		return;
	} else {
		return;
	}
	if (s->mode == IMAP_INPUT_IDLE)
		imap_session_flush_updates(s);
	else if (s->notify != NULL)
		imap_notify_selected_event(s, ev);
}

static void server_on_event(const struct store_outbox_event *ev, void *ctx)
{
	struct imap_server *srv = ctx;
	/* rights cached by sessions (imap_acl_rights) are stale now */
	if (strcmp(ev->type, "vnd.tidings.AclChange") == 0)
		imap_acl_changed(srv);
	if (ev->mailbox_id == 0)
		return;
	uint32_t *uids = NULL;
	size_t count = 0;
	bool have_uids = false;
	struct imap_session *next;
	for (struct imap_session *s = srv->by_mailbox[mailbox_bucket(ev->mailbox_id)];
	     s != NULL; s = next) {
		next = s->mbox_next;
		if (s->view == NULL || s->view->mailbox_id != ev->mailbox_id)
			continue;
		if (!have_uids) {
			have_uids = true;
			if (event_uids(ev->json, &uids, &count) < 0) {
				uids = NULL;
				count = 0;
			}
		}
		session_event(s, ev, uids, count);
	}
	free(uids);
}

void imap_server_changed(struct imap_server *srv)
{
	/* The pump writes to other sessions: not in the running command's
	 * form of mailbox names (the NOTIFY hub sets each receiving
	 * session's own, imap-notify.c hub_dispatch). */
	bool utf8 = imap_mailbox_names_utf8();
	imap_mailbox_names_utf8_set(false);
	event_pump_run(srv->pump);
	imap_mailbox_names_utf8_set(utf8);
	/* The sinks poll too; this only spares them the wait. */
	if (srv->change_hook != NULL)
		srv->change_hook(srv->change_hook_ctx);
}

void imap_server_set_change_hook(struct imap_server *srv,
				 void (*hook)(void *ctx), void *ctx)
{
	srv->change_hook = hook;
	srv->change_hook_ctx = ctx;
}

void imap_server_notify_changed(struct imap_server *srv)
{
	imap_server_changed(srv);
}

/* ---- timers ---- */

static void server_auth_done(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	auth_worker_collect(srv->auth_worker);
}

static void server_poll(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	event_pump_poll(srv->pump);
}

static void server_tick(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	time_t now = time(NULL);
	/* Least recently active first: stop at the first one still fresh
	 * enough under the shorter timeout. */
	time_t fresh = (time_t)(srv->cfg->login_timeout < srv->cfg->idle_timeout ?
				srv->cfg->login_timeout : srv->cfg->idle_timeout);
	struct imap_session *next;
	for (struct imap_session *s = srv->lru_head; s != NULL; s = next) {
		next = s->lru_next;
		unsigned int limit = s->state == IMAP_STATE_NOT_AUTHENTICATED ?
			srv->cfg->login_timeout : srv->cfg->idle_timeout;
		time_t idle = now - s->last_activity;
		if (idle < fresh)
			break;
		if (idle >= (time_t)limit && !s->closing && s->conn != NULL) {
			log_info("imap: %s: %s timeout", s->client_ip,
				 s->state == IMAP_STATE_NOT_AUTHENTICATED ? "login" : "idle");
			lru_unlink(srv, s);
			if (s->close_reason == NULL)
				s->close_reason = "timeout";
			imap_session_bye(s, "Autologout; idle for too long");
		}
	}
}

/* ---- the server ---- */

struct imap_server *imap_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store, SSL_CTX *tls)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->store = store;
	srv->tls = tls;
	srv->ip_counts = net_ipcount_create();
	srv->reader_limits.max_line = cfg->max_line_length;
	srv->reader_limits.max_literal = cfg->max_literal_size;
	srv->reader_limits.max_command = cfg->max_literal_size + cfg->max_line_length * 4;
	srv->reader_limits.max_literals = 1000;
	srv->parser_limits.max_depth = 64;
	srv->parser_limits.max_args = 100000;
	srv->pump = event_pump_create(store);
	event_pump_add_consumer(srv->pump, server_on_event, srv);
	/* NOTIFY after the view matcher: it may send what that one queued */
	srv->notify_hub = imap_notify_hub_create(srv);

	struct timeval poll_tv = { 0, 50 * 1000 };
	srv->poll_event = event_new(base, -1, EV_PERSIST, server_poll, srv);
	event_add(srv->poll_event, &poll_tv);
	srv->reap_event = event_new(base, -1, 0, server_reap, srv);
	srv->auth_worker = auth_worker_create(2);
	srv->auth_event = event_new(base, auth_worker_fd(srv->auth_worker),
				    EV_READ | EV_PERSIST, server_auth_done, srv);
	event_add(srv->auth_event, NULL);
	struct timeval tick_tv = { 1, 0 };
	srv->tick_event = event_new(base, -1, EV_PERSIST, server_tick, srv);
	event_add(srv->tick_event, &tick_tv);
	return srv;
}

static void listener_accept_cb(int fd, void *ctx)
{
	struct imap_listener_entry *e = ctx;
	server_accept(e->srv, fd, e->implicit_tls);
}

int imap_server_listen(struct imap_server *srv, const char *host, int port,
		       bool implicit_tls, char *err, size_t err_size)
{
	struct imap_listener_entry *e = xcalloc(1, sizeof(*e));
	e->srv = srv;
	e->implicit_tls = implicit_tls;
	e->listener = net_listener_create(srv->base, host, port, listener_accept_cb,
					  e, err, err_size);
	if (e->listener == NULL) {
		free(e);
		return -1;
	}
	e->next = srv->listeners;
	srv->listeners = e;
	return 0;
}

void imap_server_shutdown(struct imap_server *srv)
{
	srv->shutting_down = true;
	for (struct imap_listener_entry *e = srv->listeners; e != NULL; e = e->next)
		net_listener_pause(e->listener);
	struct imap_session *next;
	for (struct imap_session *s = srv->all; s != NULL; s = next) {
		next = s->all_next;
		if (s->close_reason == NULL)
			s->close_reason = "shutdown";
		imap_session_bye(s, "Server shutting down");
	}
}

void imap_server_destroy(struct imap_server **srvp)
{
	struct imap_server *srv = *srvp;
	if (srv == NULL)
		return;
	*srvp = NULL;
	srv->reap_list = NULL;
	while (srv->all != NULL) {
		if (srv->all->close_reason == NULL)
			srv->all->close_reason = "shutdown";
		session_destroy(srv->all);
	}
	event_free(srv->reap_event);
	struct imap_listener_entry *e = srv->listeners, *en;
	for (; e != NULL; e = en) {
		en = e->next;
		net_listener_destroy(&e->listener);
		free(e);
	}
	event_free(srv->auth_event);
	auth_worker_destroy(&srv->auth_worker);
	event_free(srv->poll_event);
	event_free(srv->tick_event);
	event_pump_destroy(&srv->pump);
	imap_notify_hub_destroy(&srv->notify_hub);
	net_ipcount_destroy(&srv->ip_counts);
	free(srv);
}

unsigned int imap_server_session_count(const struct imap_server *srv)
{
	return srv->session_count;
}
