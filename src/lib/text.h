/* Small text helpers shared by the parsers: UTF-8 validation and base64
 * digits. */
#ifndef TIDINGS_TEXT_H
#define TIDINGS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF.  NUL bytes are valid UTF-8; callers that refuse them check. */
bool utf8_valid(const char *s, size_t len);

/* The value of a base64 digit (RFC 4648 §4), or -1.  c63 is the character
 * for 63: '/' in base64, ',' in IMAP's modified base64 (RFC 3501 §5.1.3). */
int base64_digit(unsigned char c, char c63);

#endif
