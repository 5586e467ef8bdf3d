/* FETCH attributes (RFC 3501 §6.4.5, §9 fetch-att) and the FETCH response
 * (§7.4.2 msg-att), plus the IMAP date forms used by FETCH, APPEND and
 * SEARCH. */
#include "imap/imap-fetch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-cte.h"
#include "lib/xalloc.h"
#include "store/store.h"

/* A header list is bounded by the command line already; this only keeps a
 * hostile list from costing more than a sane client could want. */
#define FETCH_MAX_HEADER_FIELDS 1000
/* Items in one request, after macro expansion (the parser bounds the
 * argument count too). */
#define FETCH_MAX_ITEMS 1000

/* ---- small writers ---- */

static void fetch_append_u64(struct strbuf *out, uint64_t n)
{
	char buf[20];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	strbuf_append(out, buf + i, sizeof(buf) - i);
}

static void fetch_append_lit(struct strbuf *out, const char *s)
{
	strbuf_append(out, s, strlen(s));
}

/* Body bytes always go out as a literal (never NIL, §7.4.2 BODY[]); an empty
 * text is "".  RFC 3501 CHAR8 excludes NUL, so NULs in the stored text are
 * sent as 0x80, as Dovecot does, rather than breaking the client's parser. */
static void fetch_write_literal(struct strbuf *out, const char *data,
				size_t len)
{
	if (len == 0) {
		fetch_append_lit(out, "\"\"");
		return;
	}
	strbuf_appendc(out, '{');
	fetch_append_u64(out, len);
	fetch_append_lit(out, "}\r\n");

	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL) {
			strbuf_append(out, p, (size_t)(end - p));
			break;
		}
		strbuf_append(out, p, (size_t)(nul - p));
		strbuf_appendc(out, (char)0x80);
		p = nul + 1;
	}
}

/* ATOM-CHAR of RFC 3501 §9: CHAR (%x01-7F) except atom-specials. */
static bool fetch_is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* ---- flags ---- */

static const struct {
	uint32_t flag;
	const char *name;
} fetch_system_flags[] = {
	{ STORE_FLAG_SEEN, "\\Seen" },
	{ STORE_FLAG_ANSWERED, "\\Answered" },
	{ STORE_FLAG_FLAGGED, "\\Flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted" },
	{ STORE_FLAG_DRAFT, "\\Draft" },
};

void imap_flags_write(struct strbuf *out, uint32_t flags, const char *keywords,
		      bool recent)
{
	bool first = true;

	strbuf_appendc(out, '(');
	for (size_t i = 0; i < sizeof(fetch_system_flags) /
			    sizeof(fetch_system_flags[0]); i++) {
		if ((flags & fetch_system_flags[i].flag) == 0)
			continue;
		if (!first)
			strbuf_appendc(out, ' ');
		fetch_append_lit(out, fetch_system_flags[i].name);
		first = false;
	}
	if (recent) {
		if (!first)
			strbuf_appendc(out, ' ');
		fetch_append_lit(out, "\\Recent");
		first = false;
	}
	/* Keywords are atoms (§9 flag-keyword).  The store should never hold
	 * anything else, but a bad one must not be able to break the
	 * response syntax, so it is left out rather than written. */
	const char *p = keywords != NULL ? keywords : "";
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *start = p;
		bool ok = true;
		while (*p != '\0' && *p != ' ') {
			if (!fetch_is_atom_char((unsigned char)*p))
				ok = false;
			p++;
		}
		if (p == start || !ok)
			continue;
		if (!first)
			strbuf_appendc(out, ' ');
		strbuf_append(out, start, (size_t)(p - start));
		first = false;
	}
	strbuf_appendc(out, ')');
}

/* ---- dates ---- */

static const char fetch_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's algorithms): no gmtime/timegm, so no time_t range or TZ
 * environment surprises. */
static int64_t fetch_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void fetch_civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (m <= 2);
	*m_r = m;
	*d_r = d;
}

static bool fetch_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int fetch_days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31 };
	return m == 2 && fetch_leap_year(y) ? 29 : days[m - 1];
}

static void fetch_append_2digits(struct strbuf *out, int n, char pad)
{
	char buf[2] = { n >= 10 ? (char)('0' + n / 10) : pad,
			(char)('0' + n % 10) };
	strbuf_append(out, buf, 2);
}

