/* BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, grammar in §9: body,
 * body-type-1part, body-type-mpart, body-ext-1part, body-ext-mpart).
 *
 * Case: the parser keeps type, subtype, parameter names, the encoding and
 * the disposition type lowercased, so the original spelling is gone.  We
 * write all of these in upper case ("TEXT" "PLAIN" ("CHARSET" "utf-8")
 * ... "7BIT"), as RFC 3501's own examples and most servers (UW, Cyrus,
 * Gmail) do; Dovecot echoes the message's spelling instead.  Clients must
 * compare them case-insensitively either way.  Parameter values and every
 * other string are written as they appear in the message.
 *
 * The extension data is always written in full (all four fields for a
 * multipart, md5/disposition/language/location for a single part), with
 * Content-Language as a parenthesised list. */
#include <string.h>

#include "mime/mime.h"
#include "mime/mime-private.h"

static void params_write(struct strbuf *out, const struct mime_param *params,
			 size_t count)
{
	if (count == 0) {
		strbuf_append(out, "NIL", 3);
		return;
	}
	strbuf_appendc(out, '(');
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			strbuf_appendc(out, ' ');
		mime_imap_upper_write(out, params[i].name);
		strbuf_appendc(out, ' ');
		mime_imap_nstring_write(out, params[i].value);
	}
	strbuf_appendc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void ext_common_write(struct strbuf *out, const struct mime_part *part)
{
	strbuf_appendc(out, ' ');
	if (part->disposition == NULL) {
		strbuf_append(out, "NIL", 3);
	} else {
		strbuf_appendc(out, '(');
		mime_imap_upper_write(out, part->disposition);
		strbuf_appendc(out, ' ');
		params_write(out, part->disposition_params,
			     part->disposition_param_count);
		strbuf_appendc(out, ')');
	}
	strbuf_appendc(out, ' ');
	if (part->language_count == 0) {
		strbuf_append(out, "NIL", 3);
	} else {
		strbuf_appendc(out, '(');
		for (size_t i = 0; i < part->language_count; i++) {
			if (i > 0)
				strbuf_appendc(out, ' ');
			mime_imap_nstring_write(out, part->languages[i]);
		}
		strbuf_appendc(out, ')');
	}
	strbuf_appendc(out, ' ');
	mime_imap_nstring_write(out, part->location);
}

static void body_write(const struct mime_message *msg,
		       const struct mime_part *part, bool extended,
		       struct strbuf *out)
{
	/* Depth is bounded by MIME_MAX_DEPTH, so recursion is safe. */
	strbuf_appendc(out, '(');
	if (mime_part_is_multipart(part)) {
		if (part->child_count == 0) {
			/* body-type-mpart needs at least one body: a
			 * multipart without parts gets an empty text one,
			 * as Dovecot does. */
			strbuf_appends(out, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
				       "\"US-ASCII\") NIL NIL \"7BIT\" 0 0");
			if (extended)
				strbuf_appends(out, " NIL NIL NIL NIL");
			strbuf_appendc(out, ')');
		}
		for (size_t i = 0; i < part->child_count; i++)
			body_write(msg, &part->children[i], extended, out);
		strbuf_appendc(out, ' ');
		mime_imap_upper_write(out, part->subtype);
		if (extended) {
			strbuf_appendc(out, ' ');
			params_write(out, part->params, part->param_count);
			ext_common_write(out, part);
		}
		strbuf_appendc(out, ')');
		return;
	}

	/* body-type-basic / body-type-msg / body-type-text */
	mime_imap_upper_write(out, part->type);
	strbuf_appendc(out, ' ');
	mime_imap_upper_write(out, part->subtype);
	strbuf_appendc(out, ' ');
	params_write(out, part->params, part->param_count);
	strbuf_appendc(out, ' ');
	mime_imap_nstring_write(out, part->content_id);
	strbuf_appendc(out, ' ');
	mime_imap_nstring_write(out, part->content_description);
	strbuf_appendc(out, ' ');
	mime_imap_upper_write(out, part->encoding == NULL ? "7bit" :
			      part->encoding);
	/* body-fld-octets: the body as transferred (still encoded). */
	strbuf_printf(out, " %zu", part->body_end - part->body_start);
	if (part->message != NULL) {
		strbuf_appendc(out, ' ');
		mime_envelope_write(msg, part->message, out);
		strbuf_appendc(out, ' ');
		body_write(msg, part->message, extended, out);
		strbuf_printf(out, " %zu", part->body_lines);
	} else if (strcmp(part->type, "text") == 0) {
		strbuf_printf(out, " %zu", part->body_lines);
	}
	if (extended) {
		strbuf_appendc(out, ' ');
		mime_imap_nstring_write(out, part->content_md5);
		ext_common_write(out, part);
	}
	strbuf_appendc(out, ')');
}

void mime_bodystructure_write(const struct mime_message *msg,
			      const struct mime_part *part, bool extended,
			      struct strbuf *out)
{
	body_write(msg, part, extended, out);
}
