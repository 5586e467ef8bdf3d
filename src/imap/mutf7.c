/* Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, except '&', written
 * "&-".  Anything else is UTF-16BE in modified BASE64 (',' instead of '/',
 * no padding) between '&' and '-'.  The RFC allows exactly one spelling of
 * each name: no encoded printable ASCII, no superfluous shifts, no
 * leftover bits; we refuse every other spelling so that two different
 * strings never name the same mailbox. */
#include "imap/imap-parser.h"
#include "lib/text.h"

static const char mutf7_base64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mutf7_base64_value(unsigned char c)
{
	return base64_digit(c, ',');
}

static bool mutf7_is_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void utf8_append(struct strbuf *out, uint32_t cp)
{
	char buf[4];
	size_t n;

	if (cp < 0x80) {
		buf[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		buf[0] = (char)(0xf0 | (cp >> 18));
		buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_append(out, buf, n);
}

/* Decodes the base64 run at *p (after '&', not empty) up to its '-'. */
static int mutf7_decode_run(const unsigned char **p, struct strbuf *out)
{
	const unsigned char *s = *p;
	uint32_t bits = 0;
	unsigned int nbits = 0;
	uint32_t high = 0;   /* a high surrogate waiting for its pair */

	for (; *s != '-'; s++) {
		int v = mutf7_base64_value(*s);
		if (v < 0)
			return -1;   /* bad character, or the string ended */
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;

		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			utf8_append(out, 0x10000 + ((high - 0xd800) << 10) +
				    (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit == 0 || (unit >= 0x20 && unit <= 0x7e)) {
			/* U+0000 cannot be a name; printable ASCII must be
			 * written as itself. */
			return -1;
		} else {
			utf8_append(out, unit);
		}
	}
	/* A pair cut short, a whole superfluous character, or nonzero
	 * padding bits all mean a wrongly encoded name. */
	if (high != 0 || nbits >= 6 || bits != 0)
		return -1;
	*p = s + 1;
	return 0;
}

int mutf7_to_utf8(const char *in, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t orig_len = out->len;
	bool after_run = false;

	while (*p != '\0') {
		if (*p != '&') {
			if (!mutf7_is_direct(*p))
				goto fail;
			strbuf_appendc(out, (char)*p);
			p++;
			after_run = false;
			continue;
		}
		p++;
		if (*p == '-') {
			strbuf_appendc(out, '&');
			p++;
			after_run = false;
			continue;
		}
		/* "&AKM-&AKQ-" must be "&AKMApA-": one run, no null shift. */
		if (after_run)
			goto fail;
		if (mutf7_decode_run(&p, out) < 0)
			goto fail;
		after_run = true;
	}
	return 0;
fail:
	if (out->s != NULL) {
		out->len = orig_len;
		out->s[orig_len] = '\0';
	}
	return -1;
}

/* Decodes one UTF-8 character strictly (RFC 3629): no overlongs, no
 * surrogates, nothing above U+10FFFF.  Returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		cp = s[0] & 0x1f;
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		cp = s[0] & 0x0f;
		n = 3;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		cp = s[0] & 0x07;
		n = 4;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		/* The NUL terminator fails this test, so we never read past
		 * the end of the string. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

static void mutf7_put_unit(struct strbuf *out, uint32_t unit, uint32_t *bits,
			   unsigned int *nbits)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		strbuf_appendc(out, mutf7_base64[(*bits >> *nbits) & 0x3f]);
	}
	*bits &= (1u << *nbits) - 1;
}

int utf8_to_mutf7(const char *in, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t orig_len = out->len;

	while (*p != '\0') {
		if (mutf7_is_direct(*p)) {
			if (*p == '&')
				strbuf_append(out, "&-", 2);
			else
				strbuf_appendc(out, (char)*p);
			p++;
			continue;
		}

		/* One run for all consecutive non-printable characters. */
		uint32_t bits = 0;
		unsigned int nbits = 0;
		strbuf_appendc(out, '&');
		while (*p != '\0' && !mutf7_is_direct(*p)) {
			uint32_t cp;
			size_t n = utf8_decode(p, &cp);
			if (n == 0)
				goto fail;
			p += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				mutf7_put_unit(out, 0xd800 + (cp >> 10), &bits,
					       &nbits);
				mutf7_put_unit(out, 0xdc00 + (cp & 0x3ff), &bits,
					       &nbits);
			} else {
				mutf7_put_unit(out, cp, &bits, &nbits);
			}
		}
		if (nbits > 0)
			strbuf_appendc(out, mutf7_base64[(bits << (6 - nbits)) & 0x3f]);
		strbuf_appendc(out, '-');
	}
	return 0;
fail:
	if (out->s != NULL) {
		out->len = orig_len;
		out->s[orig_len] = '\0';
	}
	return -1;
}
