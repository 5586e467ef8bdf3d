/* Parsing a framed IMAP command into tag, name and an argument tree
 * (RFC 3501 §9, with RFC 7888 "{n+}" and RFC 3516 "~{n}").
 *
 * The parse is iterative: lists are kept on an explicit stack, so nesting
 * costs heap bounded by max_depth, never C stack.  Every byte is looked at
 * a bounded number of times (a '[' looks ahead for its ']' once per line
 * stretch, see parser_atom()). */
#include "imap/imap-parser.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

bool imap_char_is_atom(unsigned char c)
{
	/* ATOM-CHAR = <any CHAR except atom-specials>; CHAR is 0x01-0x7f,
	 * CTL is 0x00-0x1f and 0x7f. */
	if (c <= 0x1f || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case ' ':
	case '%': case '*':           /* list-wildcards */
	case '"': case '\\':          /* quoted-specials */
	case ']':                     /* resp-specials */
		return false;
	default:
		return true;
	}
}

bool imap_char_is_astring(unsigned char c)
{
	return c == ']' || imap_char_is_atom(c);
}

bool imap_char_is_tag(unsigned char c)
{
	return c != '+' && imap_char_is_astring(c);
}

/* ---- the parser ---- */

struct parser_frame {
	struct imap_arg *items;
	size_t count;
	size_t cap;
	size_t parent_index;  /* this list's arg in the frame below */
};

struct parser {
	const unsigned char *p;
	const unsigned char *end;
	unsigned int max_depth;
	unsigned int max_args;
	unsigned int arg_total;
	/* A '[' before this point has no ']' on its line: it is plain. */
	const unsigned char *no_section_before;
	struct parser_frame *frames;   /* frames[0] is the top level */
	size_t depth;                  /* index of the innermost frame */
	size_t frames_cap;
	const char *error;
};

static void imap_arg_free_contents(struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < arg->count; i++)
			imap_arg_free_contents(&arg->list[i]);
		free(arg->list);
	}
	free(arg->str);
}

static void parser_frames_free(struct parser *parser)
{
	if (parser->frames == NULL)
		return;
	for (size_t d = 0; d <= parser->depth; d++) {
		struct parser_frame *frame = &parser->frames[d];
		for (size_t i = 0; i < frame->count; i++)
			imap_arg_free_contents(&frame->items[i]);
		free(frame->items);
	}
	free(parser->frames);
	parser->frames = NULL;
}

/* True at CRLF, a bare LF, or the end of the data (a missing CRLF, or a
 * CR that ends the data, is accepted: the reader always supplies one). */
static bool parser_at_eol(const struct parser *parser)
{
	const unsigned char *p = parser->p;

	if (p == parser->end || *p == '\n')
		return true;
	return *p == '\r' && (p + 1 == parser->end || p[1] == '\n');
}

static int parser_finish_eol(struct parser *parser)
{
	if (parser->p < parser->end && *parser->p == '\r')
		parser->p++;
	if (parser->p < parser->end && *parser->p == '\n')
		parser->p++;
	if (parser->p != parser->end) {
		parser->error = "Unexpected data after end of command";
		return -1;
	}
	return 0;
}

/* Appends a zeroed argument to the innermost list. */
static struct imap_arg *parser_new_arg(struct parser *parser)
{
	if (parser->arg_total >= parser->max_args) {
		parser->error = "Too many arguments";
		return NULL;
	}
	parser->arg_total++;

	struct parser_frame *frame = &parser->frames[parser->depth];
	if (frame->count == frame->cap) {
		frame->cap = frame->cap == 0 ? 4 : frame->cap * 2;
		frame->items = xrealloc(frame->items,
					frame->cap * sizeof(*frame->items));
	}
	struct imap_arg *arg = &frame->items[frame->count++];
	memset(arg, 0, sizeof(*arg));
	return arg;
}

