/* names.c: nickname rules and case-insensitive comparison. */
#include "uvchat/names.h"
#include <string.h>

static int is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(char c) {
  return c >= '0' && c <= '9';
}
static int is_special(char c) {
  switch (c) {
    case '[':
    case ']':
    case '\\':
    case '`':
    case '_':
    case '^':
    case '{':
    case '|':
    case '}':
      return 1;
    default:
      return 0;
  }
}

const char* uvc_nick_problem(const char* s, size_t len) {
  size_t i;
  if (len == 0) return "a nick cannot be empty";
  if (len > UVC_NICK_MAX) return "a nick is at most 32 characters long";
  if (is_digit(s[0]) || s[0] == '-') return "a nick cannot start with a digit or '-'";
  for (i = 0; i < len; i++) {
    char c = s[i];
    if ((unsigned char)c >= 0x80)
      return "a nick may only contain ASCII letters (A to Z, without accents), digits and "
             "- _ [ ] \\ ` ^ { } |";
    if (!is_letter(c) && !is_digit(c) && !is_special(c) && c != '-')
      return "a nick may only contain ASCII letters, digits and - _ [ ] \\ ` ^ { } |";
  }
  return 0;
}

const char* uvc_room_problem(const char* s, size_t len) {
  size_t i;
  if (len == 0 || s[0] != '#') return "a room name starts with '#'";
  if (len < 2) return "a room name needs at least one character after '#'";
  if (len > UVC_ROOM_NAME_MAX) return "a room name is at most 32 characters long";
  for (i = 1; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c >= 0x7F || c == ',' || c == ':')
      return "a room name may not contain spaces, commas, colons or non-ASCII characters";
  }
  return 0;
}

int uvc_nick_valid(const char* s, size_t len) {
  return uvc_nick_problem(s, len) == 0;
}

int uvc_name_eq(const char* a, size_t alen, const char* b, size_t blen) {
  size_t i;
  if (alen != blen) return 0;
  for (i = 0; i < alen; i++)
    if (uvc_ascii_lower(a[i]) != uvc_ascii_lower(b[i])) return 0;
  return 1;
}

uint32_t uvc_name_hash(const char* s, size_t len) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < len; i++) {
    h ^= (unsigned char)uvc_ascii_lower(s[i]);
    h *= 16777619u;
  }
  return h;
}

int uvc_mask_match(const char* mask, size_t mlen, const char* s, size_t slen) {
  size_t m = 0, i = 0, star_m = (size_t)-1, star_i = 0;
  while (i < slen) {
    if (m < mlen && mask[m] == '*') {
      star_m = m++; /* try matching nothing first; come back to take one more */
      star_i = i;
    } else if (m < mlen && (mask[m] == '?' || uvc_ascii_lower(mask[m]) == uvc_ascii_lower(s[i]))) {
      m++;
      i++;
    } else if (star_m != (size_t)-1) {
      m = star_m + 1;
      i = ++star_i;
    } else {
      return 0;
    }
  }
  while (m < mlen && mask[m] == '*')
    m++;
  return m == mlen;
}

int uvc_mask_has_wildcard(const char* mask, size_t mlen) {
  return memchr(mask, '*', mlen) != NULL || memchr(mask, '?', mlen) != NULL;
}
