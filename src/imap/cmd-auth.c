/* STARTTLS, LOGIN and AUTHENTICATE (RFC 3501 §6.2, SASL-IR RFC 4959,
 * PLAIN RFC 4616), with the growing delay after failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth-worker.h"
#include "auth/auth.h"
#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define AUTH_FAIL_DELAY_MAX_MS 15000

void cmd_starttls(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "STARTTLS takes no arguments");
		return;
	}
	if (s->server->tls == NULL) {
		imap_session_tagged(s, cmd->tag, "NO", "UNAVAILABLE", "TLS is not configured");
		return;
	}
	if (net_conn_is_tls(s->conn)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "TLS is already active");
		return;
	}
	imap_session_tagged(s, cmd->tag, "OK", NULL, "Begin TLS negotiation now.");
	/* Anything pipelined after STARTTLS in clear text is discarded when
	 * the switch happens (RFC 3501 §6.2.1; the STARTTLS injection attack). */
	s->tls_pending = true;
	imap_reader_reset(s->reader);
}

static void auth_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	if (s->delayed_reply != NULL) {
		imap_session_send(s, s->delayed_reply, strlen(s->delayed_reply));
		free(s->delayed_reply);
		s->delayed_reply = NULL;
	}
	if (s->auth_failures >= s->server->cfg->max_auth_failures) {
		imap_session_bye(s, "Too many authentication failures");
		return;
	}
	s->mode = IMAP_INPUT_COMMAND;
	imap_session_resume(s);
}

void imap_session_auth_failed(struct imap_session *s, const char *tag,
			      const char *text)
{
	s->auth_failures++;
	log_info("imap: %s: authentication failed (%u)", s->client_ip, s->auth_failures);
	struct strbuf reply = STRBUF_INIT;
	strbuf_printf(&reply, "%s NO [AUTHENTICATIONFAILED] %s\r\n", tag, text);
	free(s->delayed_reply);
	s->delayed_reply = strbuf_detach(&reply, NULL);
	/* The delay doubles with every failure: a password guesser gets
	 * slower and slower, a typo costs a second. */
	unsigned long ms = s->server->cfg->auth_fail_delay_ms;
	for (unsigned int i = 1; i < s->auth_failures && ms < AUTH_FAIL_DELAY_MAX_MS; i++)
		ms *= 2;
	if (ms > AUTH_FAIL_DELAY_MAX_MS)
		ms = AUTH_FAIL_DELAY_MAX_MS;
	if (s->delay_event == NULL)
		s->delay_event = evtimer_new(s->server->base, auth_delay_done, s);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	s->mode = IMAP_INPUT_PAUSED;
	evtimer_add(s->delay_event, &tv);
}

void imap_session_logged_in(struct imap_session *s, const struct store_user *u,
			    const char *tag, const char *admin)
{
	s->user = *u;
	s->state = IMAP_STATE_AUTHENTICATED;
	s->actor.user = s->user.name;
	s->actor.admin = admin;
	s->actor.tls = net_conn_is_tls(s->conn);
	s->login_time = time(NULL);
	struct store_error err;
	if (store_event_login(s->server->store, &s->actor, &err) < 0)
		log_warn("imap: Login event for %s: %s", u->name, err.msg);
	imap_server_changed(s->server);
	log_info("imap: %s: user %s logged in%s", s->client_ip, u->name,
		 net_conn_is_tls(s->conn) ? " (TLS)" : "");
	struct strbuf line = STRBUF_INIT;
	strbuf_printf(&line, "%s OK [CAPABILITY ", tag);
	imap_capabilities_write(s, &line);
	strbuf_appends(&line, "] Logged in\r\n");
	imap_session_send(s, line.s, line.len);
	strbuf_free(&line);
}

/* RFC 4616 §2: the password proved the authentication identity
 * (job->user); acting as job->authzid is allowed to admins only (config
 * "admins"), and the session then is the authzid's, with the admin's name
 * in actor.admin (RFC 5423 §5 "admin"). */
static void auth_act_as(struct imap_session *s, struct auth_job *job)
{
	struct store_user target;
	struct store_error err;
	if (!config_is_admin(s->server->cfg, job->user) ||
	    store_user_lookup(s->server->store, job->authzid, &target, &err) < 0) {
		s->auth_failures++;
		log_info("imap: %s: %s may not act as %s", s->client_ip,
			 job->user, job->authzid);
		imap_session_tagged(s, job->tag, "NO", "AUTHORIZATIONFAILED",
				    "Authorization identity not permitted");
		return;
	}
	snprintf(s->admin_name, sizeof(s->admin_name), "%s", job->user);
	imap_session_logged_in(s, &target, job->tag, s->admin_name);
}

bool imap_session_is_admin(const struct imap_session *s)
{
	/* The authorization identity decides: an admin acting as another
	 * user has that user's rights only. */
	return s->state != IMAP_STATE_NOT_AUTHENTICATED &&
	       config_is_admin(s->server->cfg, s->user.name);
}

