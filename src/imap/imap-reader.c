/* Framing IMAP commands out of a byte stream (RFC 3501 §2.2, §4.3, §7.5;
 * RFC 7888 non-synchronising literals; RFC 3516/4466 literal8).
 *
 * Every byte is looked at once: a small recogniser follows each line and
 * notices when it ends in a literal announcement, so nothing is rescanned
 * however the input is split.  Skipping (after an error or reset) runs the
 * same recogniser without keeping the bytes, so a rejected command's
 * non-synchronising literals are skipped too and never mistaken for
 * commands. */
#include "imap/imap-parser.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

enum reader_mode {
	READER_MODE_LINE,          /* collecting a line of the command */
	READER_MODE_LITERAL,       /* collecting literal bytes */
	READER_MODE_SKIP_LINE,     /* discarding up to the end of a line */
	READER_MODE_SKIP_LITERAL,  /* discarding literal bytes */
};

/* Where the recogniser stands in a possible "{n}", "{n+}", "~{n}" or
 * "~{n+}" at the end of the line.  The announcement must begin an argument:
 * it follows a space or '(' (so a '{' inside an atom, where it is invalid,
 * is not taken for one). */
enum literal_scan {
	SCAN_NONE,
	SCAN_BOUNDARY,   /* last byte was SP or '(' */
	SCAN_TILDE,      /* boundary, then '~' */
	SCAN_NUMBER,     /* '{' and zero or more digits */
	SCAN_PLUS,       /* '{' digits '+' */
	SCAN_CLOSE,      /* ... '}' */
	SCAN_CLOSE_CR,   /* ... '}' CR */
};

enum tag_state {
	TAG_COLLECTING,
	TAG_DONE,
	TAG_INVALID,
};

/* Literal sizes beyond this many digits are certainly too big. */
#define LITERAL_MAX_DIGITS 20

struct imap_reader {
	struct imap_reader_limits limits;
	struct strbuf cmd;           /* the command so far, as sent */
	struct strbuf tag;

	enum reader_mode mode;
	/* NEED_MORE when feeding may go on; else the status last returned,
	 * which sticks until reset (COMMAND: until the next feed/reset). */
	enum imap_reader_status status;

	size_t line_len;             /* bytes of this line so far, without LF */
	bool mid_line;               /* within a line (also just after a literal) */
	bool first_line;             /* no literal has been read yet */
	enum tag_state tag_state;

	uint64_t literal_left;       /* LITERAL / SKIP_LITERAL: bytes to go */
	uint64_t literal_size;       /* the last literal announced */
	uint64_t max_nonsync;        /* imap_reader_set_nonsync_limit() */
	bool literal_nonsync;
	/* A literal was announced and none of its bytes may be read yet:
	 * after LITERAL_WAIT, LITERAL_TOO_BIG or COMMAND_TOO_BIG. */
	bool literal_pending;
	unsigned int literal_count;

	bool line_mode;
	bool skip_line_mode;         /* SKIP_LINE started in line mode */

	/* the literal recogniser */
	enum literal_scan scan;
	bool scan_quoted;
	bool scan_escape;
	bool scan_literal8;
	bool scan_nonsync;
	unsigned int scan_digits;
	uint64_t scan_number;        /* UINT64_MAX when it overflowed */
};

static const struct imap_reader_limits reader_default_limits = {
	.max_line = IMAP_READER_DEFAULT_MAX_LINE,
	.max_literal = IMAP_READER_DEFAULT_MAX_LITERAL,
	.max_command = IMAP_READER_DEFAULT_MAX_COMMAND,
	.max_literals = IMAP_READER_DEFAULT_MAX_LITERALS,
};

static void reader_scan_reset(struct imap_reader *reader)
{
	reader->scan = SCAN_NONE;
	reader->scan_quoted = false;
	reader->scan_escape = false;
}

