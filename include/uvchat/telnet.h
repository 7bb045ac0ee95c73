/* telnet.h: removes telnet negotiation (IAC sequences) from a byte stream, in place.
 *
 * A telnet client sends option negotiation (IAC WILL/WONT/DO/DONT opt), subnegotiation
 * (IAC SB ... IAC SE) and commands (IAC IP, IAC AYT ...) mixed into the text. The filter
 * keeps a byte of state per connection, so a sequence split across reads is still removed.
 * IAC IAC stands for a literal 0xFF byte and is kept as one byte.
 */
#ifndef UVCHAT_TELNET_H
#define UVCHAT_TELNET_H

#include <stddef.h>
#include <stdint.h>

/* Filters buf[0..len) in place and returns the new length. *state starts at 0. */
size_t uvc_telnet_filter(uint8_t* state, char* buf, size_t len);

#endif
