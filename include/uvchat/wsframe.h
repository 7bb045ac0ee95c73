/* wsframe.h: server-to-client WebSocket frames (RFC 6455), rendered once and shared.
 *
 * A server's frames are not masked, so the same bytes can go to every WebSocket recipient:
 * the IRC-over-WebSocket adapters frame each rendered event once (one IRC line per frame, as
 * the IRCv3 WebSocket specification says) and the render cache shares the result like any
 * other message. Plain C, no libuv.
 */
#ifndef UVCHAT_WSFRAME_H
#define UVCHAT_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "uvchat/msg.h"

#define UVC_WS_TEXT   0x1
#define UVC_WS_BINARY 0x2

/* A new message holding one unmasked, final frame of opcode for each line of m (lines end
 * with LF; the CR before it and the LF are left out; an unfinished last line is a frame too;
 * empty lines are skipped), or NULL when out of memory or m is NULL. */
uvc_msg_t* uvc_ws_frame_lines(unsigned opcode, const uvc_msg_t* m);

/* Writes the header of an unmasked final frame of opcode carrying len bytes into out (room
 * for 10 bytes); returns its size. */
size_t uvc_ws_frame_header(unsigned opcode, uint64_t len, unsigned char* out);

#endif
