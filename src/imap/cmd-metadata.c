/* METADATA (RFC 5464): GETMETADATA with MAXSIZE and DEPTH, SETMETADATA,
 * on server entries (mailbox "") and mailbox entries, /private and
 * /shared.  Limits: config metadata_max_size (bytes per value) and
 * metadata_max_entries (entries per user; docs/metadata.md).
 *
 * Who may do what (RFC 5464 §3.3): anyone reads the server's /shared
 * entries and its own /private ones; /shared server entries are written
 * by admins only; a mailbox's entries are read and written by its owner
 * and by users with 'l' and one of "rswip" on it (RFC 4314, "Other
 * Users/"), who need 'w' as well to change its /shared entries.  Unsolicited
 * METADATA responses (§4.4.2, after ENABLE METADATA) are not sent: NOTIFY
 * reports changes through the vnd.tidings.*MetadataChange events. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-private.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-metadata.h"

/* Entries in one command: more is a broken or hostile client. */
#define METADATA_ENTRIES_PER_COMMAND_MAX 1000

bool imap_metadata_may_write(const struct imap_session *s,
			     const struct store_mailbox *mb, bool shared)
{
	/* Server entries: /private ones are the user's own; /shared ones
	 * are everyone's, so only admins change them (§3.3 "Servers MAY
	 * restrict the creation of ... server annotations"). */
	if (mb == NULL)
		return !shared || imap_session_is_admin(s);
	/* Mailbox entries: the owner.  SETMETADATA itself checks the ACL
	 * rights of other users (metadata_mailbox_arg, cmd_setmetadata). */
	return mb->user_id == s->user.id;
}

/* Reads an entry name (astring) into lower case (§3.2: entry names are
 * case-insensitive).  NULL when it is not a valid name. */
static char *metadata_entry_arg(const struct imap_arg *arg, bool for_set)
{
	const char *str;
	size_t len;
	if (!imap_arg_astring(arg, &str, &len) || strlen(str) != len)
		return NULL;
	char *entry = xstrdup(str);
	for (char *p = entry; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!store_metadata_entry_valid(entry, for_set)) {
		free(entry);
		return NULL;
	}
	return entry;
}

/* The mailbox argument: "" -> *server_r; else a mailbox the user may see,
 * one's own or (RFC 4314) another user's under "Other Users/".  *mb gets
 * the owner's name for it (what the store knows), *client_name the name
 * the client used in its canonical form, *rights the user's rights.  0,
 * or -1 after answering. */
static int metadata_mailbox_arg(struct imap_session *s, const char *tag,
				const struct imap_arg *arg, struct store_mailbox *mb,
				struct strbuf *client_name, uint32_t *rights,
				bool *server_r)
{
	const char *raw;
	size_t len;
	if (!imap_arg_astring(arg, &raw, &len) || strlen(raw) != len) {
		imap_session_tagged(s, tag, "BAD", "CLIENTBUG", "Invalid mailbox name argument");
		return -1;
	}
	*server_r = raw[0] == '\0';
	*rights = IMAP_ACL_ALL;
	if (*server_r)
		return 0;
	struct strbuf name = STRBUF_INIT;
	struct store_error err;
	struct imap_mailbox_ref ref;
	int ret = -1;
	if (imap_mailbox_from_client(raw, &name) < 0) {
		imap_session_tagged(s, tag, "NO", "CANNOT", "Mailbox name is not valid modified UTF-7");
		goto out;
	}
	if (imap_mailbox_resolve(s, name.s, &ref, &err) < 0) {
		imap_session_store_error(s, tag, &err);
		goto out;
	}
	if (imap_mailbox_check(s, tag, &ref, IMAP_ACL_LOOKUP) < 0)
		goto out;
	/* RFC 5464 §3.3: with ACL, 'l' and one of "rswip" to read or set
	 * any of a mailbox's entries */
	if ((ref.rights & (IMAP_ACL_READ | IMAP_ACL_SEEN | IMAP_ACL_WRITE |
			   IMAP_ACL_INSERT | IMAP_ACL_POST)) == 0) {
		imap_session_tagged(s, tag, "NO", "NOPERM", "Permission denied");
		goto out;
	}
	*mb = ref.mb;
	snprintf(mb->name, sizeof(mb->name), "%s", ref.name);
	strbuf_reset(client_name);
	strbuf_appends(client_name, ref.mb.name);
	*rights = ref.rights;
	ret = 0;
out:
	strbuf_free(&name);
	return ret;
}

/* A value as nstring, or literal8 when it holds NUL (RFC 5464 §5 value =
 * nstring / literal8; RFC 3516 literal8). */
static void metadata_value_write(struct strbuf *o, const char *value, size_t len)
{
	if (value == NULL) {
		strbuf_appends(o, "NIL");
	} else if (memchr(value, '\0', len) != NULL) {
		strbuf_printf(o, "~{%zu}\r\n", len);
		strbuf_append(o, value, len);
	} else {
		imap_write_string(o, value, len);
	}
}

