/* Decoding for SEARCH and display: RFC 2047 encoded-words, base64 and
 * quoted-printable bodies, and charset conversion to UTF-8 with iconv(3).
 * Nothing here fails: bad input is replaced by U+FFFD or skipped. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "mime/mime-private.h"
#include "lib/text.h"

#define MIME_MAX_CHARSET_LEN 64

static const char replacement[] = "\xEF\xBF\xBD";   /* U+FFFD */

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

void mime_utf8_sanitize(const char *in, size_t len, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t run = 0, i = 0;

	mime_strbuf_reserve(out, len);
	while (i < len) {
		size_t n = utf8_seq_len(s + i, len - i);
		if (n > 0) {
			i += n;
			continue;
		}
		strbuf_append(out, in + run, i - run);
		strbuf_append(out, replacement, 3);
		i++;
		run = i;
	}
	strbuf_append(out, in + run, len - run);
}

/* ---- charsets ---- */

struct charset_alias {
	const char *name;
	const char *iconv_name;
};

/* Labels seen in mail that iconv does not know, or that are commonly
 * mislabelled (Latin-1 text routinely uses the Windows-1252 C1 range). */
static const struct charset_alias charset_aliases[] = {
	{ "iso-8859-1", "WINDOWS-1252" },
	{ "latin1", "WINDOWS-1252" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "ks_c_5601-1987", "CP949" },
	{ "gb2312", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "x-sjis", "SHIFT_JIS" },
	{ "shift-jis", "SHIFT_JIS" },
	{ "windows-31j", "CP932" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "x-euc-jp", "EUC-JP" },
};

