/* names.h: the rules for nicknames and how they compare.
 *
 * A nick is 1 to UVC_NICK_MAX bytes of ASCII letters, digits and - _ [ ] \ ` ^ { } |, and
 * does not start with a digit or '-' (the RFC 2812 set, so IRC clients accept every nick).
 * Nicks compare ignoring ASCII case: "Alice" and "alice" are the same person.
 */
#ifndef UVCHAT_NAMES_H
#define UVCHAT_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define UVC_NICK_MAX 32

/* 1 when s[0..len) is a valid nick. */
int uvc_nick_valid(const char* s, size_t len);

/* A human-readable reason why s[0..len) is not a valid nick, or NULL when it is. */
const char* uvc_nick_problem(const char* s, size_t len);

/* Room names: '#' and 1 to 31 more printable ASCII characters other than space, comma and
 * colon; compared ignoring case like nicks. */
#define UVC_ROOM_NAME_MAX 32

/* A human-readable reason why s[0..len) is not a valid room name, or NULL when it is. */
const char* uvc_room_problem(const char* s, size_t len);

/* ASCII case-insensitive equality of two byte strings. */
int uvc_name_eq(const char* a, size_t alen, const char* b, size_t blen);

/* Case-insensitive hash (FNV-1a over lower-cased bytes). */
uint32_t uvc_name_hash(const char* s, size_t len);

/* 1 when s[0..slen) matches the wildcard mask[0..mlen), ignoring ASCII case: '*' stands for
 * any run of characters (none too), '?' for exactly one. No escapes. Linear in practice
 * (one backtrack point), never exponential. */
int uvc_mask_match(const char* mask, size_t mlen, const char* s, size_t slen);
/* 1 when mask[0..mlen) holds a wildcard ('*' or '?'). */
int uvc_mask_has_wildcard(const char* mask, size_t mlen);

static inline char uvc_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

#endif