/* Feeds one byte of a line (not LF) to the literal recogniser.  Quoted
 * strings are followed so that "{5}" inside one is not an announcement. */
static void reader_scan_byte(struct imap_reader *reader, unsigned char c)
{
	if (reader->scan_quoted) {
		if (reader->scan_escape)
			reader->scan_escape = false;
		else if (c == '\\')
			reader->scan_escape = true;
		else if (c == '"')
			reader->scan_quoted = false;
		return;
	}

	switch (reader->scan) {
	case SCAN_BOUNDARY:
		if (c == '{') {
			reader->scan = SCAN_NUMBER;
			reader->scan_literal8 = false;
			reader->scan_nonsync = false;
			reader->scan_digits = 0;
			reader->scan_number = 0;
			return;
		}
		if (c == '~') {
			reader->scan = SCAN_TILDE;
			return;
		}
		break;
	case SCAN_TILDE:
		if (c == '{') {
			reader->scan = SCAN_NUMBER;
			reader->scan_literal8 = true;
			reader->scan_nonsync = false;
			reader->scan_digits = 0;
			reader->scan_number = 0;
			return;
		}
		break;
	case SCAN_NUMBER:
		if (c >= '0' && c <= '9') {
			uint64_t digit = (uint64_t)(c - '0');
			if (reader->scan_number != UINT64_MAX) {
				if (reader->scan_number > (UINT64_MAX - digit) / 10)
					reader->scan_number = UINT64_MAX;
				else
					reader->scan_number =
						reader->scan_number * 10 + digit;
			}
			if (reader->scan_digits < LITERAL_MAX_DIGITS + 1)
				reader->scan_digits++;
			return;
		}
		if (reader->scan_digits > 0 && c == '+') {
			reader->scan = SCAN_PLUS;
			reader->scan_nonsync = true;
			return;
		}
		if (reader->scan_digits > 0 && c == '}') {
			reader->scan = SCAN_CLOSE;
			return;
		}
		break;
	case SCAN_PLUS:
		if (c == '}') {
			reader->scan = SCAN_CLOSE;
			return;
		}
		break;
	case SCAN_CLOSE:
		if (c == '\r') {
			reader->scan = SCAN_CLOSE_CR;
			return;
		}
		break;
	case SCAN_NONE:
	case SCAN_CLOSE_CR:
		break;
	}

	if (c == ' ' || c == '(')
		reader->scan = SCAN_BOUNDARY;
	else if (c == '"') {
		reader->scan = SCAN_NONE;
		reader->scan_quoted = true;
	} else
		reader->scan = SCAN_NONE;
}

static bool reader_scan_found_literal(const struct imap_reader *reader)
{
	return reader->scan == SCAN_CLOSE || reader->scan == SCAN_CLOSE_CR;
}

static uint64_t reader_scan_literal_size(const struct imap_reader *reader)
{
	if (reader->scan_digits > LITERAL_MAX_DIGITS)
		return UINT64_MAX;
	return reader->scan_number;
}

static void reader_start_line(struct imap_reader *reader)
{
	reader->line_len = 0;
	reader->mid_line = false;
	reader_scan_reset(reader);
}

/* Forget the command, keeping the mode (skipping goes on). */
static void reader_clear_command(struct imap_reader *reader)
{
	strbuf_free(&reader->cmd);
	strbuf_free(&reader->tag);
	reader->status = IMAP_READER_NEED_MORE;
	reader->first_line = true;
	reader->tag_state = TAG_COLLECTING;
	reader->literal_count = 0;
	reader->literal_pending = false;
	reader->literal_size = 0;
	reader->literal_nonsync = false;
}

struct imap_reader *imap_reader_create(const struct imap_reader_limits *limits)
{
	struct imap_reader *reader = xcalloc(1, sizeof(*reader));

	reader->limits = limits != NULL ? *limits : reader_default_limits;
	reader->max_nonsync = UINT64_MAX;
	reader->mode = READER_MODE_LINE;
	reader_start_line(reader);
	reader_clear_command(reader);
	return reader;
}

