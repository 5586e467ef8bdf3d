/* RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 (two- and
 * three-digit years, alphabetic zones, comments anywhere) and what mailers
 * get wrong in practice: missing day-of-week or seconds, missing zone,
 * full month names, dashes between the date fields, and the asctime()
 * order "Mon Jan  2 15:04:05 2006". */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"

struct date_cursor {
	const char *s;
};

static void skip_cfws(struct date_cursor *c)
{
	for (;;) {
		char ch = *c->s;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->s++;
		} else if (ch == '(') {
			unsigned int level = 0;
			while (*c->s != '\0') {
				ch = *c->s++;
				if (ch == '\\' && *c->s != '\0')
					c->s++;
				else if (ch == '(')
					level++;
				else if (ch == ')' && --level == 0)
					break;
			}
		} else {
			return;
		}
	}
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Reads up to max_digits digits; returns the count read (0: none). */
static int read_number(struct date_cursor *c, int max_digits, int *value_r)
{
	int n = 0, v = 0;

	while (is_digit(*c->s) && n < max_digits) {
		v = v * 10 + (*c->s - '0');
		c->s++;
		n++;
	}
	if (is_digit(*c->s))
		return 0;         /* too many digits */
	*value_r = v;
	return n;
}

static size_t read_word(struct date_cursor *c, char *buf, size_t size)
{
	size_t n = 0;

	while (is_alpha(*c->s)) {
		if (n + 1 < size) {
			char ch = *c->s;
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			buf[n++] = ch;
		}
		c->s++;
	}
	buf[n] = '\0';
	return n;
}

static int month_from_word(const char *w)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	if (strlen(w) < 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (strncmp(w, months + i * 3, 3) == 0)
			return i + 1;
	}
	return -1;
}

static bool is_weekday(const char *w)
{
	static const char days[] = "monsuntuewedthufrisat";

	if (strlen(w) < 3)
		return false;
	for (int i = 0; i < 7; i++) {
		if (strncmp(w, days + i * 3, 3) == 0)
			return true;
	}
	return false;
}

/* RFC 5322 §4.3 obs-zone, in minutes east of UTC.  Military zones are
 * to be read as -0000 (unknown), since RFC 822 defined them backwards. */
static bool zone_from_word(const char *w, int *offset_r)
{
	static const struct {
		const char *name;
		int offset;
	} zones[] = {
		{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
		{ "est", -300 }, { "edt", -240 }, { "cst", -360 },
		{ "cdt", -300 }, { "mst", -420 }, { "mdt", -360 },
		{ "pst", -480 }, { "pdt", -420 },
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcmp(w, zones[i].name) == 0) {
			*offset_r = zones[i].offset;
			return true;
		}
	}
	if (strlen(w) == 1) {
		*offset_r = 0;
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the usual
 * era-of-400-years computation). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = m > 2 ? m - 3 : m + 9;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				      30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

static void skip_separators(struct date_cursor *c)
{
	skip_cfws(c);
	while (*c->s == '-' || *c->s == ',' || *c->s == '/') {
		c->s++;
		skip_cfws(c);
	}
}

/* time = hour ":" minute [":" second]; returns false when absent. */
static bool read_time(struct date_cursor *c, int *h, int *m, int *s)
{
	struct date_cursor save = *c;

	*s = 0;
	if (read_number(c, 2, h) == 0 || *c->s != ':') {
		*c = save;
		return false;
	}
	c->s++;
	if (read_number(c, 2, m) == 0) {
		*c = save;
		return false;
	}
	if (*c->s == ':') {
		c->s++;
		if (read_number(c, 2, s) == 0) {
			*c = save;
			return false;
		}
	}
	return true;
}

static int read_year(struct date_cursor *c, int *year_r)
{
	int y, digits = read_number(c, 4, &y);

	if (digits == 0)
		return -1;
	/* RFC 5322 §4.3: two digits are 19xx from 50 up, else 20xx; three
	 * digits are added to 1900. */
	if (digits == 2)
		y += y < 50 ? 2000 : 1900;
	else if (digits == 3)
		y += 1900;
	*year_r = y;
	return 0;
}

int mime_parse_date(const char *str, time_t *t_r, int *tz_offset_r)
{
	struct date_cursor c = { str };
	char word[16];
	int day = 0, month = -1, year = -1, hour = 0, min = 0, sec = 0;
	int offset = 0;
	bool have_time = false;

	if (str == NULL)
		return -1;
	skip_cfws(&c);
	if (is_alpha(*c.s)) {
		struct date_cursor save = c;
		read_word(&c, word, sizeof(word));
		if (is_weekday(word)) {
			skip_cfws(&c);
			if (*c.s == ',')
				c.s++;
			skip_cfws(&c);
		} else {
			c = save;
		}
	}

	if (is_digit(*c.s)) {
		/* day month year */
		if (read_number(&c, 2, &day) == 0)
			return -1;
		skip_separators(&c);
		if (read_word(&c, word, sizeof(word)) == 0)
			return -1;
		month = month_from_word(word);
		skip_separators(&c);
		if (read_year(&c, &year) < 0)
			return -1;
		skip_cfws(&c);
		have_time = read_time(&c, &hour, &min, &sec);
	} else if (is_alpha(*c.s)) {
		/* asctime: month day time year */
		read_word(&c, word, sizeof(word));
		month = month_from_word(word);
		skip_separators(&c);
		if (read_number(&c, 2, &day) == 0)
			return -1;
		skip_cfws(&c);
		have_time = read_time(&c, &hour, &min, &sec);
		skip_cfws(&c);
		if (is_alpha(*c.s)) {
			/* "Mon Jan  2 15:04:05 MST 2006" */
			read_word(&c, word, sizeof(word));
			if (!zone_from_word(word, &offset))
				return -1;
			skip_cfws(&c);
		}
		if (read_year(&c, &year) < 0)
			return -1;
	} else {
		return -1;
	}
	if (month < 1 || year < 1000 || day < 1 ||
	    day > days_in_month(year, month))
		return -1;
	if (have_time && (hour > 23 || min > 59 || sec > 60))
		return -1;

	skip_cfws(&c);
	if ((*c.s == '+' || *c.s == '-') && is_digit(c.s[1])) {
		int sign = *c.s == '-' ? -1 : 1;
		int zone;
		c.s++;
		if (read_number(&c, 4, &zone) != 4 || zone % 100 > 59)
			return -1;
		offset = sign * ((zone / 100) * 60 + zone % 100);
	} else if (is_alpha(*c.s)) {
		read_word(&c, word, sizeof(word));
		int z;
		if (zone_from_word(word, &z))
			offset = z;
		/* An unknown zone name is taken as UTC, as -0000 would be. */
	}

	int64_t t = days_from_civil(year, month, day) * 86400 +
		hour * 3600 + min * 60 + sec - (int64_t)offset * 60;
	*t_r = (time_t)t;
	if (tz_offset_r != NULL)
		*tz_offset_r = offset;
	return 0;
}
