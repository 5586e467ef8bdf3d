/* Content-Transfer-Encoding decoding for BINARY[] and BINARY.SIZE[]
 * (RFC 3516, RFC 9051 §6.4.5, §7.5.2). */
#include "imap/imap-cte.h"

#include <string.h>
#include <strings.h>

#include "mime/mime.h"

/* Bare CR and bare LF of out[from..] become CRLF. */
static void cte_crlf_normalise(struct strbuf *out, size_t from)
{
	size_t bare = 0, len = out->len;
	const char *s = out->s;

	for (size_t i = from; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			bare++;
		else if (s[i] == '\n' && (i == from || s[i - 1] != '\r'))
			bare++;
	}
	if (bare == 0)
		return;
	strbuf_grow(out, bare);
	char *p = out->s;
	/* Expand from the end so that every byte moves once. */
	size_t r = len, w = len + bare;
	while (r > from) {
		char c = p[--r];
		if (c == '\r' && (r + 1 == len || p[r + 1] != '\n')) {
			p[--w] = '\n';
			p[--w] = '\r';
		} else if (c == '\n' && (r == from || p[r - 1] != '\r')) {
			p[--w] = '\n';
			p[--w] = '\r';
		} else {
			p[--w] = c;
		}
	}
	out->len = len + bare;
	out->s[out->len] = '\0';
}

int imap_cte_decode(const char *encoding, const char *in, size_t len,
		    bool text, struct strbuf *out)
{
	size_t start = out->len;

	if (encoding == NULL || strcasecmp(encoding, "7bit") == 0 ||
	    strcasecmp(encoding, "8bit") == 0 ||
	    strcasecmp(encoding, "binary") == 0)
		strbuf_append(out, in, len);
	else if (strcasecmp(encoding, "base64") == 0)
		mime_base64_decode(in, len, out);
	else if (strcasecmp(encoding, "quoted-printable") == 0)
		mime_qp_decode(in, len, out);
	else
		return IMAP_CTE_UNKNOWN;
	if (text)
		cte_crlf_normalise(out, start);
	return IMAP_CTE_OK;
}

static bool cte_is_multipart(const struct mime_part *part)
{
	return part->type != NULL && strcmp(part->type, "multipart") == 0;
}

/* The part numbering of RFC 3501 §6.4.5 (as mime-section.c follows it):
 * a multipart's children from 1; a part that is not multipart has only
 * part 1, itself; numbers after a message/rfc822 part address the
 * encapsulated message. */
static const struct mime_part *cte_part_find(const struct mime_message *msg,
					     const uint32_t *parts,
					     size_t count)
{
	const struct mime_part *container = &msg->root, *cur = NULL;

	if (count > MIME_MAX_DEPTH)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		uint32_t n = parts[i];
		if (container == NULL || n == 0)
			return NULL;
		if (cte_is_multipart(container)) {
			if (n > container->child_count)
				return NULL;
			cur = &container->children[n - 1];
		} else if (n == 1) {
			cur = container;
		} else {
			return NULL;
		}
		if (cur->message != NULL)
			container = cur->message;
		else if (cte_is_multipart(cur) && cur != container)
			container = cur;
		else
			container = NULL;
	}
	return cur;
}

int imap_cte_section(const struct mime_message *msg, const uint32_t *parts,
		     size_t count, struct strbuf *out)
{
	if (count == 0) {
		strbuf_append(out, msg->data, msg->len);
		return IMAP_CTE_OK;
	}
	const struct mime_part *part = cte_part_find(msg, parts, count);
	if (part == NULL)
		return IMAP_CTE_OK;
	if (cte_is_multipart(part) || part->message != NULL)
		return IMAP_CTE_NOT_LEAF;
	size_t start = part->body_start, end = part->body_end;
	if (end > msg->len)
		end = msg->len;
	if (start > end)
		start = end;
	bool text = part->type != NULL && strcmp(part->type, "text") == 0;
	return imap_cte_decode(part->encoding, msg->data + start, end - start,
			       text, out);
}
