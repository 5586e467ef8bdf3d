/* URLAUTH (RFC 4467): GENURLAUTH, URLFETCH and RESETKEY with the INTERNAL
 * mechanism.
 *
 * INTERNAL here is HMAC-SHA256 over the rump URL (everything before
 * ":INTERNAL:<token>", byte for byte, RFC 4467 §6) keyed with the owner's
 * access key for the mailbox (store-urlauth.c); the token is "01" (the
 * algorithm's version, §2.4.1) and 64 hex digits.  A URL is only ever
 * authorized by the user it names (the URL's enc-user must be the
 * logged-in user for GENURLAUTH), and URLFETCH reads with that owner's
 * access, whoever fetches (§7). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "imap/imap-private.h"
#include "imap/imap-url.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

/* Most URLs (or URL/mechanism pairs) in one command. */
#define URLAUTH_URLS_MAX 32
/* Most bytes of data in one URLFETCH response when max_message_size does
 * not say less (several URLs; one URL may always give its message). */
#define URLAUTH_RESPONSE_MAX (64u << 20)

static bool urlauth_mechanism_is_internal(const char *name)
{
	return name != NULL && strcasecmp(name, "INTERNAL") == 0;
}

/* ---- GENURLAUTH ---- */

/* Checks one url-rump for GENURLAUTH (RFC 4467 §7) and writes its
 * authorized form to out.  0, or -1 after a tagged BAD/NO. */
static int genurlauth_one(struct imap_session *s, const char *tag,
			  const char *url, size_t len, struct strbuf *out)
{
	struct imap_url u;
	const char *error = NULL;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	int ret = -1;
	if (imap_url_parse(url, len, &u, &error) < 0) {
		imap_session_sendf(s, "%s BAD [CLIENTBUG] Invalid URL: %s\r\n",
				   tag, error);
		goto out;
	}
	if (u.access == IMAP_URL_ACCESS_NONE) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "Missing access identifier in supplied URL");
		goto out;
	}
	if (u.mechanism != NULL) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "Supplied URL already carries a token");
		goto out;
	}
	/* §7 (2): iuserauth is mandatory; the owner of the key table is
	 * the user the URL names, and only that user may use it here. */
	if (u.user == NULL) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "Missing owner user name in supplied URL");
		goto out;
	}
	if (strcmp(u.user, s->user.name) != 0) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "The URL's user must be the logged-in user");
		goto out;
	}
	/* §3: URLAUTH only for a message or a part of one */
	if (u.mailbox == NULL || u.uid == 0 || u.has_search) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG",
				    "URLAUTH needs the URL of a message");
		goto out;
	}
	struct store_mailbox mb;
	if (store_mailbox_get(s->server->store, s->user.id, u.mailbox, &mb,
			      &err) < 0) {
		if (err.code == STORE_ERR_INTERNAL || err.code == STORE_ERR_BUSY)
			imap_session_store_error(s, tag, &err);
		else
			imap_session_tagged(s, tag, "BAD", "NONEXISTENT",
					    "No such mailbox in supplied URL");
		goto out;
	}
	if (mb.noselect ||
	    (u.uidvalidity != 0 && u.uidvalidity != mb.uidvalidity)) {
		imap_session_tagged(s, tag, "BAD", "NONEXISTENT",
				    "The URL's mailbox is not the current one");
		goto out;
	}
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	if (store_urlauth_key_get(s->server->store, s->user.id, mb.id, true,
				  key, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		goto out;
	}
	strbuf_appendc(out, ' ');
	struct strbuf full = STRBUF_INIT;
	strbuf_append(&full, url, len);
	strbuf_appends(&full, ":INTERNAL:");
	imap_urlauth_token(key, sizeof(key), url, len, &full);
	OPENSSL_cleanse(key, sizeof(key));
	imap_write_string(out, full.s, full.len);
	strbuf_free(&full);
	ret = 0;
out:
	imap_url_free(&u);
	return ret;
}

void cmd_genurlauth(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count == 0 || cmd->arg_count % 2 != 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "GENURLAUTH takes URL and mechanism pairs");
		return;
	}
	if (cmd->arg_count > 2 * URLAUTH_URLS_MAX) {
		imap_session_tagged(s, cmd->tag, "BAD", "LIMIT",
				    "Too many URLs in one GENURLAUTH");
		return;
	}
	/* Validate every pair before anything is answered (a BAD must not
	 * follow a partial GENURLAUTH response). */
	for (size_t i = 0; i < cmd->arg_count; i += 2) {
		const char *str, *mech;
		size_t len;
		if (!imap_arg_astring(&cmd->args[i], &str, &len) ||
		    !imap_arg_atom(&cmd->args[i + 1], &mech)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
					    "Expected a URL and a mechanism");
			return;
		}
		if (!urlauth_mechanism_is_internal(mech)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
					    "Unknown URLAUTH mechanism");
			return;
		}
	}
	struct strbuf line = STRBUF_INIT;
	strbuf_appends(&line, "* GENURLAUTH");
	for (size_t i = 0; i < cmd->arg_count; i += 2) {
		const char *str;
		size_t len;
		imap_arg_astring(&cmd->args[i], &str, &len);
		if (genurlauth_one(s, cmd->tag, str, len, &line) < 0) {
			strbuf_free(&line);
			return;
		}
	}
	strbuf_appends(&line, "\r\n");
	imap_session_send(s, line.s, line.len);
	strbuf_free(&line);
	imap_session_ok(s, cmd->tag, NULL, "GENURLAUTH completed");
}

