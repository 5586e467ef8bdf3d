/* Re-encoding of binary content for APPEND (RFC 3516 §4.4 and §6).
 *
 * A message APPENDed as literal8 may hold parts with
 * Content-Transfer-Encoding: binary and NUL octets.  IMAP4 without BINARY
 * cannot carry NUL (RFC 3501 §4.3 / RFC 9051 §4.3: CHAR8 is %x01-ff), and
 * RFC 3516 §6 wants BODYSTRUCTURE to describe such parts "in a CTE
 * acceptable to the IMAP4 base specification" and BODY[] to return them in
 * that form.  Tidings therefore stores those parts base64-encoded, the way
 * Dovecot does; §4.4 allows changing the CTE as long as no data is lost,
 * and BINARY[] still returns the exact decoded octets. */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mime/mime-private.h"
#include "mime/mime.h"

/* One replacement of data[start, end) (start == end: an insertion). */
struct reencode_edit {
	size_t start, end;
	bool base64;       /* replace with the base64 of data[start, end) */
	const char *text;  /* otherwise with this text */
};

struct reencode_ctx {
	const struct mime_message *msg;
	struct reencode_edit *edits;
	size_t count, alloc;
};

static const char cte_base64_field[] = "Content-Transfer-Encoding: base64\r\n";

static void reencode_edit_add(struct reencode_ctx *ctx, size_t start,
			      size_t end, bool base64, const char *text)
{
	if (ctx->count == ctx->alloc) {
		ctx->alloc = ctx->alloc ? ctx->alloc * 2 : 8;
		ctx->edits = xrealloc(ctx->edits,
				      ctx->alloc * sizeof(*ctx->edits));
	}
	ctx->edits[ctx->count++] = (struct reencode_edit){
		start, end, base64, text
	};
}

static bool reencode_is_identity(const char *enc)
{
	return enc == NULL || strcmp(enc, "7bit") == 0 ||
		strcmp(enc, "8bit") == 0;
}

/* A leaf needs base64 when it says binary, or when it holds NUL under an
 * identity encoding (mislabelled binary data).  NUL inside base64 or QP
 * text is not data the encoding can carry; it is left for the caller's
 * final NUL check to refuse. */
static bool reencode_leaf_needs(const struct reencode_ctx *ctx,
				const struct mime_part *part)
{
	const char *enc = part->encoding;

	if (enc != NULL && strcmp(enc, "binary") == 0)
		return true;
	return reencode_is_identity(enc) && part->body_end > part->body_start &&
		memchr(ctx->msg->data + part->body_start, '\0',
		       part->body_end - part->body_start) != NULL;
}

static void reencode_leaf(struct reencode_ctx *ctx,
			  const struct mime_part *part)
{
	const char *d = ctx->msg->data;
	size_t pos = part->header_start;
	struct mime_field f;
	bool found = false;

	/* The first Content-Transfer-Encoding field is the one the parser
	 * used; replace it whole (later duplicates are ignored by it too). */
	while (mime_field_next(d, &pos, part->header_end, &f)) {
		if (mime_field_name_is(d, &f, "content-transfer-encoding")) {
			found = true;
			break;
		}
	}
	if (found) {
		reencode_edit_add(ctx, f.start, f.end, false, cte_base64_field);
	} else if (part->header_start == part->body_start) {
		/* No header at all: add one, with its blank line. */
		reencode_edit_add(ctx, part->header_start, part->header_start,
				  false, "Content-Transfer-Encoding: base64\r\n\r\n");
	} else {
		/* Field order carries no meaning in a MIME header. */
		reencode_edit_add(ctx, part->header_start, part->header_start,
				  false, cte_base64_field);
	}
	reencode_edit_add(ctx, part->body_start, part->body_end, true, NULL);
}

static void reencode_walk(struct reencode_ctx *ctx,
			  const struct mime_part *part)
{
	if (part->child_count > 0) {
		for (size_t i = 0; i < part->child_count; i++)
			reencode_walk(ctx, &part->children[i]);
	} else if (part->message != NULL) {
		reencode_walk(ctx, part->message);
	} else if (reencode_leaf_needs(ctx, part)) {
		reencode_leaf(ctx, part);
	}
}

/* RFC 2045 §6.8: lines of at most 76 characters, CRLF between them. */
static void reencode_base64(struct strbuf *out, const unsigned char *in,
			    size_t len, bool final_crlf)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t line = 0;

	strbuf_grow(out, len / 57 * 78 + 80);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char q[4];

		if (n > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		q[0] = alphabet[(v >> 18) & 63];
		q[1] = alphabet[(v >> 12) & 63];
		q[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
		q[3] = n > 2 ? alphabet[v & 63] : '=';
		if (line == 76) {
			strbuf_append(out, "\r\n", 2);
			line = 0;
		}
		strbuf_append(out, q, 4);
		line += 4;
	}
	if (final_crlf && len > 0)
		strbuf_append(out, "\r\n", 2);
}

int mime_binary_reencode(const char *data, size_t len, struct strbuf *out,
			 const char **error_r)
{
	struct mime_message *msg = mime_parse(data, len);
	struct reencode_ctx ctx = { .msg = msg };
	size_t pos = 0;
	int ret = 0;

	reencode_walk(&ctx, &msg->root);

	/* Any NUL not inside a body being re-encoded would reach BODY[]. */
	for (size_t i = 0; i <= ctx.count; i++) {
		size_t end = i < ctx.count ? ctx.edits[i].start : len;
		if (end > pos && memchr(data + pos, '\0', end - pos) != NULL) {
			*error_r = "NUL octets are only accepted inside a body part "
				   "(not in a header or in base64/quoted-printable text)";
			ret = -1;
			goto out;
		}
		if (i < ctx.count && ctx.edits[i].end > pos)
			pos = ctx.edits[i].end;
	}
	if (ctx.count == 0)
		goto out;

	pos = 0;
	strbuf_grow(out, len + len / 3 + 64);
	for (size_t i = 0; i < ctx.count; i++) {
		const struct reencode_edit *e = &ctx.edits[i];

		strbuf_append(out, data + pos, e->start - pos);
		if (e->base64)
			/* Before a boundary the CRLF belongs to the delimiter
			 * (RFC 2046 §5.1.1); at the end of the message the
			 * last line gets one if the message ended in one. */
			reencode_base64(out, (const unsigned char *)data + e->start,
					e->end - e->start,
					e->end == len && data[len - 1] == '\n');
		else
			strbuf_appends(out, e->text);
		pos = e->end;
	}
	strbuf_append(out, data + pos, len - pos);
	ret = 1;
out:
	free(ctx.edits);
	mime_message_free(&msg);
	return ret;
}