static bool charset_is_utf8_compatible(const char *name)
{
	static const char *const names[] = {
		"utf-8", "utf8", "us-ascii", "ascii", "us", "ansi_x3.4-1968",
		"x-unknown", "unknown-8bit", "unknown", "x-user-defined",
		"default", "7bit", "8bit",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	return false;
}

void mime_charset_to_utf8(const char *charset, size_t charset_len,
			  const char *in, size_t len, struct strbuf *out)
{
	char name[MIME_MAX_CHARSET_LEN];

	/* Surrounding quotes and whitespace are junk in a charset name. */
	while (charset_len > 0 && (*charset == '"' || *charset == ' '))
		charset++, charset_len--;
	while (charset_len > 0 && (charset[charset_len - 1] == '"' ||
				   charset[charset_len - 1] == ' '))
		charset_len--;
	if (charset_len == 0 || charset_len >= sizeof(name) ||
	    memchr(charset, '\0', charset_len) != NULL) {
		mime_utf8_sanitize(in, len, out);
		return;
	}
	for (size_t i = 0; i < charset_len; i++) {
		char c = charset[i];
		name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	name[charset_len] = '\0';
	if (charset_is_utf8_compatible(name)) {
		mime_utf8_sanitize(in, len, out);
		return;
	}
	const char *iconv_name = name;
	size_t alias_count = sizeof(charset_aliases) / sizeof(charset_aliases[0]);
	for (size_t i = 0; i < alias_count; i++) {
		if (strcmp(name, charset_aliases[i].name) == 0) {
			iconv_name = charset_aliases[i].iconv_name;
			break;
		}
	}
	iconv_t cd = iconv_open("UTF-8", iconv_name);
	if (cd == (iconv_t)-1) {
		mime_utf8_sanitize(in, len, out);
		return;
	}

	char *ib = (char *)in;
	size_t il = len;
	size_t want = il * 2 + 64;
	while (il > 0) {
		mime_strbuf_reserve(out, want);
		char *ob = out->s + out->len;
		size_t ol = out->cap - out->len - 1;
		size_t r = iconv(cd, &ib, &il, &ob, &ol);
		int err = errno;
		out->len = (size_t)(ob - out->s);
		out->s[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (err == E2BIG) {
			want = (out->cap - out->len) * 2 + 64;
			continue;
		}
		/* EILSEQ (invalid or unconvertible) or EINVAL (truncated at
		 * the end): replace one byte, reset the state, go on. */
		strbuf_append(out, replacement, 3);
		ib++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* Return a stateful encoding (ISO-2022-JP) to its initial state. */
	mime_strbuf_reserve(out, 64);
	char *ob = out->s + out->len;
	size_t ol = out->cap - out->len - 1;
	if (iconv(cd, NULL, NULL, &ob, &ol) != (size_t)-1) {
		out->len = (size_t)(ob - out->s);
		out->s[out->len] = '\0';
	}
	iconv_close(cd);
}

/* ---- transfer encodings ---- */

static int base64_value(unsigned char c)
{
	return base64_digit(c, '/');
}

/* Lenient: bytes outside the alphabet are skipped, and padding ends a
 * quantum without ending the data (concatenated base64 is seen). */
void mime_base64_decode(const char *in, size_t len, struct strbuf *out)
{
	uint32_t acc = 0;
	unsigned int bits = 0;

	mime_strbuf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = base64_value((unsigned char)in[i]);
		if (v < 0) {
			if (in[i] == '=') {
				acc = 0;
				bits = 0;
			}
			continue;
		}
		acc = ((acc << 6) | (uint32_t)v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_appendc(out, (char)((acc >> bits) & 0xFF));
		}
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 2045 §6.7, leniently: lowercase hex is accepted, a bad "=" is kept
 * literally, and trailing whitespace (added in transport) is dropped. */
void mime_qp_decode(const char *in, size_t len, struct strbuf *out)
{
	size_t i = 0;

	mime_strbuf_reserve(out, len);
	while (i < len) {
		char c = in[i];
		if (c == '=') {
			int hi = i + 1 < len ? hex_value(in[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				strbuf_appendc(out, (char)(hi * 16 + lo));
				i += 3;
				continue;
			}
			/* Soft line break, possibly with whitespace. */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r' && j + 1 < len &&
			    in[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < len && in[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j == len) {
				i = len;
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
			if (j == len || in[j] == '\n' ||
			    (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
				i = j;
				continue;
			}
			strbuf_append(out, in + i, j - i);
			i = j;
			continue;
		}
		strbuf_appendc(out, c);
		i++;
	}
}

/* ---- RFC 2047 ---- */

struct encoded_word {
	const char *charset;
	size_t charset_len;
	char encoding;              /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t end;                 /* offset one past "?=" */
};

/* Parses "=?charset?e?text?=" at in[i].  *next_close caches the offset
 * of the next "?=" so that input full of unterminated words is not
 * searched again and again. */
static bool encoded_word_parse(const char *in, size_t len, size_t i,
			       size_t *next_close, struct encoded_word *w)
{
	size_t p = i + 2;
	size_t cs = p;

	while (p < len && in[p] != '?' && in[p] != ' ' && in[p] != '\t' &&
	       p - cs < MIME_MAX_CHARSET_LEN)
		p++;
	if (p >= len || in[p] != '?' || p == cs)
		return false;
	w->charset = in + cs;
	w->charset_len = p - cs;
	/* RFC 2231 §5: charset*language */
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star != NULL)
		w->charset_len = (size_t)(star - w->charset);
	p++;
	if (p + 1 >= len || in[p + 1] != '?')
		return false;
	if (in[p] == 'B' || in[p] == 'b')
		w->encoding = 'B';
	else if (in[p] == 'Q' || in[p] == 'q')
		w->encoding = 'Q';
	else
		return false;
	p += 2;
	if (*next_close == SIZE_MAX || (*next_close != len && *next_close < p)) {
		size_t q = p;
		*next_close = len;
		while (q + 1 < len) {
			const char *qm = memchr(in + q, '?', len - q - 1);
			if (qm == NULL)
				break;
			q = (size_t)(qm - in);
			if (in[q + 1] == '=') {
				*next_close = q;
				break;
			}
			q++;
		}
	}
	if (*next_close == len)
		return false;
	w->text = in + p;
	w->text_len = *next_close - p;
	w->end = *next_close + 2;
	return true;
}

static void q_word_decode(const char *in, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (in[i] == '_') {
			strbuf_appendc(out, ' ');
		} else if (in[i] == '=' && i + 2 < len &&
			   (hi = hex_value(in[i + 1])) >= 0 &&
			   (lo = hex_value(in[i + 2])) >= 0) {
			strbuf_appendc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_appendc(out, in[i]);
		}
	}
}

static bool all_whitespace(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	}
	return true;
}

struct word_pending {
	struct strbuf bytes;
	const char *charset;
	size_t charset_len;
};

static void pending_flush(struct word_pending *pw, struct strbuf *out)
{
	if (pw->charset == NULL)
		return;
	mime_charset_to_utf8(pw->charset, pw->charset_len,
			     strbuf_str(&pw->bytes), pw->bytes.len, out);
	strbuf_reset(&pw->bytes);
	pw->charset = NULL;
}

/* RFC 2047 §6.2: whitespace between adjacent encoded-words is dropped.
 * Adjacent words in the same charset are converted together, because
 * mailers split multi-byte characters across words.  Words inside other
 * text are decoded too (lenient, as most readers are). */
void mime_decode_words(const char *in, size_t len, struct strbuf *out)
{
	struct word_pending pw = { STRBUF_INIT, NULL, 0 };
	size_t plain_start = 0, i = 0;
	size_t next_close = SIZE_MAX;
	bool after_word = false;

	while (i + 1 < len) {
		const char *eq = memchr(in + i, '=', len - i - 1);
		if (eq == NULL)
			break;
		i = (size_t)(eq - in);
		struct encoded_word w;
		if (in[i + 1] != '?' ||
		    !encoded_word_parse(in, len, i, &next_close, &w)) {
			i++;
			continue;
		}
		size_t gap = i - plain_start;
		if (!after_word || !all_whitespace(in + plain_start, gap)) {
			pending_flush(&pw, out);
			mime_utf8_sanitize(in + plain_start, gap, out);
		}
		if (pw.charset != NULL && (pw.charset_len != w.charset_len ||
		    strncasecmp(pw.charset, w.charset, w.charset_len) != 0))
			pending_flush(&pw, out);
		pw.charset = w.charset;
		pw.charset_len = w.charset_len;
		if (w.encoding == 'B')
			mime_base64_decode(w.text, w.text_len, &pw.bytes);
		else
			q_word_decode(w.text, w.text_len, &pw.bytes);
		i = w.end;
		plain_start = i;
		after_word = true;
	}
	pending_flush(&pw, out);
	mime_utf8_sanitize(in + plain_start, len - plain_start, out);
	strbuf_free(&pw.bytes);
}

/* ---- body text ---- */

static void part_text_append(const struct mime_message *msg,
			     const struct mime_part *part, struct strbuf *out)
{
	const char *body = msg->data + part->body_start;
	size_t len = part->body_end - part->body_start;
	struct strbuf decoded = STRBUF_INIT;
	const char *enc = part->encoding;

	if (enc != NULL && strcmp(enc, "base64") == 0) {
		mime_base64_decode(body, len, &decoded);
		body = strbuf_str(&decoded);
		len = decoded.len;
	} else if (enc != NULL && strcmp(enc, "quoted-printable") == 0) {
		mime_qp_decode(body, len, &decoded);
		body = strbuf_str(&decoded);
		len = decoded.len;
	}
	const char *charset = mime_param_get(part->params, part->param_count,
					     "charset");
	if (out->len > 0 && out->s[out->len - 1] != '\n')
		strbuf_appendc(out, '\n');
	if (charset == NULL)
		mime_utf8_sanitize(body, len, out);
	else
		mime_charset_to_utf8(charset, strlen(charset), body, len, out);
	strbuf_free(&decoded);
}

static void part_text_walk(const struct mime_message *msg,
			   const struct mime_part *part, struct strbuf *out)
{
	/* Depth is bounded by MIME_MAX_DEPTH, so recursion is safe. */
	if (part->child_count > 0) {
		for (size_t i = 0; i < part->child_count; i++)
			part_text_walk(msg, &part->children[i], out);
	} else if (part->message != NULL) {
		/* The encapsulated message's header is part of the outer
		 * body (RFC 3501 §6.4.4 BODY/TEXT match "in the body"), so
		 * it is searched too, RFC 2047-decoded like the top header
		 * (Dovecot does this for TEXT, not for BODY). */
		if (out->len > 0 && out->s[out->len - 1] != '\n')
			strbuf_appendc(out, '\n');
		mime_headers_decoded(msg, part->message, out);
		part_text_walk(msg, part->message, out);
	} else if (part->type != NULL && strcmp(part->type, "text") == 0) {
		part_text_append(msg, part, out);
	}
}

void mime_body_text(const struct mime_message *msg, struct strbuf *out)
{
	part_text_walk(msg, &msg->root, out);
}