void imap_reader_destroy(struct imap_reader **reader)
{
	if (*reader == NULL)
		return;
	strbuf_free(&(*reader)->cmd);
	strbuf_free(&(*reader)->tag);
	free(*reader);
	*reader = NULL;
}

static void reader_tag_byte(struct imap_reader *reader, unsigned char c)
{
	if (c == ' ' || c == '\r') {
		reader->tag_state = reader->tag.len > 0 ? TAG_DONE : TAG_INVALID;
	} else if (imap_char_is_tag(c)) {
		strbuf_appendc(&reader->tag, (char)c);
	} else {
		reader->tag_state = TAG_INVALID;
	}
}

/* A line ended (its LF is in reader->cmd unless in line mode). */
static enum imap_reader_status reader_line_end(struct imap_reader *reader)
{
	if (reader->line_mode) {
		/* The line without its CRLF is the whole "command". */
		reader->cmd.len--;
		if (reader->cmd.len > 0 && reader->cmd.s[reader->cmd.len - 1] == '\r')
			reader->cmd.len--;
		reader->cmd.s[reader->cmd.len] = '\0';
		reader_start_line(reader);
		return IMAP_READER_COMMAND;
	}

	if (reader->first_line && reader->tag_state == TAG_COLLECTING)
		reader->tag_state = reader->tag.len > 0 ? TAG_DONE : TAG_INVALID;

	bool found = reader_scan_found_literal(reader);
	uint64_t size = reader_scan_literal_size(reader);
	bool nonsync = reader->scan_nonsync;

	reader_start_line(reader);
	if (!found)
		return IMAP_READER_COMMAND;

	reader->literal_count++;
	reader->literal_size = size;
	reader->literal_nonsync = nonsync;
	if (size > reader->limits.max_literal ||
	    (nonsync && size > reader->max_nonsync)) {
		reader->literal_pending = true;
		return IMAP_READER_LITERAL_TOO_BIG;
	}
	/* The literal, and at least an LF after it, must fit. */
	if (reader->literal_count > reader->limits.max_literals ||
	    size >= reader->limits.max_command ||
	    reader->cmd.len + 1 > reader->limits.max_command - size) {
		reader->literal_pending = true;
		return IMAP_READER_COMMAND_TOO_BIG;
	}

	reader->mode = READER_MODE_LITERAL;
	reader->literal_left = size;
	reader->first_line = false;
	if (!nonsync) {
		reader->literal_pending = true;
		return IMAP_READER_LITERAL_WAIT;
	}
	return IMAP_READER_NEED_MORE;
}

/* An empty line before any command: some clients send a stray CRLF (e.g.
 * after an APPEND literal); it is not a command, so it is dropped. */
static bool reader_line_is_blank(const struct imap_reader *reader)
{
	return reader->first_line &&
		(reader->cmd.len == 1 ||
		 (reader->cmd.len == 2 && reader->cmd.s[0] == '\r'));
}

/* READER_MODE_LINE: consumes bytes up to and including LF, or until a limit
 * is broken (that byte is not consumed). */