static void auth_job_done(struct auth_job *job)
{
	struct imap_session *s = job->ctx;
	if (s != NULL && (s->conn == NULL || s->closing)) {
		/* Closed, its reap not run yet: nothing to answer. */
		s->auth_job = NULL;
		s = NULL;
	}
	if (s == NULL) {
		/* The session went away while its password was checked. */
		auth_job_free(job);
		return;
	}
	s->auth_job = NULL;
	s->mode = IMAP_INPUT_COMMAND;
	struct store_user u;
	struct store_error err;
	if (!job->ok) {
		imap_session_auth_failed(s, job->tag, "Authentication failed.");
	} else if (store_user_lookup(s->server->store, job->user, &u, &err) < 0) {
		/* Deleted while we were checking. */
		imap_session_auth_failed(s, job->tag, "Authentication failed.");
	} else if (job->authzid != NULL) {
		auth_act_as(s, job);
	} else {
		imap_session_logged_in(s, &u, job->tag, NULL);
	}
	auth_job_free(job);
	if (s->mode == IMAP_INPUT_COMMAND)
		imap_session_resume(s);
}

static void auth_check(struct imap_session *s, const char *tag,
		       const char *authzid, const char *user, const char *password)
{
	struct store_user u;
	struct store_error err;
	bool act_as = authzid != NULL && authzid[0] != '\0' &&
		      strcmp(authzid, user) != 0;
	if (act_as && strlen(authzid) > 255) {
		imap_session_auth_failed(s, tag, "Authentication failed.");
		return;
	}
	/* Acting as another user: decided after the password check
	 * (auth_act_as), so a guesser learns nothing from the answer. */
	bool known = store_user_lookup(s->server->store, user, &u, &err) == 0;
	if (!known && err.code != STORE_ERR_NONEXISTENT) {
		imap_session_store_error(s, tag, &err);
		return;
	}
	/* argon2id runs on a worker thread; an unknown user costs the same
	 * time as a wrong password, so the answer reveals nothing. */
	struct auth_job *job = xcalloc(1, sizeof(*job));
	job->encoded = xstrdup(known ? u.password_hash : "");
	job->password = xstrdup(password);
	job->tag = xstrdup(tag);
	job->user = xstrdup(user);
	job->authzid = act_as ? xstrdup(authzid) : NULL;
	job->done = auth_job_done;
	job->ctx = s;
	s->auth_job = job;
	s->mode = IMAP_INPUT_PAUSED;
	auth_worker_submit(s->server->auth_worker, job);
}

void cmd_login(struct imap_session *s, struct imap_parsed_command *cmd)
{
	const char *user, *password;
	size_t ulen, plen;
	if (cmd->arg_count != 2 || !imap_arg_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_astring(&cmd->args[1], &password, &plen)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "LOGIN needs user name and password");
		return;
	}
	if (!imap_session_plaintext_ok(s)) {
		imap_session_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
				    "Plaintext authentication disallowed on non-secure connections; use STARTTLS");
		return;
	}
	if (strlen(user) != ulen || strlen(password) != plen || ulen == 0 || ulen > 255) {
		imap_session_auth_failed(s, cmd->tag, "Authentication failed.");
		return;
	}
	/* vnd.tidings.mechanism of the Login event, if this succeeds */
	s->actor.mechanism = "LOGIN";
	auth_check(s, cmd->tag, NULL, user, password);
}

static void auth_plain(struct imap_session *s, const char *tag,
		       const char *b64, size_t len)
{
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	if (auth_sasl_plain_decode(b64, len, &authzid, &authcid, &password) < 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid SASL PLAIN response");
		return;
	}
	s->actor.mechanism = "PLAIN";
	auth_check(s, tag, authzid, authcid, password);
	if (password != NULL)
		explicit_bzero(password, strlen(password));
	free(authzid);
	free(authcid);
	free(password);
}

void cmd_authenticate(struct imap_session *s, struct imap_parsed_command *cmd)
{
	const char *mech;
	if (cmd->arg_count < 1 || cmd->arg_count > 2 || !imap_arg_atom(&cmd->args[0], &mech)) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "AUTHENTICATE needs a mechanism name");
		return;
	}
	if (strcasecmp(mech, "PLAIN") != 0) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	if (!imap_session_plaintext_ok(s)) {
		imap_session_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
				    "Plaintext authentication disallowed on non-secure connections; use STARTTLS");
		return;
	}
	if (cmd->arg_count == 2) {
		/* SASL-IR (RFC 4959): "=" is an empty initial response. */
		const char *ir;
		if (!imap_arg_atom(&cmd->args[1], &ir)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", "Invalid initial response");
			return;
		}
		if (strcmp(ir, "=") == 0)
			ir = "";
		auth_plain(s, cmd->tag, ir, strlen(ir));
		return;
	}
	free(s->pending_tag);
	s->pending_tag = xstrdup(cmd->tag);
	s->mode = IMAP_INPUT_AUTHENTICATE;
	imap_reader_set_line_mode(s->reader, true);
	imap_session_send(s, "+ \r\n", 4);
}

void imap_auth_continue(struct imap_session *s, const char *line, size_t len)
{
	char *tag = s->pending_tag;
	s->pending_tag = NULL;
	s->mode = IMAP_INPUT_COMMAND;
	imap_reader_set_line_mode(s->reader, false);
	if (len == 1 && line[0] == '*') {
		imap_session_tagged(s, tag, "BAD", NULL, "Authentication cancelled");
	} else {
		auth_plain(s, tag, line, len);
	}
	free(tag);
}