static int parser_list_open(struct parser *parser)
{
	if (parser->depth >= parser->max_depth) {
		parser->error = "Too deep nesting";
		return -1;
	}
	struct imap_arg *arg = parser_new_arg(parser);
	if (arg == NULL)
		return -1;
	arg->type = IMAP_ARG_LIST;

	size_t parent_index = parser->frames[parser->depth].count - 1;
	if (parser->depth + 1 == parser->frames_cap) {
		parser->frames_cap *= 2;
		parser->frames = xrealloc(parser->frames, parser->frames_cap *
					  sizeof(*parser->frames));
	}
	parser->depth++;
	struct parser_frame *frame = &parser->frames[parser->depth];
	memset(frame, 0, sizeof(*frame));
	frame->parent_index = parent_index;
	parser->p++;
	return 0;
}

static int parser_list_close(struct parser *parser)
{
	if (parser->depth == 0) {
		parser->error = "Unbalanced parentheses";
		return -1;
	}
	struct parser_frame *frame = &parser->frames[parser->depth];
	parser->depth--;
	struct imap_arg *arg =
		&parser->frames[parser->depth].items[frame->parent_index];
	arg->list = frame->items;
	arg->count = frame->count;
	parser->p++;
	return 0;
}

static int parser_quoted(struct parser *parser)
{
	const unsigned char *start = parser->p + 1;
	const unsigned char *q = start;
	size_t len = 0;

	/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR is a TEXT-CHAR
	 * (no CR, LF) other than '"' and '\', or '\' followed by one of them.
	 * 8-bit bytes pass (RFC 6855 UTF8=ACCEPT allows UTF-8 here). */
	for (;;) {
		if (q == parser->end || *q == '\r' || *q == '\n') {
			parser->error = "Missing closing quote";
			return -1;
		}
		if (*q == '"')
			break;
		if (*q == '\0') {
			parser->error = "NUL in quoted string";
			return -1;
		}
		if (*q == '\\') {
			if (q + 1 == parser->end ||
			    (q[1] != '"' && q[1] != '\\')) {
				parser->error = "Invalid escape in quoted string";
				return -1;
			}
			q++;
		}
		q++;
		len++;
	}

	struct imap_arg *arg = parser_new_arg(parser);
	if (arg == NULL)
		return -1;
	arg->type = IMAP_ARG_QUOTED;
	arg->str = xmalloc(len + 1);
	arg->len = len;
	char *out = arg->str;
	for (const unsigned char *s = start; s < q; s++) {
		if (*s == '\\')
			s++;
		*out++ = (char)*s;
	}
	*out = '\0';
	parser->p = q + 1;
	return 0;
}

static int parser_literal(struct parser *parser)
{
	const unsigned char *p = parser->p;
	bool literal8 = false;
	uint64_t size = 0;
	unsigned int digits = 0;

	if (*p == '~') {
		literal8 = true;
		p++;
	}
	p++;  /* '{' */
	while (p < parser->end && *p >= '0' && *p <= '9') {
		uint64_t digit = (uint64_t)(*p - '0');
		if (size > (UINT64_MAX - digit) / 10) {
			parser->error = "Literal size too large";
			return -1;
		}
		size = size * 10 + digit;
		digits++;
		p++;
	}
	if (digits == 0) {
		parser->error = "Invalid literal size";
		return -1;
	}
	if (p < parser->end && *p == '+')
		p++;
	if (p == parser->end || *p != '}') {
		parser->error = "Invalid literal size";
		return -1;
	}
	p++;
	/* literal = "{" number ["+"] "}" CRLF *CHAR8 */
	if (p < parser->end && *p == '\r')
		p++;
	if (p == parser->end || *p != '\n') {
		parser->error = "Missing CRLF after literal size";
		return -1;
	}
	p++;
	if (size > (uint64_t)(parser->end - p)) {
		parser->error = "Literal too short";
		return -1;
	}
	/* CHAR8 is %x01-ff: only literal8 may carry NUL (RFC 3516). */
	if (!literal8 && memchr(p, '\0', (size_t)size) != NULL) {
		parser->error = "NUL in literal (use literal8)";
		return -1;
	}

	struct imap_arg *arg = parser_new_arg(parser);
	if (arg == NULL)
		return -1;
	arg->type = IMAP_ARG_LITERAL;
	arg->literal8 = literal8;
	arg->str = xmemdupz(p, (size_t)size);
	arg->len = (size_t)size;
	parser->p = p + size;
	return 0;
}