void imap_datetime_write(struct strbuf *out, int64_t t, int tz_offset)
{
	/* A zone must fit "+HHMM" with sane hours; anything else is a
	 * caller bug, shown as UTC rather than as garbage. */
	if (tz_offset <= -24 * 60 || tz_offset >= 24 * 60)
		tz_offset = 0;

	/* date-year is 4DIGIT: keep the local time within years 0..9999. */
	const int64_t min_t = fetch_days_from_civil(0, 1, 1) * 86400;
	const int64_t max_t = fetch_days_from_civil(9999, 12, 31) * 86400 +
			      86399;
	if (t < min_t - 86400)
		t = min_t - 86400;
	if (t > max_t + 86400)
		t = max_t + 86400;
	int64_t local = t + (int64_t)tz_offset * 60;
	if (local < min_t)
		local = min_t;
	if (local > max_t)
		local = max_t;

	int64_t days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t year;
	int month, day;
	fetch_civil_from_days(days, &year, &month, &day);

	/* date-day-fixed = (SP DIGIT) / 2DIGIT (§9) */
	fetch_append_2digits(out, day, ' ');
	strbuf_appendc(out, '-');
	strbuf_append(out, fetch_months[month - 1], 3);
	strbuf_appendc(out, '-');
	fetch_append_2digits(out, (int)(year / 100), '0');
	fetch_append_2digits(out, (int)(year % 100), '0');
	strbuf_appendc(out, ' ');
	fetch_append_2digits(out, (int)(secs / 3600), '0');
	strbuf_appendc(out, ':');
	fetch_append_2digits(out, (int)(secs / 60 % 60), '0');
	strbuf_appendc(out, ':');
	fetch_append_2digits(out, (int)(secs % 60), '0');
	strbuf_appendc(out, ' ');
	strbuf_appendc(out, tz_offset < 0 ? '-' : '+');
	int abs_off = tz_offset < 0 ? -tz_offset : tz_offset;
	fetch_append_2digits(out, abs_off / 60, '0');
	fetch_append_2digits(out, abs_off % 60, '0');
}

static bool fetch_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits. */
static bool fetch_parse_digits(const char **pp, int n, int *value_r)
{
	const char *p = *pp;
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!fetch_is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*pp = p + n;
	*value_r = v;
	return true;
}

/* "dd-Mon-yyyy" with a 1- or 2-digit day; month names are
 * case-insensitive (ABNF literal strings are). */
static bool fetch_parse_date_text(const char **pp, int *year_r, int *month_r,
				  int *day_r)
{
	const char *p = *pp;
	int day, month = 0, year;

	if (!fetch_is_digit(p[0]))
		return false;
	if (fetch_is_digit(p[1])) {
		day = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
	} else {
		day = p[0] - '0';
		p++;
	}
	if (*p++ != '-')
		return false;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(p, fetch_months[i], 3) == 0) {
			month = i + 1;
			break;
		}
	}
	if (month == 0)
		return false;
	p += 3;
	if (*p++ != '-')
		return false;
	if (!fetch_parse_digits(&p, 4, &year))
		return false;
	if (day < 1 || day > fetch_days_in_month(year, month))
		return false;
	*pp = p;
	*year_r = year;
	*month_r = month;
	*day_r = day;
	return true;
}

int imap_date_parse(const char *s, int *year_r, int *month_r, int *day_r)
{
	const char *p = s;
	int year, month, day;

	if (s == NULL || !fetch_parse_date_text(&p, &year, &month, &day) ||
	    *p != '\0')
		return -1;
	*year_r = year;
	*month_r = month;
	*day_r = day;
	return 0;
}

