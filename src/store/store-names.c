/* Mailbox and user names: what the store accepts and their canonical form. */
#include "store/store-private.h"

#include <string.h>
#include <strings.h>

/* RFC 3629 §4 UTF-8, refusing overlong forms, surrogates and code points
 * above U+10FFFF, and also control characters: C0, DEL and C1 (U+0080 to
 * U+009F) have no business in a name that is shown to people. */
bool store_utf8_is_valid_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		uint32_t cp;
		size_t n;
		if (c >= 0xc2 && c <= 0xdf) {
			cp = c & 0x1f;
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			cp = c & 0x0f;
			n = 2;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cp = c & 0x07;
			n = 3;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			unsigned char cc = p[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (cc & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += n + 1;
	}
	return true;
}

bool store_name_is_inbox(const char *name)
{
	return strcmp(name, "INBOX") == 0;
}

bool store_name_is_below(const char *name, const char *parent)
{
	size_t plen = strlen(parent);
	return strncmp(name, parent, plen) == 0 && name[plen] == '/';
}

int store_name_normalize(const char *name, char *out, struct store_error *err)
{
	if (name == NULL || *name == '\0') {
		store_error_set(err, STORE_ERR_CANNOT, "Mailbox name is empty");
		return -1;
	}
	size_t len = strnlen(name, STORE_MAILBOX_NAME_MAX + 1);
	if (len > STORE_MAILBOX_NAME_MAX) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox name is too long");
		return -1;
	}
	if (!store_utf8_is_valid_text(name, len)) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox name is not valid UTF-8 text");
		return -1;
	}
	/* '*' and '%' are LIST wildcards (RFC 3501 §6.3.8): a mailbox so
	 * named could not be listed unambiguously. */
	if (strpbrk(name, "*%") != NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox name may not contain * or %%");
		return -1;
	}
	/* '/' is the hierarchy delimiter: no empty level anywhere. */
	if (name[0] == '/' || name[len - 1] == '/' ||
	    strstr(name, "//") != NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox name has an empty hierarchy level");
		return -1;
	}
	unsigned int depth = 1;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/')
			depth++;
	}
	if (depth > STORE_MAILBOX_DEPTH_MAX) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox hierarchy is too deep");
		return -1;
	}
	memcpy(out, name, len + 1);
	/* RFC 3501 §5.1: INBOX is case-insensitive; as the first level of a
	 * hierarchy it names the same INBOX. */
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

int store_user_name_check(const char *name, struct store_error *err)
{
	if (name == NULL || *name == '\0') {
		store_error_set(err, STORE_ERR_CANNOT, "User name is empty");
		return -1;
	}
	size_t len = strnlen(name, STORE_USER_NAME_MAX + 1);
	if (len > STORE_USER_NAME_MAX) {
		store_error_set(err, STORE_ERR_CANNOT, "User name is too long");
		return -1;
	}
	if (!store_utf8_is_valid_text(name, len)) {
		store_error_set(err, STORE_ERR_CANNOT,
				"User name is not valid UTF-8 text");
		return -1;
	}
	return 0;
}

/* RFC 6154 §2, plus \Important from RFC 8457. */
static const char *const special_use_names[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
	"\\Trash", "\\Important",
};

int store_special_use_normalize(const char *in, char out[32],
				struct store_error *err)
{
	out[0] = '\0';
	if (in == NULL || *in == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(special_use_names) /
				   sizeof(special_use_names[0]); i++) {
		if (strcasecmp(in, special_use_names[i]) == 0) {
			strcpy(out, special_use_names[i]);
			return 0;
		}
	}
	store_error_set(err, STORE_ERR_CANNOT,
			"Unknown special-use attribute");
	return -1;
}
