/* text.h: the plain-text wire format that nc, telnet, socat and PuTTY users speak.
 *
 * Input: one line per message; a line starting with '/' is a command, "//" sends a line
 * that starts with '/'. Output: CRLF-terminated lines; chat lines are "<nick> text", actions
 * "* nick text", private messages "[private] <nick> text", server notices start with "*** "
 * and errors with "! ". The server writes every prefix, so nobody can forge another's line.
 */
#ifndef UVCHAT_TEXT_H
#define UVCHAT_TEXT_H

#include <stddef.h>

#include "uvchat/core.h"
#include "uvchat/words.h"

extern const uvc_adapter_t uvc_text_adapter;

#endif