int imap_datetime_parse(const char *s, int64_t *t_r, int *tz_offset_r)
{
	const char *p = s;
	int year, month, day, hour, min, sec, zh, zm;

	if (s == NULL)
		return -1;
	/* date-day-fixed is (SP DIGIT) / 2DIGIT; clients also send a bare
	 * single digit, which is harmless to accept. */
	if (p[0] == ' ') {
		if (!fetch_is_digit(p[1]) || fetch_is_digit(p[2]))
			return -1;
		p++;
	}
	if (!fetch_parse_date_text(&p, &year, &month, &day))
		return -1;
	if (*p++ != ' ')
		return -1;
	if (!fetch_parse_digits(&p, 2, &hour) || *p++ != ':' ||
	    !fetch_parse_digits(&p, 2, &min) || *p++ != ':' ||
	    !fetch_parse_digits(&p, 2, &sec))
		return -1;
	/* Second 60 is a leap second (RFC 5322 §3.3 allows it too); POSIX
	 * time cannot hold one, so it counts as :59. */
	if (hour > 23 || min > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59;
	if (*p++ != ' ')
		return -1;
	char sign = *p++;
	if (sign != '+' && sign != '-')
		return -1;
	if (!fetch_parse_digits(&p, 2, &zh) || !fetch_parse_digits(&p, 2, &zm))
		return -1;
	if (zh > 23 || zm > 59 || *p != '\0')
		return -1;

	int offset = zh * 60 + zm;
	if (sign == '-')
		offset = -offset;
	int64_t local = fetch_days_from_civil(year, month, day) * 86400 +
			hour * 3600 + min * 60 + sec;
	*t_r = local - (int64_t)offset * 60;
	*tz_offset_r = offset;
	return 0;
}

/* ---- parsing the fetch attributes ---- */

struct fetch_cursor {
	const char *p;
	const char *end;
};

static bool fetch_cursor_eat(struct fetch_cursor *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* number (allow_zero) or nz-number, as uint32 (§9). */
static bool fetch_parse_number(struct fetch_cursor *c, bool allow_zero,
			       uint32_t *n_r)
{
	uint64_t n = 0;
	const char *start = c->p;

	if (c->p >= c->end || !fetch_is_digit(*c->p))
		return false;
	if (!allow_zero && *c->p == '0')
		return false;
	while (c->p < c->end && fetch_is_digit(*c->p)) {
		n = n * 10 + (uint64_t)(*c->p - '0');
		if (n > UINT32_MAX)
			return false;
		c->p++;
	}
	if (c->p == start)
		return false;
	*n_r = (uint32_t)n;
	return true;
}

/* A header-fld-name (astring, §9) inside the brackets: an atom or a quoted
 * string (a literal cannot occur within one atom).  The value must be a
 * possible RFC 5322 field name: printable ASCII except ':' (§3.6.8). */
static int fetch_parse_field_name(struct fetch_cursor *c, struct strbuf *name,
				  const char **error_r)
{
	strbuf_reset(name);
	if (fetch_cursor_eat(c, '"')) {
		for (;;) {
			if (c->p >= c->end) {
				*error_r = "Unterminated quoted string in header list";
				return -1;
			}
			char ch = *c->p++;
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (c->p >= c->end ||
				    (*c->p != '"' && *c->p != '\\')) {
					*error_r = "Bad escape in header list";
					return -1;
				}
				ch = *c->p++;
			}
			strbuf_appendc(name, ch);
		}
	} else {
		/* ASTRING-CHAR also allows ']', but here ']' closes the
		 * section. */
		while (c->p < c->end &&
		       fetch_is_atom_char((unsigned char)*c->p))
			strbuf_appendc(name, *c->p++);
	}
	if (name->len == 0) {
		*error_r = "Empty or invalid field name in header list";
		return -1;
	}
	for (size_t i = 0; i < name->len; i++) {
		unsigned char ch = (unsigned char)name->s[i];
		if (ch < 33 || ch > 126 || ch == ':') {
			*error_r = "Invalid field name in header list";
			return -1;
		}
	}
	return 0;
}

/* Echo a field name: bare when it is an atom, else quoted. */
static void fetch_write_field_name(struct strbuf *out, const char *name,
				   size_t len)
{
	bool atom = true;

	for (size_t i = 0; i < len; i++) {
		if (!fetch_is_atom_char((unsigned char)name[i])) {
			atom = false;
			break;
		}
	}
	if (atom) {
		strbuf_append(out, name, len);
		return;
	}
	strbuf_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			strbuf_appendc(out, '\\');
		strbuf_appendc(out, name[i]);
	}
	strbuf_appendc(out, '"');
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")".  Extra
 * spaces are tolerated; the echo is normalised to single spaces. */
static int fetch_parse_header_list(struct fetch_cursor *c,
				   struct mime_section *section,
				   struct strbuf *text, const char **error_r)
{
	struct strbuf name = STRBUF_INIT;
	size_t cap = 0;
	int ret = -1;

	if (!fetch_cursor_eat(c, ' ')) {
		*error_r = "HEADER.FIELDS needs a header list";
		return -1;
	}
	while (fetch_cursor_eat(c, ' '))
		;
	if (!fetch_cursor_eat(c, '(')) {
		*error_r = "HEADER.FIELDS needs a header list";
		return -1;
	}
	strbuf_appends(text, " (");
	for (;;) {
		while (fetch_cursor_eat(c, ' '))
			;
		if (fetch_cursor_eat(c, ')'))
			break;
		if (c->p >= c->end) {
			*error_r = "Unterminated header list";
			goto out;
		}
		if (section->field_count == FETCH_MAX_HEADER_FIELDS) {
			*error_r = "Too many fields in header list";
			goto out;
		}
		if (fetch_parse_field_name(c, &name, error_r) < 0)
			goto out;
		/* Fields must be separated by a space. */
		if (c->p < c->end && *c->p != ' ' && *c->p != ')') {
			*error_r = "Invalid field name in header list";
			goto out;
		}
		if (section->field_count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			section->fields = xrealloc(section->fields,
						   cap * sizeof(char *));
		}
		section->fields[section->field_count++] =
			xmemdupz(name.s, name.len);
		if (section->field_count > 1)
			strbuf_appendc(text, ' ');
		fetch_write_field_name(text, name.s, name.len);
	}
	if (section->field_count == 0) {
		*error_r = "Empty header list";
		goto out;
	}
	strbuf_appendc(text, ')');
	ret = 0;
out:
	strbuf_free(&name);
	return ret;
}

static bool fetch_keyword_is(const char *s, size_t len, const char *kw)
{
	return len == strlen(kw) && strncasecmp(s, kw, len) == 0;
}

/* section-spec (§9), from just after '[' up to and including ']':
 *   section-spec = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                     "TEXT"
 *   section-text = section-msgtext / "MIME"
 * The normalised spelling (keywords upper-cased, field names as given)
 * goes to text. */
static int fetch_parse_section(struct fetch_cursor *c,
			       struct mime_section *section,
			       struct strbuf *text, const char **error_r)
{
	section->kind = MIME_SECTION_ALL;
	section->part_count = 0;

	if (c->p < c->end && *c->p != ']') {
		for (;;) {
			if (c->p < c->end && fetch_is_digit(*c->p)) {
				uint32_t n;
				if (section->part_count == MIME_MAX_DEPTH) {
					*error_r = "Section part nested too deep";
					return -1;
				}
				if (!fetch_parse_number(c, false, &n)) {
					*error_r = "Invalid section part number";
					return -1;
				}
				section->parts[section->part_count++] = n;
				fetch_append_u64(text, n);
				if (!fetch_cursor_eat(c, '.'))
					break;
				strbuf_appendc(text, '.');
				continue;
			}
			/* A keyword: letters and dots, up to ']' or SP. */
			const char *kw = c->p;
			while (c->p < c->end &&
			       ((*c->p >= 'A' && *c->p <= 'Z') ||
				(*c->p >= 'a' && *c->p <= 'z') ||
				*c->p == '.'))
				c->p++;
			size_t kw_len = (size_t)(c->p - kw);
			bool fields = false;

			if (fetch_keyword_is(kw, kw_len, "HEADER")) {
				section->kind = MIME_SECTION_HEADER;
			} else if (fetch_keyword_is(kw, kw_len, "HEADER.FIELDS")) {
				section->kind = MIME_SECTION_HEADER_FIELDS;
				fields = true;
			} else if (fetch_keyword_is(kw, kw_len,
						    "HEADER.FIELDS.NOT")) {
				section->kind = MIME_SECTION_HEADER_FIELDS_NOT;
				fields = true;
			} else if (fetch_keyword_is(kw, kw_len, "TEXT")) {
				section->kind = MIME_SECTION_TEXT;
			} else if (fetch_keyword_is(kw, kw_len, "MIME")) {
				/* §6.4.5: MIME only for a numbered part. */
				if (section->part_count == 0) {
					*error_r = "MIME section needs a part number";
					return -1;
				}
				section->kind = MIME_SECTION_MIME;
			} else {
				*error_r = "Invalid section";
				return -1;
			}
			for (size_t i = 0; i < kw_len; i++) {
				char ch = kw[i];
				if (ch >= 'a' && ch <= 'z')
					ch = (char)(ch - 'a' + 'A');
				strbuf_appendc(text, ch);
			}
			if (fields &&
			    fetch_parse_header_list(c, section, text,
						    error_r) < 0)
				return -1;
			break;
		}
	}
	if (!fetch_cursor_eat(c, ']')) {
		*error_r = "Invalid section";
		return -1;
	}
	return 0;
}

static void fetch_item_clear(struct imap_fetch_item *item)
{
	for (size_t i = 0; i < item->section.field_count; i++)
		free(item->section.fields[i]);
	free(item->section.fields);
	free(item->section_text);
	imap_annotate_fetch_free(&item->annotation);
	memset(item, 0, sizeof(*item));
}

/* BODY[...]<...> or BODY.PEEK[...]<...>, from just after '['. */
static int fetch_parse_body_section(const char *p, const char *end, bool peek,
				    struct imap_fetch_item *item,
				    const char **error_r)
{
	struct fetch_cursor c = { p, end };
	struct strbuf text = STRBUF_INIT;

	item->kind = IMAP_FETCH_BODY_SECTION;
	item->peek = peek;
	if (fetch_parse_section(&c, &item->section, &text, error_r) < 0)
		goto fail;
	if (fetch_cursor_eat(&c, '<')) {
		/* "<" number "." nz-number ">" (§9 fetch-att) */
		if (!fetch_parse_number(&c, true, &item->partial_offset) ||
		    !fetch_cursor_eat(&c, '.') ||
		    !fetch_parse_number(&c, false, &item->partial_length) ||
		    !fetch_cursor_eat(&c, '>')) {
			*error_r = "Invalid partial range";
			goto fail;
		}
		item->partial = true;
	}
	if (c.p != c.end) {
		*error_r = "Junk after section";
		goto fail;
	}
	/* append "" so that an empty section ("BODY[]") is a real "" */
	strbuf_append(&text, "", 0);
	item->section_text = strbuf_detach(&text, NULL);
	return 0;
fail:
	strbuf_free(&text);
	fetch_item_clear(item);
	return -1;
}

/* BINARY[...], BINARY.PEEK[...] or BINARY.SIZE[...], from just after '['
 * (RFC 3516 §7): section-binary = "[" [section-part] "]", then a partial
 * for BINARY and BINARY.PEEK only. */
static int fetch_parse_binary(const char *p, const char *end,
			      enum imap_fetch_item_kind kind, bool peek,
			      struct imap_fetch_item *item,
			      const char **error_r)
{
	struct fetch_cursor c = { p, end };
	struct strbuf text = STRBUF_INIT;

	item->kind = kind;
	item->peek = peek;
	item->section.kind = MIME_SECTION_ALL;
	while (c.p < c.end && *c.p != ']') {
		uint32_t n;
		if (item->section.part_count == MIME_MAX_DEPTH) {
			*error_r = "Section part nested too deep";
			goto fail;
		}
		if (!fetch_parse_number(&c, false, &n)) {
			*error_r = "BINARY takes only a section part number";
			goto fail;
		}
		item->section.parts[item->section.part_count++] = n;
		fetch_append_u64(&text, n);
		if (c.p < c.end && *c.p == ']')
			break;
		if (!fetch_cursor_eat(&c, '.') || c.p >= c.end ||
		    !fetch_is_digit(*c.p)) {
			*error_r = "BINARY takes only a section part number";
			goto fail;
		}
		strbuf_appendc(&text, '.');
	}
	if (!fetch_cursor_eat(&c, ']')) {
		*error_r = "Invalid section";
		goto fail;
	}
	if (kind == IMAP_FETCH_BINARY && fetch_cursor_eat(&c, '<')) {
		if (!fetch_parse_number(&c, true, &item->partial_offset) ||
		    !fetch_cursor_eat(&c, '.') ||
		    !fetch_parse_number(&c, false, &item->partial_length) ||
		    !fetch_cursor_eat(&c, '>')) {
			*error_r = "Invalid partial range";
			goto fail;
		}
		item->partial = true;
	}
	if (c.p != c.end) {
		*error_r = "Junk after section";
		goto fail;
	}
	strbuf_append(&text, "", 0);
	item->section_text = strbuf_detach(&text, NULL);
	return 0;
fail:
	strbuf_free(&text);
	fetch_item_clear(item);
	return -1;
}

static const struct {
	const char *name;
	enum imap_fetch_item_kind kind;
} fetch_simple_items[] = {
	{ "UID", IMAP_FETCH_UID },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
};

static bool fetch_prefix_is(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);
	return len >= plen && strncasecmp(s, prefix, plen) == 0;
}

