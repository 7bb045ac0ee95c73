/* clean.h: makes text from one client safe to show on another person's terminal.
 *
 * The output is valid UTF-8: each maximal invalid subsequence becomes U+FFFD. Removed: the
 * C0 controls except TAB (so ESC, BEL, BS, CR, NUL...), DEL, the C1 controls (U+0080 to
 * U+009F), the escape sequences that ESC or CSI/OSC start (the whole sequence, not just the
 * ESC), and the bidirectional override and isolate marks that reorder what others see.
 * With UVC_CLEAN_KEEP_IRC_FORMAT the IRC formatting codes (bold ^B, colour ^C, italics ^],
 * underline ^_, strike ^^, monospace ^Q, reverse ^V, reset ^O) are kept; without it they
 * are removed with their arguments (^C04,01 and ^DFF0000 leave no digits behind).
 */
#ifndef UVCHAT_CLEAN_H
#define UVCHAT_CLEAN_H

#include <stddef.h>

enum { UVC_CLEAN_KEEP_IRC_FORMAT = 1 };

/* Worst-case output size for `len` input bytes (every byte may become a 3-byte U+FFFD). */
#define UVC_CLEAN_MAX(len) ((len)*3)

/* Cleans in[0..len) into out (room for UVC_CLEAN_MAX(len) bytes); returns bytes written. */
size_t uvc_clean_text(const char* in, size_t len, char* out, unsigned flags);

/* 1 when s[0..len) is empty or only spaces and tabs. */
int uvc_text_is_blank(const char* s, size_t len);

/* Overwrites p[0..n) with zeros in a way the compiler cannot leave out (input that may hold
 * a password, once it has been handled). */
void uvc_wipe(void* p, size_t n);

/* 1 when s[0..len) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
int uvc_utf8_valid(const char* s, size_t len);

/* The longest prefix of s[0..len) (valid UTF-8) that fits in max bytes without cutting a
 * character in two. */
size_t uvc_utf8_cut(const char* s, size_t len, size_t max);

#endif