/* ---- URLFETCH ---- */

/* The bytes a URL names: the whole message, or its ;SECTION=, then its
 * ;PARTIAL= (RFC 5092 §6 "ipartial": offset and length as in FETCH's
 * <a.b>).  false when the section cannot be read. */
static bool urlfetch_extract(const struct imap_url *u, const char *data,
			     size_t len, struct strbuf *out)
{
	struct strbuf part = STRBUF_INIT;
	const char *p = data;
	size_t n = len;
	if (u->section != NULL) {
		/* The section grammar is FETCH's (RFC 5092 §3 points to
		 * RFC 3501 section-spec): let the FETCH parser read it. */
		struct strbuf item = STRBUF_INIT;
		strbuf_printf(&item, "BODY.PEEK[%s]", u->section);
		struct imap_arg arg;
		memset(&arg, 0, sizeof(arg));
		arg.type = IMAP_ARG_ATOM;
		arg.str = item.s;
		arg.len = item.len;
		struct imap_fetch_request req;
		const char *error = NULL;
		int rc = imap_fetch_parse(&arg, false, &req, &error);
		strbuf_free(&item);
		if (rc < 0)
			return false;
		bool ok = req.count == 1 &&
			  req.items[0].kind == IMAP_FETCH_BODY_SECTION &&
			  !req.items[0].partial;
		if (ok) {
			struct mime_message *mime = mime_parse(data, len);
			ok = mime_section_fetch(mime, &req.items[0].section,
						&part) == 0;
			mime_message_free(&mime);
		}
		imap_fetch_request_free(&req);
		if (!ok) {
			strbuf_free(&part);
			return false;
		}
		p = part.s != NULL ? part.s : "";
		n = part.len;
	}
	if (u->has_partial) {
		if (u->partial_offset >= n) {
			n = 0;
		} else {
			p += u->partial_offset;
			n -= u->partial_offset;
			if (u->partial_length != 0 && n > u->partial_length)
				n = u->partial_length;
		}
	}
	strbuf_printf(out, "{%zu}\r\n", n);
	strbuf_append(out, p, n);
	strbuf_free(&part);
	return true;
}

/* One URL's data (RFC 4467 §7): a literal, or NIL for any URL that is
 * invalid or fails validation.  -1 only for a store failure worth a NO
 * (the caller then answers NO: retry later). */
static int urlfetch_one(struct imap_session *s, const char *url, size_t len,
			struct strbuf *out, struct store_error *err)
{
	struct store *store = s->server->store;
	struct imap_url u;
	const char *error = NULL;
	bool ok = imap_url_parse(url, len, &u, &error) == 0 &&
		  strlen(url) == len;
	/* §7: NIL for a URL of a server, a mailbox list, a whole mailbox
	 * or search results, and for one without a valid URLAUTH */
	ok = ok && u.user != NULL && u.mailbox != NULL && u.uid != 0 &&
	     !u.has_search && u.access != IMAP_URL_ACCESS_NONE &&
	     urlauth_mechanism_is_internal(u.mechanism);

	/* §6: the token is computed even when the mailbox cannot be
	 * identified, with a random key, so the time taken does not tell
	 * which mailboxes exist. */
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	if (RAND_bytes(key, sizeof(key)) != 1)
		memset(key, 0xa5, sizeof(key));
	struct store_user owner;
	struct store_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	bool found = false;
	if (ok && store_user_lookup(store, u.user, &owner, err) == 0 &&
	    store_mailbox_get(store, owner.id, u.mailbox, &mb, err) == 0) {
		int r = store_urlauth_key_get(store, owner.id, mb.id, false,
					      key, err);
		if (r < 0)
			goto fail;
		found = r == 1;
	} else if (err->code == STORE_ERR_INTERNAL ||
		   err->code == STORE_ERR_BUSY) {
		goto fail;
	}
	bool valid = ok && imap_urlauth_token_verify(key, sizeof(key), url,
						     u.rump_len, u.token,
						     strlen(u.token));
	OPENSSL_cleanse(key, sizeof(key));
	valid = valid && found;
	/* §3: EXPIRE is the latest time the URL is valid */
	if (valid && u.has_expire && (int64_t)time(NULL) > u.expire)
		valid = false;
	/* §3 access identifiers.  Tidings has no submission role, so no
	 * session qualifies for "submit+". */
	if (valid) {
		switch (u.access) {
		case IMAP_URL_ACCESS_ANONYMOUS:
		case IMAP_URL_ACCESS_AUTHUSER:
			break;
		case IMAP_URL_ACCESS_USER:
			valid = strcmp(u.access_user, s->user.name) == 0;
			break;
		default:
			valid = false;
			break;
		}
	}
	if (valid && (mb.noselect ||
		      (u.uidvalidity != 0 && u.uidvalidity != mb.uidvalidity)))
		valid = false;