static int fetch_parse_item(const struct imap_arg *arg,
			    struct imap_fetch_item *item, const char **error_r)
{
	memset(item, 0, sizeof(*item));
	if (arg->type != IMAP_ARG_ATOM || arg->str == NULL) {
		*error_r = "Invalid FETCH item";
		return -1;
	}
	const char *s = arg->str;
	size_t len = arg->len;

	for (size_t i = 0; i < sizeof(fetch_simple_items) /
			    sizeof(fetch_simple_items[0]); i++) {
		if (!fetch_keyword_is(s, len, fetch_simple_items[i].name))
			continue;
		item->kind = fetch_simple_items[i].kind;
		/* RFC822.HEADER = BODY.PEEK[HEADER], RFC822.TEXT = BODY[TEXT]
		 * (§6.4.5): same bytes, other response name. */
		if (item->kind == IMAP_FETCH_RFC822_HEADER)
			item->section.kind = MIME_SECTION_HEADER;
		else if (item->kind == IMAP_FETCH_RFC822_TEXT)
			item->section.kind = MIME_SECTION_TEXT;
		return 0;
	}

	if (fetch_prefix_is(s, len, "BODY["))
		return fetch_parse_body_section(s + 5, s + len, false, item,
						error_r);
	if (fetch_prefix_is(s, len, "BODY.PEEK["))
		return fetch_parse_body_section(s + 10, s + len, true, item,
						error_r);
	if (fetch_prefix_is(s, len, "BINARY["))
		return fetch_parse_binary(s + 7, s + len, IMAP_FETCH_BINARY,
					  false, item, error_r);
	if (fetch_prefix_is(s, len, "BINARY.PEEK["))
		return fetch_parse_binary(s + 12, s + len, IMAP_FETCH_BINARY,
					  true, item, error_r);
	if (fetch_prefix_is(s, len, "BINARY.SIZE["))
		return fetch_parse_binary(s + 12, s + len,
					  IMAP_FETCH_BINARY_SIZE, true, item,
					  error_r);
	*error_r = "Unknown FETCH item";
	return -1;
}

