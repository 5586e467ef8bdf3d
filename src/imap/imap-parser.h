/* The IMAP command grammar, in two stages, knowing nothing of the store:
 *
 * 1. imap_reader: frames one complete command out of a byte stream: a line,
 *    and when it ends in a literal ({n}, or {n+} of RFC 7888 LITERAL+ and
 *    LITERAL-, which share that syntax; ~{n} for literal8) the
 *    literal's bytes and the line that follows, until a line without a
 *    literal.  It is resumable: feed any number of bytes (one at a time is
 *    fine), it says how many it consumed and whether a command is complete,
 *    whether the client waits for a "+" continuation (synchronising literal),
 *    or which limit was broken.
 *
 * 2. imap_parse_command: turns a framed command into tag, command name and
 *    a tree of arguments (atoms, quoted strings, literals, lists).
 *
 * Limits are hard: line length, literal size, nesting depth, argument
 * count.  Nothing here allocates without a bound. */
#ifndef TIDINGS_IMAP_PARSER_H
#define TIDINGS_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

struct imap_reader_limits {
	size_t max_line;        /* one line without its literals, incl. CRLF */
	uint64_t max_literal;   /* one literal */
	size_t max_command;     /* the whole command, lines and literals */
	unsigned int max_literals; /* literals in one command */
};

enum imap_reader_status {
	IMAP_READER_NEED_MORE,      /* consumed everything, no command yet */
	IMAP_READER_COMMAND,        /* a command is complete: imap_reader_command() */
	IMAP_READER_LITERAL_WAIT,   /* a synchronising literal was announced:
				     * send "+ ..." (or reject), then feed again */
	IMAP_READER_LINE_TOO_LONG,  /* reader must be reset; reply BAD / BYE */
	IMAP_READER_LITERAL_TOO_BIG,/* a literal over max_literal was announced;
				     * *_r tells whether it was non-synchronising */
	IMAP_READER_COMMAND_TOO_BIG,
};

/* Used when imap_reader_create() is given NULL limits. */
#define IMAP_READER_DEFAULT_MAX_LINE (64 * 1024)
#define IMAP_READER_DEFAULT_MAX_LITERAL (64ULL * 1024 * 1024)
#define IMAP_READER_DEFAULT_MAX_COMMAND (65 * 1024 * 1024)
#define IMAP_READER_DEFAULT_MAX_LITERALS 1000

struct imap_reader;

/* limits may be NULL for the defaults above.
 *
 * Framing details: a line ends at LF (CRLF or a bare LF).  A literal
 * announcement "{n}", "{n+}", "~{n}" or "~{n+}" counts only at the very end
 * of a line, outside a quoted string, and right after a space or '(' (where
 * an argument may begin).  Empty lines between commands are dropped.
 * Errors are reported as soon as a limit is broken: LINE_TOO_LONG and
 * COMMAND_TOO_BIG on the first byte too many (that byte is not consumed),
 * or on a literal announcement (literal count or size); LITERAL_TOO_BIG
 * right after the announcing line.  Errors stick (feed returns them again,
 * consuming nothing) until imap_reader_reset(). */
struct imap_reader *imap_reader_create(const struct imap_reader_limits *limits);
void imap_reader_destroy(struct imap_reader **reader);

/* Consumes bytes from data and returns the status.  *consumed_r receives the
 * number of bytes used; the caller keeps the rest and feeds it again after
 * acting on the status.  After IMAP_READER_COMMAND the command stays
 * available until the next imap_reader_reset() (feeding again without a
 * reset also starts the next command, invalidating the old one). */
enum imap_reader_status imap_reader_feed(struct imap_reader *reader,
					 const char *data, size_t len,
					 size_t *consumed_r);
/* The complete command's bytes exactly as sent (lines with CRLF, literal
 * bytes inline).  Valid after IMAP_READER_COMMAND. */
const char *imap_reader_command(const struct imap_reader *reader, size_t *len_r);
/* After LITERAL_WAIT / LITERAL_TOO_BIG: the announced literal's size and
 * whether it was non-synchronising ({n+}). */
uint64_t imap_reader_literal_size(const struct imap_reader *reader,
				  bool *nonsync_r);
/* The tag of the command being read, as far as it is known ("" if not):
 * used to answer a tagged BAD after a limit error. */
const char *imap_reader_tag(const struct imap_reader *reader);
/* Forget the current command and start afresh.  Whatever the client will
 * still send of the forgotten command is discarded by the following feeds
 * without being framed: the rest of a line that was cut short (after
 * LINE_TOO_LONG / COMMAND_TOO_BIG mid-line; up to its LF), the rest of a
 * literal being read, and a non-synchronising literal that was announced
 * but refused (LITERAL_TOO_BIG / COMMAND_TOO_BIG), followed by the rest of
 * its command (further lines and their non-synchronising literals).  A
 * refused synchronising literal is not awaited: the client sends it only
 * after "+".  So after any status, reset and feed on. */