/* Looks for the ']' closing a section that starts at p (just after '['):
 * up to the end of the line, skipping quoted strings.  NULL when there is
 * none; *stop_r is then where the search gave up. */
static const unsigned char *
parser_find_section_end(const unsigned char *p, const unsigned char *end,
			const unsigned char **stop_r)
{
	bool quoted = false;

	for (; p < end; p++) {
		unsigned char c = *p;
		if (c < 0x20 || c >= 0x7f)
			break;
		if (quoted) {
			if (c == '\\') {
				if (p + 1 == end || (p[1] != '"' && p[1] != '\\'))
					break;
				p++;
			} else if (c == '"') {
				quoted = false;
			}
		} else if (c == '"') {
			quoted = true;
		} else if (c == ']') {
			return p;
		}
	}
	*stop_r = p;
	return NULL;
}

/* The fetch attributes whose section may hold spaces, parens and quoted
 * strings (RFC 3501 section-spec, RFC 3516 section-binary). */
static bool parser_is_section_name(const unsigned char *s, size_t len)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == len &&
		    strncasecmp((const char *)s, names[i], len) == 0)
			return true;
	}
	return false;
}

static int parser_atom(struct parser *parser)
{
	const unsigned char *start = parser->p;
	const unsigned char *p = start;

	while (p < parser->end) {
		unsigned char c = *p;

		if (c == '[' && p >= parser->no_section_before &&
		    parser_is_section_name(start, (size_t)(p - start))) {
			/* BODY[HEADER.FIELDS (A B)]<0.100>: the section is
			 * part of the atom.  Only after those names: "a[b c]"
			 * is two astrings.  Without a ']' on this line the
			 * '[' is an ordinary ATOM-CHAR, and so is every other
			 * '[' up to where the search stopped: never search
			 * the same stretch twice. */
			const unsigned char *stop;
			const unsigned char *close =
				parser_find_section_end(p + 1, parser->end,
							&stop);
			if (close != NULL) {
				p = close + 1;
				continue;
			}
			parser->no_section_before = stop;
			p++;
			continue;
		}
		if (imap_char_is_astring(c) || c == '%' || c == '*' ||
		    (c == '\\' && p == start)) {
			p++;
			continue;
		}
		break;
	}
	if (p == start) {
		parser->error = "Invalid characters in atom";
		return -1;
	}

	struct imap_arg *arg = parser_new_arg(parser);
	if (arg == NULL)
		return -1;
	size_t len = (size_t)(p - start);
	arg->str = xmemdupz(start, len);
	arg->len = len;
	arg->type = len == 3 && strcasecmp(arg->str, "NIL") == 0 ?
		IMAP_ARG_NIL : IMAP_ARG_ATOM;
	parser->p = p;
	return 0;
}

/* Parses the arguments after the command name; parser->p is at the
 * command name's end. */