/* GETMETADATA options (§4.2.1, §4.2.2).  NULL, or the BAD text. */
static const char *metadata_options_parse(const struct imap_arg *l, uint64_t *maxsize_r,
					  enum store_metadata_depth *depth_r)
{
	bool seen_maxsize = false, seen_depth = false;
	if (l->count == 0)
		return "Empty GETMETADATA options";
	for (size_t i = 0; i < l->count; i += 2) {
		if (i + 1 >= l->count)
			return "GETMETADATA option without a value";
		const struct imap_arg *v = &l->list[i + 1];
		if (imap_arg_is_atom(&l->list[i], "MAXSIZE") && l->list[i].type == IMAP_ARG_ATOM) {
			uint32_t n;
			if (seen_maxsize || !imap_arg_number(v, &n))
				return "Invalid MAXSIZE";
			seen_maxsize = true;
			*maxsize_r = n;
		} else if (imap_arg_is_atom(&l->list[i], "DEPTH") && l->list[i].type == IMAP_ARG_ATOM) {
			if (seen_depth)
				return "DEPTH given twice";
			seen_depth = true;
			if (imap_arg_is_atom(v, "0"))
				*depth_r = STORE_METADATA_DEPTH_0;
			else if (imap_arg_is_atom(v, "1"))
				*depth_r = STORE_METADATA_DEPTH_1;
			else if (imap_arg_is_atom(v, "infinity"))
				*depth_r = STORE_METADATA_DEPTH_INFINITY;
			else
				return "DEPTH must be 0, 1 or infinity";
		} else {
			return "Unknown GETMETADATA option";
		}
	}
	return NULL;
}

void cmd_getmetadata(struct imap_session *s, struct imap_parsed_command *cmd)
{
	uint64_t maxsize = UINT64_MAX;
	enum store_metadata_depth depth = STORE_METADATA_DEPTH_0;
	const char *error = NULL;
	const struct imap_arg *mbox_arg = NULL, *entries_arg = NULL;
	char **entries = NULL;
	size_t nentries = 0;
	struct store_metadata_list list = { 0 };
	struct strbuf mbox_name = STRBUF_INIT;

	/* §5 puts the options before the mailbox; the examples of §4.2.1
	 * put them after it.  Both are taken. */
	if (cmd->arg_count == 3 && cmd->args[0].type == IMAP_ARG_LIST) {
		error = metadata_options_parse(&cmd->args[0], &maxsize, &depth);
		mbox_arg = &cmd->args[1];
		entries_arg = &cmd->args[2];
	} else if (cmd->arg_count == 3 && cmd->args[1].type == IMAP_ARG_LIST) {
		error = metadata_options_parse(&cmd->args[1], &maxsize, &depth);
		mbox_arg = &cmd->args[0];
		entries_arg = &cmd->args[2];
	} else if (cmd->arg_count == 2) {
		mbox_arg = &cmd->args[0];
		entries_arg = &cmd->args[1];
	} else {
		error = "Expected [options] mailbox entries";
	}
	if (error == NULL) {
		const struct imap_arg *e = entries_arg;
		size_t n = 1;
		if (entries_arg->type == IMAP_ARG_LIST) {
			e = entries_arg->list;
			n = entries_arg->count;
		}
		if (n == 0 || n > METADATA_ENTRIES_PER_COMMAND_MAX)
			error = "Expected one or more entry names";
		entries = xcalloc(n, sizeof(*entries));
		for (size_t i = 0; error == NULL && i < n; i++) {
			entries[i] = metadata_entry_arg(&e[i], false);
			if (entries[i] == NULL)
				error = "Invalid entry name";
			else
				nentries = i + 1;
		}
	}
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		goto out;
	}
	struct store_mailbox mb;
	bool server;
	uint32_t rights;
	if (metadata_mailbox_arg(s, cmd->tag, mbox_arg, &mb, &mbox_name, &rights,
				 &server) < 0)
		goto out;
	struct store_error err;
	if (store_metadata_get(s->server->store, s->user.id, server ? 0 : mb.id,
			       entries, nentries, depth, &list, &err) < 0) {
		imap_session_store_error(s, cmd->tag, &err);
		goto out;
	}
	struct strbuf *o = &s->out;
	strbuf_reset(o);
	strbuf_appends(o, "* METADATA ");
	if (server)
		strbuf_appends(o, "\"\"");
	else
		imap_mailbox_write(o, mbox_name.s);
	strbuf_appends(o, " (");
	uint64_t longest = 0;
	bool any = false;
	/* the entries found, then (so the client learns they have none)
	 * NIL for each requested entry that has no value; not with DEPTH,
	 * where the answer is what exists below (§4.2.2 example) */
	for (size_t i = 0; i < list.count; i++) {
		const struct store_metadata_item *it = &list.items[i];
		if (it->len > maxsize) {
			/* §4.2.1: left out, and the largest size reported */
			if (it->len > longest)
				longest = it->len;
			continue;
		}
		if (any)
			strbuf_appendc(o, ' ');
		imap_write_astring(o, it->entry);
		strbuf_appendc(o, ' ');
		metadata_value_write(o, it->value, it->len);
		any = true;
	}
	for (size_t i = 0; depth == STORE_METADATA_DEPTH_0 && i < nentries; i++) {
		bool found = false;
		for (size_t j = 0; j < list.count && !found; j++)
			found = strcmp(list.items[j].entry, entries[i]) == 0;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(entries[j], entries[i]) == 0;
		if (found || dup || !store_metadata_entry_valid(entries[i], true))
			continue;
		if (any)
			strbuf_appendc(o, ' ');
		imap_write_astring(o, entries[i]);
		strbuf_appends(o, " NIL");
		any = true;
	}
	strbuf_appends(o, ")\r\n");
	if (any)
		imap_session_send(s, o->s, o->len);
	if (longest > 0) {
		char code[64];
		snprintf(code, sizeof(code), "METADATA LONGENTRIES %" PRIu64, longest);
		imap_session_ok(s, cmd->tag, code, "Getmetadata completed.");
	} else {
		imap_session_ok(s, cmd->tag, NULL, "Getmetadata completed.");
	}