static bool fetch_item_is_whole_body(const struct imap_fetch_item *item)
{
	return item->section.part_count == 0 &&
	       item->section.kind == MIME_SECTION_ALL;
}

static void fetch_request_add(struct imap_fetch_request *req, size_t *cap,
			      const struct imap_fetch_item *item)
{
	/* Simple items asked twice are answered once. */
	if (item->kind != IMAP_FETCH_BODY_SECTION &&
	    item->kind != IMAP_FETCH_BINARY &&
	    item->kind != IMAP_FETCH_BINARY_SIZE) {
		for (size_t i = 0; i < req->count; i++) {
			if (req->items[i].kind == item->kind)
				return;
		}
	}
	if (req->count == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		req->items = xrealloc(req->items,
				      *cap * sizeof(*req->items));
	}
	req->items[req->count++] = *item;

	switch (item->kind) {
	case IMAP_FETCH_UID:
	case IMAP_FETCH_FLAGS:
	case IMAP_FETCH_INTERNALDATE:
	case IMAP_FETCH_RFC822_SIZE:
	case IMAP_FETCH_MODSEQ:
	case IMAP_FETCH_ANNOTATION:
		break;
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
	case IMAP_FETCH_RFC822_HEADER:
		req->needs_body = true;
		req->needs_mime = true;
		break;
	case IMAP_FETCH_RFC822:
		req->needs_body = true;
		req->sets_seen = true;
		break;
	case IMAP_FETCH_RFC822_TEXT:
		req->needs_body = true;
		req->needs_mime = true;
		req->sets_seen = true;
		break;
	case IMAP_FETCH_BODY_SECTION:
		req->needs_body = true;
		if (!item->peek)
			req->sets_seen = true;
		if (!fetch_item_is_whole_body(item))
			req->needs_mime = true;
		break;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		req->needs_body = true;
		if (!item->peek)
			req->sets_seen = true;
		if (item->section.part_count > 0)
			req->needs_mime = true;
		break;
	}
}