static int parser_args(struct parser *parser)
{
	enum imap_arg_type last_type = IMAP_ARG_ATOM;

	if (parser_at_eol(parser))
		return parser_finish_eol(parser);
	if (*parser->p != ' ') {
		parser->error = "Invalid characters in command name";
		return -1;
	}
	parser->p++;

	for (;;) {
		/* At the start of an argument, after a space or '('. */
		bool after_space = parser->p[-1] == ' ';
		int ret;

		if (parser_at_eol(parser)) {
			parser->error = after_space ?
				"Unexpected space at end of line" :
				"Unbalanced parentheses";
			return -1;
		}
		switch (*parser->p) {
		case ' ':
			parser->error = "Unexpected space";
			return -1;
		case ')':
			/* "()" is handled with '(': here a space came first. */
			parser->error = parser->depth == 0 ?
				"Unbalanced parentheses" :
				"Unexpected space before ')'";
			return -1;
		case '(':
			if (parser_list_open(parser) < 0)
				return -1;
			if (parser->p < parser->end && *parser->p == ')') {
				/* "()" */
				if (parser_list_close(parser) < 0)
					return -1;
				last_type = IMAP_ARG_LIST;
				goto after_arg;
			}
			continue;
		case '"':
			ret = parser_quoted(parser);
			last_type = IMAP_ARG_QUOTED;
			break;
		case '{':
			ret = parser_literal(parser);
			last_type = IMAP_ARG_LITERAL;
			break;
		case '~':
			if (parser->p + 1 < parser->end && parser->p[1] == '{') {
				ret = parser_literal(parser);
				last_type = IMAP_ARG_LITERAL;
				break;
			}
			/* fall through - '~' is an ATOM-CHAR */
		default:
			ret = parser_atom(parser);
			last_type = IMAP_ARG_ATOM;
			break;
		}
		if (ret < 0)
			return -1;

after_arg:
		/* After an argument: SP, ')' or the end of the line. */
		for (;;) {
			if (parser_at_eol(parser)) {
				if (parser->depth > 0) {
					parser->error = "Unbalanced parentheses";
					return -1;
				}
				return parser_finish_eol(parser);
			}
			if (*parser->p != ')')
				break;
			if (parser_list_close(parser) < 0)
				return -1;
			last_type = IMAP_ARG_LIST;
		}
		if (*parser->p != ' ') {
			parser->error = last_type == IMAP_ARG_ATOM ?
				"Invalid characters in atom" :
				"Missing space after argument";
			return -1;
		}
		parser->p++;
	}
}

static void ascii_upper(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
	}
}

static int parser_command(struct parser *parser,
			  struct imap_parsed_command *cmd)
{
	const unsigned char *start = parser->p;

	/* tag = 1*<any ASTRING-CHAR except "+"> */
	while (parser->p < parser->end && imap_char_is_tag(*parser->p))
		parser->p++;
	if (!parser_at_eol(parser) && *parser->p != ' ') {
		parser->error = "Invalid characters in tag";
		return -1;
	}
	if (parser->p == start) {
		parser->error = "Missing tag";
		return -1;
	}
	cmd->tag = xmemdupz(start, (size_t)(parser->p - start));

	if (parser_at_eol(parser)) {
		parser->error = "Missing command";
		return -1;
	}
	parser->p++;
	if (parser_at_eol(parser)) {
		parser->error = "Missing command";
		return -1;
	}
	if (*parser->p == ' ') {
		parser->error = "Unexpected space";
		return -1;
	}

	start = parser->p;
	while (parser->p < parser->end && imap_char_is_atom(*parser->p))
		parser->p++;
	if (parser->p == start ||
	    (!parser_at_eol(parser) && *parser->p != ' ')) {
		parser->error = "Invalid characters in command name";
		return -1;
	}
	cmd->name = xmemdupz(start, (size_t)(parser->p - start));
	ascii_upper(cmd->name);

	return parser_args(parser);
}

int imap_parse_command(const char *data, size_t len,
		       const struct imap_parser_limits *limits,
		       struct imap_parsed_command *cmd, const char **error_r)
{
	struct parser parser;

	memset(cmd, 0, sizeof(*cmd));
	memset(&parser, 0, sizeof(parser));
	if (data == NULL)
		data = "";
	parser.p = (const unsigned char *)data;
	parser.end = parser.p + len;
	parser.no_section_before = parser.p;
	if (limits != NULL) {
		parser.max_depth = limits->max_depth;
		parser.max_args = limits->max_args;
	} else {
		parser.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
		parser.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
	}
	if (parser.max_depth > IMAP_PARSER_MAX_DEPTH)
		parser.max_depth = IMAP_PARSER_MAX_DEPTH;
	parser.frames_cap = 4;
	parser.frames = xcalloc(parser.frames_cap, sizeof(*parser.frames));

	if (parser_command(&parser, cmd) < 0) {
		parser_frames_free(&parser);
		*error_r = parser.error;
		return -1;
	}

	cmd->args = parser.frames[0].items;
	cmd->arg_count = parser.frames[0].count;
	free(parser.frames);

	/* "UID FETCH": the subcommand is matched like a command name. */
	if (strcmp(cmd->name, "UID") == 0 && cmd->arg_count > 0 &&
	    cmd->args[0].type == IMAP_ARG_ATOM)
		ascii_upper(cmd->args[0].str);
	*error_r = NULL;
	return 0;
}