static enum imap_reader_status
reader_feed_line(struct imap_reader *reader, const unsigned char *data,
		 size_t len, size_t *pos)
{
	size_t i = *pos;
	size_t start = i;
	enum imap_reader_status status = IMAP_READER_NEED_MORE;

	while (i < len) {
		unsigned char c = data[i];

		if (c == '\n') {
			i++;
			strbuf_append(&reader->cmd, data + start, i - start);
			start = i;
			if (!reader->line_mode && reader_line_is_blank(reader)) {
				strbuf_reset(&reader->cmd);
				strbuf_reset(&reader->tag);
				reader->tag_state = TAG_COLLECTING;
				reader_start_line(reader);
				continue;
			}
			status = reader_line_end(reader);
			break;
		}
		/* Each line keeps room for its LF: a line of max_line bytes
		 * with its CRLF (or LF) is fine, one more is not. */
		if (reader->line_len + 2 > reader->limits.max_line ||
		    reader->cmd.len + (i - start) + 2 > reader->limits.max_command) {
			status = reader->line_len + 2 > reader->limits.max_line ?
				IMAP_READER_LINE_TOO_LONG :
				IMAP_READER_COMMAND_TOO_BIG;
			/* No literal is involved in this error. */
			reader->literal_size = 0;
			reader->literal_nonsync = false;
			reader->mid_line = true;
			break;
		}
		reader->line_len++;
		reader->mid_line = true;
		if (!reader->line_mode) {
			if (reader->first_line &&
			    reader->tag_state == TAG_COLLECTING)
				reader_tag_byte(reader, c);
			reader_scan_byte(reader, c);
		}
		i++;
	}
	if (i > start)
		strbuf_append(&reader->cmd, data + start, i - start);
	*pos = i;
	return status;
}

/* READER_MODE_SKIP_LINE: discards up to LF; a non-synchronising literal
 * announced at its end is skipped as well.  A synchronising one is not:
 * the client waits for a "+" that will not come, and the next byte it
 * sends begins a new command. */
static void reader_skip_line(struct imap_reader *reader,
			     const unsigned char *data, size_t len, size_t *pos)
{
	size_t i = *pos;

	if (reader->skip_line_mode) {
		const unsigned char *lf = memchr(data + i, '\n', len - i);
		if (lf == NULL) {
			*pos = len;
			return;
		}
		*pos = (size_t)(lf - data) + 1;
		reader->mode = READER_MODE_LINE;
		reader_start_line(reader);
		return;
	}

	while (i < len) {
		unsigned char c = data[i++];
		if (c != '\n') {
			reader_scan_byte(reader, c);
			continue;
		}
		bool nonsync = reader_scan_found_literal(reader) &&
			reader->scan_nonsync;
		uint64_t size = reader_scan_literal_size(reader);
		reader_start_line(reader);
		if (nonsync) {
			reader->mode = READER_MODE_SKIP_LITERAL;
			reader->literal_left = size;
		} else {
			reader->mode = READER_MODE_LINE;
		}
		break;
	}
	*pos = i;
}

enum imap_reader_status imap_reader_feed(struct imap_reader *reader,
					 const char *data, size_t len,
					 size_t *consumed_r)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t pos = 0;

	*consumed_r = 0;
	switch (reader->status) {
	case IMAP_READER_NEED_MORE:
		break;
	case IMAP_READER_COMMAND:
		/* The previous command is done with: start the next. */
		imap_reader_reset(reader);
		break;
	case IMAP_READER_LITERAL_WAIT:
		/* The caller sent "+": the literal may come now. */
		reader->status = IMAP_READER_NEED_MORE;
		reader->literal_pending = false;
		break;
	case IMAP_READER_LINE_TOO_LONG:
	case IMAP_READER_LITERAL_TOO_BIG:
	case IMAP_READER_COMMAND_TOO_BIG:
		/* Sticky until imap_reader_reset(). */
		return reader->status;
	}

	enum imap_reader_status status = IMAP_READER_NEED_MORE;
	while (pos < len && status == IMAP_READER_NEED_MORE) {
		size_t n;

		switch (reader->mode) {
		case READER_MODE_LINE:
			status = reader_feed_line(reader, p, len, &pos);
			break;
		case READER_MODE_LITERAL:
			n = len - pos;
			if (n > reader->literal_left)
				n = (size_t)reader->literal_left;
			strbuf_append(&reader->cmd, p + pos, n);
			pos += n;
			reader->literal_left -= n;
			if (reader->literal_left == 0) {
				/* The line goes on after the literal. */
				reader->mode = READER_MODE_LINE;
				reader_start_line(reader);
				reader->mid_line = true;
			}
			break;
		case READER_MODE_SKIP_LINE:
			reader_skip_line(reader, p, len, &pos);
			break;
		case READER_MODE_SKIP_LITERAL:
			n = len - pos;
			if (n > reader->literal_left)
				n = (size_t)reader->literal_left;
			pos += n;
			reader->literal_left -= n;
			if (reader->literal_left == 0) {
				reader->mode = READER_MODE_SKIP_LINE;
				reader->skip_line_mode = false;
				reader_scan_reset(reader);
			}
			break;
		}
	}
	/* A zero-length literal is complete as soon as it is allowed. */
	if (status == IMAP_READER_NEED_MORE && reader->mode == READER_MODE_LITERAL &&
	    reader->literal_left == 0) {
		reader->mode = READER_MODE_LINE;
		reader_start_line(reader);
		reader->mid_line = true;
	}

	reader->status = status;
	*consumed_r = pos;
	return status;
}

