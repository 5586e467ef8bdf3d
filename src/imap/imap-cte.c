/* Content-Transfer-Encoding decoding for BINARY[] and BINARY.SIZE[]
 * (RFC 3516, RFC 9051 §6.4.5, §7.5.2). */
#include "imap/imap-cte.h"

#include <string.h>
#include <strings.h>

static int cte_base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 2045 §6.8: characters outside the alphabet are ignored; '=' ends
 * a quantum.  Leftover bits of a truncated quantum are dropped. */
static void cte_base64_decode(const char *in, size_t len, struct strbuf *out)
{
	uint32_t acc = 0;
	unsigned int bits = 0;

	strbuf_grow(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = cte_base64_value((unsigned char)in[i]);
		if (v < 0) {
			if (in[i] == '=') {
				acc = 0;
				bits = 0;
			}
			continue;
		}
		acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_appendc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

static int cte_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool cte_is_line_end(const char *in, size_t len, size_t j)
{
	return j == len || in[j] == '\n' ||
	       (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n');
}

/* RFC 2045 §6.7: "=XX", soft line breaks "=" CRLF (whitespace before the
 * CRLF allowed), and trailing whitespace on a line is transport padding
 * to delete.  A "=" not followed by either is kept as it is (note 2). */
static void cte_qp_decode(const char *in, size_t len, struct strbuf *out)
{
	size_t i = 0;

	strbuf_grow(out, len);
	while (i < len) {
		char c = in[i];
		if (c == '=') {
			int hi = i + 1 < len ? cte_hex_value(in[i + 1]) : -1;
			int lo = i + 2 < len ? cte_hex_value(in[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				strbuf_appendc(out, (char)(hi * 16 + lo));
				i += 3;
				continue;
			}
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (cte_is_line_end(in, len, j)) {
				if (j < len)
					j += in[j] == '\r' ? 2 : 1;
				i = j;
				continue;
			}
			strbuf_appendc(out, '=');
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (!cte_is_line_end(in, len, j))
				strbuf_append(out, in + i, j - i);
			i = j;
			continue;
		}
		strbuf_appendc(out, c);
		i++;
	}
}

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
		cte_base64_decode(in, len, out);
	else if (strcasecmp(encoding, "quoted-printable") == 0)
		cte_qp_decode(in, len, out);
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