	struct store_message_list list = { NULL, 0 };
	if (valid && store_message_range(store, mb.id, u.uid, u.uid, &list,
					 err) < 0)
		goto fail;
	bool written = false;
	if (valid && list.count == 1) {
		struct store_body body;
		if (store_body_open(store, list.msgs[0].body_id, &body,
				    err) == 0) {
			written = urlfetch_extract(&u, body.data, body.len,
						   out);
			store_body_close(&body);
		} else if (err->code == STORE_ERR_INTERNAL) {
			store_message_list_free(&list);
			goto fail;
		}
	}
	store_message_list_free(&list);
	if (!written)
		strbuf_appends(out, "NIL");
	imap_url_free(&u);
	return 0;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	imap_url_free(&u);
	return -1;
}

void cmd_urlfetch(struct imap_session *s, struct imap_parsed_command *cmd)
{
	if (cmd->arg_count == 0) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "URLFETCH takes one or more URLs");
		return;
	}
	if (cmd->arg_count > URLAUTH_URLS_MAX) {
		imap_session_tagged(s, cmd->tag, "BAD", "LIMIT",
				    "Too many URLs in one URLFETCH");
		return;
	}
	for (size_t i = 0; i < cmd->arg_count; i++) {
		const char *str;
		size_t len;
		if (!imap_arg_astring(&cmd->args[i], &str, &len)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
					    "URLFETCH arguments are URLs");
			return;
		}
	}
	/* One response holding every URL/nstring pair (§7 urlfetch-data),
	 * sent in one piece. */
	/* The response is built in memory: one URL may give the largest
	 * message there is, but several together no more than that, or
	 * 32 big messages would take 32 times the memory.  A client asking
	 * too much at once gets NO and can fetch them one by one. */
	uint64_t cap = s->server->cfg->max_message_size;
	if (cap == 0 || cap > URLAUTH_RESPONSE_MAX)
		cap = URLAUTH_RESPONSE_MAX;
	struct strbuf line = STRBUF_INIT;
	strbuf_appends(&line, "* URLFETCH");
	for (size_t i = 0; i < cmd->arg_count; i++) {
		const char *str;
		size_t len;
		struct store_error err;
		memset(&err, 0, sizeof(err));
		imap_arg_astring(&cmd->args[i], &str, &len);
		strbuf_appendc(&line, ' ');
		imap_write_string(&line, str, len);
		strbuf_appendc(&line, ' ');
		if (urlfetch_one(s, str, len, &line, &err) < 0) {
			strbuf_free(&line);
			imap_session_store_error(s, cmd->tag, &err);
			return;
		}
		if (i > 0 && line.len > cap) {
			strbuf_free(&line);
			imap_session_tagged(s, cmd->tag, "NO", "LIMIT",
					    "URLFETCH response too large; fetch "
					    "fewer URLs at once");
			return;
		}
	}
	strbuf_appends(&line, "\r\n");
	imap_session_send(s, line.s, line.len);
	strbuf_free(&line);
	imap_session_ok(s, cmd->tag, NULL, "URLFETCH completed");
}

/* ---- RESETKEY ---- */

void cmd_resetkey(struct imap_session *s, struct imap_parsed_command *cmd)
{
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (cmd->arg_count == 0) {
		/* §7: no arguments removes every key of the user */
		if (store_urlauth_key_reset(s->server->store, s->user.id, 0,
					    &err) < 0) {
			imap_session_store_error(s, cmd->tag, &err);
			return;
		}
		imap_session_ok(s, cmd->tag, NULL, "All keys removed");
		return;
	}
	if (cmd->arg_count > 1 + 8) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "Too many RESETKEY arguments");
		return;
	}
	const char *str;
	size_t len;
	if (!imap_arg_astring(&cmd->args[0], &str, &len) ||
	    strlen(str) != len) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
				    "Invalid mailbox name argument");
		return;
	}
	for (size_t i = 1; i < cmd->arg_count; i++) {
		const char *mech;
		if (!imap_arg_atom(&cmd->args[i], &mech) ||
		    !urlauth_mechanism_is_internal(mech)) {
			imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG",
					    "Unknown URLAUTH mechanism");
			return;
		}
	}
	struct strbuf name = STRBUF_INIT;
	if (imap_mailbox_from_client(str, &name) < 0) {
		imap_session_tagged(s, cmd->tag, "NO", "CANNOT",
				    "Mailbox name is not valid modified UTF-7");
		goto out;
	}
	struct store_mailbox mb;
	if (store_mailbox_get(s->server->store, s->user.id, name.s, &mb,
			      &err) < 0 ||
	    store_urlauth_key_reset(s->server->store, s->user.id, mb.id,
				    &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	/* §8 URLMECH: the tagged OK carries it in place of an untagged OK */
	imap_session_ok(s, cmd->tag, "URLMECH INTERNAL", "Key reset");
out:
	strbuf_free(&name);
}