static void fetch_request_add_kind(struct imap_fetch_request *req,
				   size_t *cap, enum imap_fetch_item_kind kind)
{
	struct imap_fetch_item item;

	memset(&item, 0, sizeof(item));
	item.kind = kind;
	fetch_request_add(req, cap, &item);
}

static bool fetch_macro(struct imap_fetch_request *req, size_t *cap,
			const struct imap_arg *arg)
{
	static const enum imap_fetch_item_kind fast[] = {
		IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY,
	};
	size_t n;

	/* §6.4.5: FAST is the first three, ALL adds ENVELOPE, FULL adds
	 * ENVELOPE and BODY. */
	if (fetch_keyword_is(arg->str, arg->len, "FAST"))
		n = 3;
	else if (fetch_keyword_is(arg->str, arg->len, "ALL"))
		n = 4;
	else if (fetch_keyword_is(arg->str, arg->len, "FULL"))
		n = 5;
	else
		return false;
	for (size_t i = 0; i < n; i++)
		fetch_request_add_kind(req, cap, fast[i]);
	return true;
}

static bool fetch_is_macro(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM && arg->str != NULL &&
	       (fetch_keyword_is(arg->str, arg->len, "ALL") ||
		fetch_keyword_is(arg->str, arg->len, "FAST") ||
		fetch_keyword_is(arg->str, arg->len, "FULL"));
}

int imap_fetch_parse(const struct imap_arg *arg, bool uid_command,
		     struct imap_fetch_request *req_r, const char **error_r)
{
	struct imap_fetch_request req;
	struct imap_fetch_item item;
	size_t cap = 0;

	memset(&req, 0, sizeof(req));
	memset(req_r, 0, sizeof(*req_r));
	if (arg == NULL) {
		*error_r = "Missing FETCH items";
		return -1;
	}

	/* §6.4.8: UID FETCH answers UID whether asked or not.  It goes first
	 * unless the client asked for it, then it stays where it was put. */
	bool uid_asked = false;
	if (arg->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < arg->count; i++) {
			if (arg->list[i].type == IMAP_ARG_ATOM &&
			    arg->list[i].str != NULL &&
			    fetch_keyword_is(arg->list[i].str,
					     arg->list[i].len, "UID"))
				uid_asked = true;
		}
	} else if (arg->type == IMAP_ARG_ATOM && arg->str != NULL &&
		   fetch_keyword_is(arg->str, arg->len, "UID")) {
		uid_asked = true;
	}
	if (uid_command && !uid_asked)
		fetch_request_add_kind(&req, &cap, IMAP_FETCH_UID);

	if (arg->type == IMAP_ARG_LIST) {
		if (arg->count == 0) {
			*error_r = "Empty FETCH item list";
			goto fail;
		}
		if (arg->count > FETCH_MAX_ITEMS) {
			*error_r = "Too many FETCH items";
			goto fail;
		}
		for (size_t i = 0; i < arg->count; i++) {
			/* Macros stand alone (§9 fetch). */
			if (fetch_is_macro(&arg->list[i])) {
				*error_r = "FETCH macros are not allowed in a list";
				goto fail;
			}
			/* RFC 5257 §4.3: ANNOTATION takes the next list */
			if (imap_arg_is_atom(&arg->list[i], "ANNOTATION")) {
				memset(&item, 0, sizeof(item));
				item.kind = IMAP_FETCH_ANNOTATION;
				if (i + 1 >= arg->count ||
				    imap_annotate_fetch_parse(&arg->list[i + 1],
							      &item.annotation,
							      error_r) < 0) {
					if (i + 1 >= arg->count)
						*error_r = "ANNOTATION needs (entries attributes)";
					goto fail;
				}
				i++;
				for (size_t k = 0; k < req.count; k++) {
					if (req.items[k].kind == IMAP_FETCH_ANNOTATION) {
						fetch_item_clear(&item);
						*error_r = "ANNOTATION given twice";
						goto fail;
					}
				}
			} else if (fetch_parse_item(&arg->list[i], &item,
						    error_r) < 0)
				goto fail;
			size_t before = req.count;
			fetch_request_add(&req, &cap, &item);
			if (req.count == before)
				fetch_item_clear(&item);
		}
	} else if (arg->type == IMAP_ARG_ATOM && arg->str != NULL &&
		   fetch_macro(&req, &cap, arg)) {
		/* expanded */
	} else {
		if (fetch_parse_item(arg, &item, error_r) < 0)
			goto fail;
		size_t before = req.count;
		fetch_request_add(&req, &cap, &item);
		if (req.count == before)
			fetch_item_clear(&item);
	}
	*req_r = req;
	return 0;