const char *imap_reader_command(const struct imap_reader *reader, size_t *len_r)
{
	*len_r = reader->cmd.len;
	return strbuf_str(&reader->cmd);
}

const char *imap_reader_line(const struct imap_reader *reader, size_t *len_r)
{
	return imap_reader_command(reader, len_r);
}

uint64_t imap_reader_literal_size(const struct imap_reader *reader,
				  bool *nonsync_r)
{
	if (nonsync_r != NULL)
		*nonsync_r = reader->literal_nonsync;
	return reader->literal_size;
}

const char *imap_reader_tag(const struct imap_reader *reader)
{
	if (reader->tag_state != TAG_DONE)
		return "";
	return strbuf_str(&reader->tag);
}

void imap_reader_reset(struct imap_reader *reader)
{
	if (reader->status == IMAP_READER_COMMAND) {
		/* Complete: nothing of it is left to come. */
	} else if (reader->literal_pending) {
		/* Announced but not allowed yet: a synchronising literal will
		 * not be sent (the client waits for "+"); a non-synchronising
		 * one is on its way and must be skipped, or its bytes would be
		 * taken for commands. */
		if (reader->literal_nonsync) {
			reader->mode = READER_MODE_SKIP_LITERAL;
			reader->literal_left = reader->literal_size;
		} else {
			reader->mode = READER_MODE_LINE;
		}
	} else if (reader->mode == READER_MODE_LITERAL) {
		reader->mode = READER_MODE_SKIP_LITERAL;
	} else if (reader->mode == READER_MODE_LINE && reader->mid_line) {
		/* The rest of this line belongs to the forgotten command.  The
		 * recogniser keeps its state, so a literal announced at the
		 * end of the line is still noticed. */
		reader->mode = READER_MODE_SKIP_LINE;
		reader->skip_line_mode = reader->line_mode;
	}
	/* SKIP_* modes simply go on. */

	if (reader->mode == READER_MODE_LINE)
		reader_start_line(reader);
	reader_clear_command(reader);
}

void imap_reader_skip_literal(struct imap_reader *reader, uint64_t size)
{
	reader_clear_command(reader);
	reader->mode = READER_MODE_SKIP_LITERAL;
	reader->literal_left = size;
	reader_scan_reset(reader);
	reader->mid_line = false;
	reader->line_len = 0;
	if (size == 0) {
		reader->mode = READER_MODE_SKIP_LINE;
		reader->skip_line_mode = false;
	}
}

bool imap_reader_busy(const struct imap_reader *reader)
{
	if (reader->status == IMAP_READER_COMMAND)
		return false;
	return reader->cmd.len > 0 || reader->mode != READER_MODE_LINE ||
		reader->mid_line || reader->literal_pending;
}

void imap_reader_set_nonsync_limit(struct imap_reader *reader, uint64_t max)
{
	reader->max_nonsync = max;
}

void imap_reader_set_line_mode(struct imap_reader *reader, bool line_mode)
{
	reader->line_mode = line_mode;
}
