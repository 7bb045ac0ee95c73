/* irc.h: the IRC wire format, so that irssi, WeeChat and HexChat users meet text users.
 *
 * Input: RFC 1459/2812 lines ("[@tags] [:prefix] COMMAND params... [:trailing]"); IRCv3
 * tags are kept for the commands that use them (label, client-only tags), the prefix a
 * client sends is ignored. The untagged part of a line may
 * be 512 bytes (CRLF included), the tags 8191 more; longer lines get 417 ERR_INPUTTOOLONG.
 * Output: CRLF-terminated lines of at most 512 bytes, numerics laid out as in the Modern
 * IRC documents. Every user's prefix is nick!user@SERVER: hosts are never shown.
 */
#ifndef UVCHAT_IRC_H
#define UVCHAT_IRC_H

#include <stddef.h>

#include "uvchat/core.h"

extern const uvc_adapter_t uvc_irc_adapter;
/* IRC over WebSocket, one line per frame: text frames (text.ircv3.net) or binary frames
 * (binary.ircv3.net). The same IRC sessions, rendered once per subprotocol. */
extern const uvc_adapter_t uvc_irc_ws_text_adapter;
extern const uvc_adapter_t uvc_irc_ws_binary_adapter;
/* Whether a is one of the IRC adapters (over TCP or over WebSocket): its sessions are IRC
 * sessions, whatever carries their lines. Test this, never a == &uvc_irc_adapter. */
int uvc_irc_adapter_is(const uvc_adapter_t* a);

#define UVC_IRC_LINE       512  /* the longest line, CRLF included, tags excluded */
#define UVC_IRC_TAGS_MAX   8191 /* the longest tag section, '@' and the space included */
#define UVC_IRC_MAX_PARAMS 15

/* Part of an input line (not NUL-terminated). */
typedef struct uvc_irc_str {
  const char* p;
  size_t n;
} uvc_irc_str_t;

/* A parsed line. Every piece points into the line. */
typedef struct uvc_irc_msg {
  uvc_irc_str_t tags;   /* the IRCv3 tag section without its '@'; empty when there was none */
  uvc_irc_str_t prefix; /* without the ':'; empty when there was none */
  uvc_irc_str_t cmd;
  int n; /* parameters, the trailing one included */
  uvc_irc_str_t params[UVC_IRC_MAX_PARAMS];
} uvc_irc_msg_t;

typedef enum {
  UVC_IRC_OK = 0,
  UVC_IRC_EMPTY,  /* nothing to do: blank, or tags or a prefix without a command */
  UVC_IRC_TOOLONG /* a part of the line is over its limit: answer 417 */
} uvc_irc_parse_t;

/* Parses line[0..len) (without its line ending) into m. After 14 ordinary parameters the
 * rest of the line is the 15th, as RFC 2812 says. */
uvc_irc_parse_t uvc_irc_parse(const char* line, size_t len, uvc_irc_msg_t* m);

/* 1 when the command name equals name (ASCII letters, any case). */
int uvc_irc_is(const uvc_irc_str_t* cmd, const char* name);

#endif