fail:
	imap_fetch_request_free(&req);
	return -1;
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	for (size_t i = 0; i < req->count; i++)
		fetch_item_clear(&req->items[i]);
	free(req->items);
	memset(req, 0, sizeof(*req));
}

/* ---- writing ---- */

struct fetch_write_ctx {
	const struct imap_fetch_message *msg;
	const char *data;
	size_t len;
	const struct mime_message *mime;
	struct mime_message *own_mime;
	struct strbuf scratch;
	bool cte_failed;    /* a BINARY item could not be decoded */
	bool cte_nil;       /* then answer it NIL (0 for SIZE) instead */
};

/* The caller should pass the parsed tree when needs_mime said so; if it
 * did not, parse here rather than fail the response. */
static const struct mime_message *fetch_mime(struct fetch_write_ctx *ctx)
{
	if (ctx->mime == NULL) {
		ctx->own_mime = mime_parse(ctx->data, ctx->len);
		ctx->mime = ctx->own_mime;
	}
	return ctx->mime;
}

static void fetch_write_slice(struct strbuf *out, const char *data,
			      size_t len, const struct imap_fetch_item *item)
{
	if (item->partial) {
		/* §6.4.5: from the origin octet, at most length octets; an
		 * origin beyond the end gives an empty string. */
		size_t off = item->partial_offset;
		if (off >= len) {
			len = 0;
		} else {
			data += off;
			len -= off;
			if (len > item->partial_length)
				len = item->partial_length;
		}
	}
	fetch_write_literal(out, data, len);
}

/* The bytes a section names, via the MIME tree except for BODY[] whole. */
static void fetch_write_section_data(struct fetch_write_ctx *ctx,
				     const struct imap_fetch_item *item,
				     struct strbuf *out)
{
	if (fetch_item_is_whole_body(item)) {
		fetch_write_slice(out, ctx->data, ctx->len, item);
		return;
	}
	strbuf_reset(&ctx->scratch);
	if (mime_section_fetch(fetch_mime(ctx), &item->section,
			       &ctx->scratch) < 0)
		strbuf_reset(&ctx->scratch);
	fetch_write_slice(out, ctx->scratch.s, ctx->scratch.len, item);
}

/* BINARY[parts]<origin> and BINARY.SIZE[parts] (RFC 3516 §4.3): the
 * decoded bytes as a literal, or as literal8 when they hold NUL (data
 * without NUL goes in a plain literal, as the RFC's SHOULD asks). */
static void fetch_write_binary(struct fetch_write_ctx *ctx,
			       const struct imap_fetch_item *item,
			       struct strbuf *out)
{
	const struct mime_message *mime;
	struct mime_message whole;

	if (item->section.part_count == 0) {
		/* The whole message needs no tree: only its bytes. */
		memset(&whole, 0, sizeof(whole));
		whole.data = ctx->data;
		whole.len = ctx->len;
		mime = &whole;
	} else {
		mime = fetch_mime(ctx);
	}
	strbuf_reset(&ctx->scratch);
	bool failed = imap_cte_section(mime, item->section.parts,
				       item->section.part_count,
				       &ctx->scratch) < 0;
	if (failed && !ctx->cte_nil) {
		ctx->cte_failed = true;
		return;
	}
	const char *data = ctx->scratch.s != NULL ? ctx->scratch.s : "";
	size_t len = ctx->scratch.len;

	fetch_append_lit(out, item->kind == IMAP_FETCH_BINARY_SIZE ?
			 "BINARY.SIZE[" : "BINARY[");
	if (item->section_text != NULL)
		fetch_append_lit(out, item->section_text);
	strbuf_appendc(out, ']');
	if (failed) {
		fetch_append_lit(out, item->kind == IMAP_FETCH_BINARY_SIZE ?
				 " 0" : " NIL");
		return;
	}
	if (item->kind == IMAP_FETCH_BINARY_SIZE) {
		strbuf_appendc(out, ' ');
		fetch_append_u64(out, len);
		return;
	}
	if (item->partial) {
		strbuf_appendc(out, '<');
		fetch_append_u64(out, item->partial_offset);
		strbuf_appendc(out, '>');
		size_t off = item->partial_offset;
		if (off >= len) {
			len = 0;
		} else {
			data += off;
			len -= off;
			if (len > item->partial_length)
				len = item->partial_length;
		}
	}
	strbuf_appendc(out, ' ');
	if (len > 0 && memchr(data, '\0', len) != NULL) {
		fetch_append_lit(out, "~{");
		fetch_append_u64(out, len);
		fetch_append_lit(out, "}\r\n");
		strbuf_append(out, data, len);
		return;
	}
	fetch_write_literal(out, data, len);
}