void imap_reader_reset(struct imap_reader *reader);
/* After LITERAL_TOO_BIG for a non-synchronising literal, skip `size` bytes
 * of literal and the rest of the command line(s) before the next command.
 * (imap_reader_reset() does the same by itself; this also forgets the
 * command.) */
void imap_reader_skip_literal(struct imap_reader *reader, uint64_t size);
/* True when the reader holds a partly-read command. */
bool imap_reader_busy(const struct imap_reader *reader);
/* LITERAL- (RFC 7888 §5): a non-synchronising literal over max (4096
 * there) gives LITERAL_TOO_BIG too.  Default: no limit beyond
 * max_literal. */
void imap_reader_set_nonsync_limit(struct imap_reader *reader, uint64_t max);

/* Single-line mode (AUTHENTICATE continuations, IDLE's DONE): the next line
 * is returned whole (without CRLF) by imap_reader_line(), with no literal
 * processing.  Feed returns IMAP_READER_COMMAND for it (or LINE_TOO_LONG);
 * in this mode imap_reader_command() is the same line without CRLF, and the
 * line is NUL-terminated.  Empty lines are returned too. */
void imap_reader_set_line_mode(struct imap_reader *reader, bool line_mode);
const char *imap_reader_line(const struct imap_reader *reader, size_t *len_r);

/* ---- stage 2: arguments ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* includes \Flags, sequence sets, BODY[...]<...> */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,  /* also literal8 ~{n} (RFC 3516) with ->literal8 */
	IMAP_ARG_LIST,
	IMAP_ARG_NIL,      /* the atom NIL, unquoted */
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;          /* ATOM/QUOTED/LITERAL: NUL-terminated value
			     * (quoted: unescaped) */
	size_t len;         /* bytes in str (literals may contain NUL) */
	bool literal8;
	struct imap_arg *list;  /* LIST: children */
	size_t count;
};

struct imap_parsed_command {
	char *tag;
	char *name;             /* uppercased; for "UID FETCH" name is "UID"
				 * and the first argument is "FETCH" */
	struct imap_arg *args;  /* arguments after the command name */
	size_t arg_count;
};

struct imap_parser_limits {
	unsigned int max_depth;  /* list nesting */
	unsigned int max_args;   /* total arguments in the command */
};

#define IMAP_PARSER_DEFAULT_MAX_DEPTH 32
#define IMAP_PARSER_DEFAULT_MAX_ARGS 100000
#define IMAP_PARSER_MAX_DEPTH 1000

/* Parses a framed command.  Returns 0, or -1 with a short human-readable
 * reason in *error_r (a static string).  On -1, cmd->tag is still filled
 * when a valid tag was seen (so the caller can answer "tag BAD ..."), else
 * it is NULL; cmd->name likewise when a command name was seen; args are
 * NULL.  Call imap_parsed_command_free() after either outcome.  limits may
 * be NULL (IMAP_PARSER_DEFAULT_*); max_depth is capped at
 * IMAP_PARSER_MAX_DEPTH.
 *
 * Grammar notes: strict single spaces between arguments and no space
 * before CRLF or inside "( " / " )".  Atoms are ATOM-CHARs plus ']', '%',
 * '*', a leading '\' (\Seen, \*).  After BODY, BODY.PEEK, BINARY,
 * BINARY.PEEK or BINARY.SIZE (any case), a '[' that has a matching ']' on
 * the same line (outside quoted strings) takes everything up to it
 * (spaces, parens, quoted strings) into the atom: BODY[HEADER.FIELDS (A
 * B)]<0.100> is one atom.  Elsewhere '[' is a plain ATOM-CHAR ("a[b c]" is
 * two atoms).  The atom NIL (any case) is IMAP_ARG_NIL (str is
 * still set).  Quoted strings allow only \" and \\ escapes and no CR, LF or
 * NUL (8-bit bytes are kept, for UTF8=ACCEPT).  A plain literal may not
 * contain NUL (CHAR8); literal8 may.  A missing final CRLF is accepted.
 * For UID the subcommand (args[0]) is uppercased like the name. */
int imap_parse_command(const char *data, size_t len,
		       const struct imap_parser_limits *limits,
		       struct imap_parsed_command *cmd, const char **error_r);
void imap_parsed_command_free(struct imap_parsed_command *cmd);

/* Argument helpers for command handlers.  Each returns false when the
 * argument is not of the wanted kind. */