void imap_parsed_command_free(struct imap_parsed_command *cmd)
{
	for (size_t i = 0; i < cmd->arg_count; i++)
		imap_arg_free_contents(&cmd->args[i]);
	free(cmd->args);
	free(cmd->tag);
	free(cmd->name);
	memset(cmd, 0, sizeof(*cmd));
}

/* ---- argument helpers ---- */

static bool arg_is_atom_like(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL;
}

static bool str_all(const char *s, size_t len, bool wildcards)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (imap_char_is_astring(c))
			continue;
		if (wildcards && (c == '%' || c == '*'))
			continue;
		return false;
	}
	return len > 0;
}

bool imap_arg_astring(const struct imap_arg *arg, const char **str_r,
		      size_t *len_r)
{
	if (arg_is_atom_like(arg)) {
		if (!str_all(arg->str, arg->len, false))
			return false;
	} else if (arg->type != IMAP_ARG_QUOTED &&
		   arg->type != IMAP_ARG_LITERAL) {
		return false;
	}
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_list_mailbox(const struct imap_arg *arg, const char **str_r,
			   size_t *len_r)
{
	if (arg_is_atom_like(arg)) {
		if (!str_all(arg->str, arg->len, true))
			return false;
	} else if (arg->type != IMAP_ARG_QUOTED &&
		   arg->type != IMAP_ARG_LITERAL) {
		return false;
	}
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_string(const struct imap_arg *arg, const char **str_r,
		     size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

bool imap_arg_nstring(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	return imap_arg_string(arg, str_r, NULL);
}

bool imap_arg_atom(const struct imap_arg *arg, const char **str_r)
{
	if (!arg_is_atom_like(arg))
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_is_atom(const struct imap_arg *arg, const char *name)
{
	return arg_is_atom_like(arg) && strcasecmp(arg->str, name) == 0;
}

static bool arg_parse_number(const struct imap_arg *arg, uint64_t max,
			     uint64_t *n_r)
{
	uint64_t n = 0;

	if (arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return false;
	for (size_t i = 0; i < arg->len; i++) {
		char c = arg->str[i];
		if (c < '0' || c > '9')
			return false;
		uint64_t digit = (uint64_t)(c - '0');
		if (n > (max - digit) / 10)
			return false;
		n = n * 10 + digit;
	}
	*n_r = n;
	return true;
}

bool imap_arg_number(const struct imap_arg *arg, uint32_t *n_r)
{
	uint64_t n;

	if (!arg_parse_number(arg, UINT32_MAX, &n))
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool imap_arg_number64(const struct imap_arg *arg, uint64_t *n_r)
{
	/* RFC 9051 number64: 0 <= n <= 9,223,372,036,854,775,807 */
	return arg_parse_number(arg, (uint64_t)INT64_MAX, n_r);
}

/* ---- writing strings ---- */

static bool str_is_quotable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

void imap_write_string(struct strbuf *out, const char *s, size_t len)
{
	if (s == NULL) {
		strbuf_appends(out, "NIL");
		return;
	}
	if (!str_is_quotable(s, len)) {
		strbuf_printf(out, "{%zu}\r\n", len);
		strbuf_append(out, s, len);
		return;
	}
	strbuf_grow(out, len + 2);
	strbuf_appendc(out, '"');
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		strbuf_append(out, s + start, i - start);
		strbuf_appendc(out, '\\');
		start = i;
	}
	strbuf_append(out, s + start, len - start);
	strbuf_appendc(out, '"');
}

void imap_write_nstring(struct strbuf *out, const char *s)
{
	imap_write_string(out, s, s == NULL ? 0 : strlen(s));
}

void imap_write_astring(struct strbuf *out, const char *s)
{
	if (s == NULL)
		s = "";
	size_t len = strlen(s);
	if (str_all(s, len, false) && strcasecmp(s, "NIL") != 0)
		strbuf_append(out, s, len);
	else
		imap_write_string(out, s, len);
}