static void fetch_write_item(struct fetch_write_ctx *ctx,
			     const struct imap_fetch_item *item,
			     struct strbuf *out)
{
	const struct imap_fetch_message *msg = ctx->msg;
	const struct mime_message *mime;

	switch (item->kind) {
	case IMAP_FETCH_UID:
		fetch_append_lit(out, "UID ");
		fetch_append_u64(out, msg->uid);
		break;
	case IMAP_FETCH_FLAGS:
		fetch_append_lit(out, "FLAGS ");
		imap_flags_write(out, msg->flags, msg->keywords, msg->recent);
		break;
	case IMAP_FETCH_INTERNALDATE:
		fetch_append_lit(out, "INTERNALDATE \"");
		imap_datetime_write(out, msg->internaldate, msg->tz_offset);
		strbuf_appendc(out, '"');
		break;
	case IMAP_FETCH_RFC822_SIZE:
		fetch_append_lit(out, "RFC822.SIZE ");
		fetch_append_u64(out, msg->size);
		break;
	case IMAP_FETCH_ANNOTATION:
		fetch_append_lit(out, "ANNOTATION ");
		if (msg->annotation != NULL)
			strbuf_append(out, msg->annotation,
				      msg->annotation_len);
		else
			fetch_append_lit(out, "()");
		break;
	case IMAP_FETCH_MODSEQ:
		/* RFC 7162 §3.1.4.1: "MODSEQ (" permsg-modsequence ")" */
		fetch_append_lit(out, "MODSEQ (");
		fetch_append_u64(out, msg->modseq);
		strbuf_appendc(out, ')');
		break;
	case IMAP_FETCH_ENVELOPE:
		mime = fetch_mime(ctx);
		fetch_append_lit(out, "ENVELOPE ");
		mime_envelope_write(mime, &mime->root, out);
		break;
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		mime = fetch_mime(ctx);
		fetch_append_lit(out, item->kind == IMAP_FETCH_BODY ?
				 "BODY " : "BODYSTRUCTURE ");
		mime_bodystructure_write(mime, &mime->root,
					 item->kind == IMAP_FETCH_BODYSTRUCTURE,
					 out);
		break;
	case IMAP_FETCH_RFC822:
		fetch_append_lit(out, "RFC822 ");
		fetch_write_literal(out, ctx->data, ctx->len);
		break;
	case IMAP_FETCH_RFC822_HEADER:
		fetch_append_lit(out, "RFC822.HEADER ");
		fetch_write_section_data(ctx, item, out);
		break;
	case IMAP_FETCH_RFC822_TEXT:
		fetch_append_lit(out, "RFC822.TEXT ");
		fetch_write_section_data(ctx, item, out);
		break;
	case IMAP_FETCH_BODY_SECTION:
		/* §7.4.2: the reply names BODY[section]<origin>, without
		 * PEEK and without the length. */
		fetch_append_lit(out, "BODY[");
		if (item->section_text != NULL)
			fetch_append_lit(out, item->section_text);
		strbuf_appendc(out, ']');
		if (item->partial) {
			strbuf_appendc(out, '<');
			fetch_append_u64(out, item->partial_offset);
			strbuf_appendc(out, '>');
		}
		strbuf_appendc(out, ' ');
		fetch_write_section_data(ctx, item, out);
		break;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		fetch_write_binary(ctx, item, out);
		break;
	}
}

static int fetch_write(const struct imap_fetch_request *req,
		       const struct imap_fetch_message *msg,
		       struct strbuf *out, bool cte_nil)
{
	struct fetch_write_ctx ctx;
	size_t start = out->len;

	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = msg;
	ctx.cte_nil = cte_nil;
	ctx.data = msg->data != NULL ? msg->data : "";
	ctx.len = msg->data != NULL ? msg->len : 0;
	ctx.mime = msg->mime;

	fetch_append_lit(out, "* ");
	fetch_append_u64(out, msg->seq);
	fetch_append_lit(out, " FETCH (");
	for (size_t i = 0; i < req->count; i++) {
		if (i > 0)
			strbuf_appendc(out, ' ');
		fetch_write_item(&ctx, &req->items[i], out);
	}
	fetch_append_lit(out, ")\r\n");

	strbuf_free(&ctx.scratch);
	if (ctx.own_mime != NULL)
		mime_message_free(&ctx.own_mime);
	if (ctx.cte_failed) {
		out->len = start;
		if (out->s != NULL)
			out->s[start] = '\0';
		return IMAP_FETCH_UNKNOWN_CTE;
	}
	return 0;
}

void imap_fetch_write(const struct imap_fetch_request *req,
		      const struct imap_fetch_message *msg,
		      struct strbuf *out)
{
	(void)fetch_write(req, msg, out, true);
}

int imap_fetch_write_checked(const struct imap_fetch_request *req,
			     const struct imap_fetch_message *msg,
			     struct strbuf *out)
{
	return fetch_write(req, msg, out, false);
}