/* astring = atom (ASTRING-CHARs, which allows ']') / quoted / literal.
 * NIL counts as the atom "NIL" here (a mailbox may be called NIL); atoms
 * with other characters ('%', '*', '\', a [section]) are refused. */
bool imap_arg_astring(const struct imap_arg *arg, const char **str_r,
		      size_t *len_r);
/* list-mailbox (RFC 3501 LIST/LSUB pattern): like astring, but the atom
 * may also contain the wildcards '%' and '*'. */
bool imap_arg_list_mailbox(const struct imap_arg *arg, const char **str_r,
			   size_t *len_r);
/* string = quoted / literal */
bool imap_arg_string(const struct imap_arg *arg, const char **str_r,
		     size_t *len_r);
/* nstring = string / NIL (NIL gives *str_r = NULL) */
bool imap_arg_nstring(const struct imap_arg *arg, const char **str_r);
/* any atom, NIL included */
bool imap_arg_atom(const struct imap_arg *arg, const char **str_r);
bool imap_arg_is_atom(const struct imap_arg *arg, const char *name); /* case-insensitive */
/* number (RFC 3501): an atom of digits (leading zeros allowed), <= 2^32-1 */
bool imap_arg_number(const struct imap_arg *arg, uint32_t *n_r);
/* number64 (RFC 9051): the same, <= 2^63-1 */
bool imap_arg_number64(const struct imap_arg *arg, uint64_t *n_r);

/* Character classes of RFC 3501 §9. */
bool imap_char_is_atom(unsigned char c);     /* ATOM-CHAR */
bool imap_char_is_astring(unsigned char c);  /* ASTRING-CHAR: ATOM-CHAR or ']' */
bool imap_char_is_tag(unsigned char c);      /* ASTRING-CHAR except '+' */

/* Writes s as an IMAP string: a quoted string when s has only printable
 * US-ASCII (0x20-0x7e; '"' and '\' escaped), else a literal "{n}\r\n...".
 * NULL writes NIL. */
void imap_write_string(struct strbuf *out, const char *s, size_t len);
void imap_write_nstring(struct strbuf *out, const char *s);
/* Same for astring contexts (mailbox names): bare atom when s is a
 * non-empty run of ASTRING-CHARs other than NIL.  NULL is written as "". */
void imap_write_astring(struct strbuf *out, const char *s);

/* ---- sequence sets (RFC 3501 §9 sequence-set) ---- */

struct seqset_range {
	uint32_t lo;   /* lo <= hi after parsing; '*' is SEQSET_STAR */
	uint32_t hi;
};

#define SEQSET_STAR UINT32_MAX

struct seqset {
	struct seqset_range *ranges;
	size_t count;
	bool resolved;   /* sorted and merged by seqset_resolve() */
};

/* Parses "1:3,5,7:*".  0 on success; -1 on bad syntax (zero, leading
 * zeros, overflow, empty elements).  Ranges are kept as given (lo/hi
 * swapped when needed), with '*' as SEQSET_STAR.  Input size is bounded by
 * the caller's line.  Note: the number 4294967295 is indistinguishable from
 * '*' (both SEQSET_STAR). */
int seqset_parse(const char *s, struct seqset *set_r);
void seqset_free(struct seqset *set);
/* Replace SEQSET_STAR by star (the largest number in use), then sort and
 * merge ranges.  With star 0 (empty mailbox) a range "n:*" becomes 1:n and
 * a lone "*" disappears: no range ever includes 0. */
void seqset_resolve(struct seqset *set, uint32_t star);
/* O(log n) once resolved; a linear scan before (SEQSET_STAR counting as
 * the largest number). */
bool seqset_contains(const struct seqset *set, uint32_t n);
/* Write a sorted list of numbers as a compact set "1:3,5". */
void seqset_write_numbers(struct strbuf *out, const uint32_t *nums,
			  size_t count);
/* Parse a compact set into a sorted, deduplicated array (no '*' allowed),
 * at most max numbers.  0 / -1. */
int seqset_to_numbers(const char *s, uint32_t **nums_r, size_t *count_r,
		      size_t max);

/* ---- modified UTF-7 mailbox names (RFC 3501 §5.1.3) ---- */

/* 0 on success, -1 when the input is not valid modified UTF-7: bytes
 * outside 0x20-0x7e, '&' without '-', bad or superfluous base64 bits,
 * encoded printable US-ASCII or U+0000, unpaired surrogates, a shift
 * directly after another ("&...-&...-").  On -1, out is left as it was. */
int mutf7_to_utf8(const char *in, struct strbuf *out);
/* -1 when the input is not valid UTF-8 (overlongs, surrogates, > U+10FFFF
 * refused); out is then left as it was. */
int utf8_to_mutf7(const char *in, struct strbuf *out);

#endif
