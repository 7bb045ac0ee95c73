/* words.h: splitting a line into words, for the commands of every adapter (the text
 * adapter's /commands, the IRC adapter's NickServ). Pure functions: no core, no libuv.
 */
#ifndef UVCHAT_WORDS_H
#define UVCHAT_WORDS_H

#include <stddef.h>

/* Part of a line (not NUL-terminated). */
typedef struct uvc_slice {
  const char* p;
  size_t n;
} uvc_slice_t;

/* Splits s[0..len) into at most max space-separated words. With rest set, the max-th word
 * takes the rest of the line (leading blanks removed). Returns the number of words, or
 * max + 1 when there are more words than max and rest is not set. */
int uvc_split_words(const char* s, size_t len, int max, int rest, uvc_slice_t* out);

/* Splits s[0..len) into at most max arguments, each a word without spaces (taken as it is)
 * or a double-quoted string ("correct horse battery staple") in which \" and \\ stand for "
 * and \ (any other backslash is itself). Quoted strings are unquoted in place, so s must be
 * writable; the slices point into it. Returns the number of arguments, or -1 for more than
 * max, a quote never closed, or a closing quote followed by anything but a blank. */
int uvc_split_quoted(char* s, size_t len, int max, uvc_slice_t* out);

#endif