out:
	strbuf_free(&mbox_name);
	store_metadata_list_free(&list);
	if (entries != NULL) {
		for (size_t i = 0; i < nentries; i++)
			free(entries[i]);
		free(entries);
	}
}

void cmd_setmetadata(struct imap_session *s, struct imap_parsed_command *cmd)
{
	const struct config *cfg = s->server->cfg;
	struct store_metadata_item *items = NULL;
	size_t nitems = 0;
	const char *error = NULL;
	struct strbuf mbox_name = STRBUF_INIT;
	if (cmd->arg_count != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    cmd->args[1].count == 0 || cmd->args[1].count % 2 != 0)
		error = "Expected mailbox and (entry value ...)";
	else if (cmd->args[1].count / 2 > METADATA_ENTRIES_PER_COMMAND_MAX)
		error = "Too many entries";
	const struct imap_arg *l = &cmd->args[1];
	size_t too_big = 0;
	if (error == NULL) {
		items = xcalloc(l->count / 2, sizeof(*items));
		for (size_t i = 0; error == NULL && i < l->count; i += 2) {
			const struct imap_arg *v = &l->list[i + 1];
			char *entry = metadata_entry_arg(&l->list[i], true);
			if (entry == NULL) {
				error = "Invalid entry name";
				break;
			}
			struct store_metadata_item *it = &items[nitems++];
			it->entry = entry;
			if (v->type == IMAP_ARG_NIL)
				continue;
			if (v->type != IMAP_ARG_QUOTED && v->type != IMAP_ARG_LITERAL) {
				error = "Invalid entry value";
				break;
			}
			if (v->len > cfg->metadata_max_size) {
				too_big = 1;
				continue;
			}
			it->value = v->str;  /* borrowed from the command */
			it->len = v->len;
		}
	}
	if (error != NULL) {
		imap_session_tagged(s, cmd->tag, "BAD", "CLIENTBUG", error);
		goto out;
	}
	if (too_big) {
		/* §4.3: NO [METADATA MAXSIZE n] with the largest accepted */
		char code[64];
		snprintf(code, sizeof(code), "METADATA MAXSIZE %" PRIu64,
			 cfg->metadata_max_size);
		imap_session_tagged(s, cmd->tag, "NO", code, "Metadata value too large");
		goto out;
	}
	struct store_mailbox mb;
	bool server;
	uint32_t rights;
	if (metadata_mailbox_arg(s, cmd->tag, &cmd->args[0], &mb, &mbox_name,
				 &rights, &server) < 0)
		goto out;
	for (size_t i = 0; i < nitems; i++) {
		bool shared = strncmp(items[i].entry, "/shared", 7) == 0;
		/* another user's mailbox: its /shared entries are seen by
		 * everyone who may see it, so changing them takes 'w' too
		 * (RFC 5464 §3.3 lets servers restrict more) */
		bool ok = server ? imap_metadata_may_write(s, NULL, shared)
				 : !shared || (rights & IMAP_ACL_WRITE) != 0;
		if (!ok) {
			imap_session_tagged(s, cmd->tag, "NO", "NOPERM",
					    "Permission denied for this entry");
			goto out;
		}
	}
	struct store_error err;
	int rc = store_metadata_set(s->server->store, &s->actor, s->user.id,
				    server ? NULL : &mb, items, nitems,
				    cfg->metadata_max_entries, &err);
	imap_server_changed(s->server);
	if (rc < 0 && err.code == STORE_ERR_LIMIT)
		imap_session_tagged(s, cmd->tag, "NO", "METADATA TOOMANY",
				    "Too many metadata entries");
	else if (rc < 0)
		imap_session_store_error(s, cmd->tag, &err);
	else
		imap_session_ok(s, cmd->tag, NULL, "Setmetadata completed.");
out:
	strbuf_free(&mbox_name);
	for (size_t i = 0; i < nitems; i++)
		free(items[i].entry);
	free(items);
}
