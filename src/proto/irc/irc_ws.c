/* irc_ws.c: IRC over WebSocket (the IRCv3 WebSocket specification): the IRC adapter with
 * each line in a frame of its own, text frames (text.ircv3.net) or binary frames
 * (binary.ircv3.net).
 *
 * A WebSocket IRC session is an IRC session in every way (commands, capabilities, render
 * variants, labeled-response); only the bytes differ, and only at the very end. Each
 * subprotocol is a wire format of its own (formats 2 and 3), so a session's render slot,
 * format + UVC_FORMATS * variant, keys the render cache by (subprotocol, variant): an event
 * is rendered as IRC once per variant in use and framed once per subprotocol and variant,
 * and every WebSocket recipient with that slot takes a reference to the same frames. The
 * variants themselves (which capabilities each stands for) are the IRC adapter's, shared by
 * all three formats, so a WebSocket client and a TCP client with the same capabilities get
 * the same IRC bytes. The cache stays 64 slots: 4 formats by 16 variants.
 *
 * What goes to one client alone (replies, echo-message, a labeled command's answer) is made
 * as IRC lines by the IRC code and framed on its way by wrap (called in uvc_core_send).
 * A labeled command's capture collects IRC lines, never frames: during a capture the
 * variant is UVC_VARIANT_OWN, whose rendering irc_render_variant captures and answers NULL,
 * so nothing is framed until the collected answer is sent.
 *
 * Before the upgrade (still HTTP) the session has no IRC state (on_open comes with the
 * upgrade) and the entry points that would speak say nothing.
 */
#include "irc_int.h"

#include "uvchat/wsframe.h"

int uvc_irc_adapter_is(const uvc_adapter_t* a) {
  return a == &uvc_irc_adapter || a == &uvc_irc_ws_text_adapter || a == &uvc_irc_ws_binary_adapter;
}

/* The frames of opcode for m's lines; m is consumed (NULL stays NULL: nothing to show). */
static uvc_msg_t* framed(unsigned opcode, uvc_msg_t* m) {
  uvc_msg_t* f;
  if (m == NULL) return NULL;
  f = uvc_ws_frame_lines(opcode, m);
  uvc_msg_release(m);
  return f;
}

static uvc_msg_t* ws_text_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx) {
  return framed(UVC_WS_TEXT, irc_render(ev, ctx));
}

static uvc_msg_t* ws_binary_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx) {
  return framed(UVC_WS_BINARY, irc_render(ev, ctx));
}

static uvc_msg_t* ws_text_render_variant(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                                         const uvc_session_t* s, unsigned v) {
  return framed(UVC_WS_TEXT, irc_render_variant(ev, ctx, s, v));
}

static uvc_msg_t* ws_binary_render_variant(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                                           const uvc_session_t* s, unsigned v) {
  return framed(UVC_WS_BINARY, irc_render_variant(ev, ctx, s, v));
}

static uvc_msg_t* ws_text_wrap(const uvc_msg_t* m) {
  return uvc_ws_frame_lines(UVC_WS_TEXT, m);
}

static uvc_msg_t* ws_binary_wrap(const uvc_msg_t* m) {
  return uvc_ws_frame_lines(UVC_WS_BINARY, m);
}

/* The entry points that speak, silent while the connection is still HTTP. */

static void ws_on_toolong(uvc_core_t* core, uvc_session_t* s) {
  if (s->proto != NULL) irc_on_toolong(core, s);
}

static void ws_on_idle(uvc_core_t* core, uvc_session_t* s) {
  if (s->proto != NULL) irc_on_idle(core, s);
}

static void ws_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text) {
  if (s->proto != NULL) irc_on_farewell(core, s, why, text);
}

static void ws_on_slowed(uvc_core_t* core, uvc_session_t* s, unsigned per_second) {
  if (s->proto != NULL) irc_on_slowed(core, s, per_second);
}

const uvc_adapter_t uvc_irc_ws_text_adapter = {
    "irc",          /* name: an IRC user to everyone else */
    2,              /* format */
    0,              /* telnet */
    0,              /* single_room */
    UVC_LINE_FLOOR, /* max_line */
    ws_text_render,
    irc_on_open,
    irc_on_line,
    ws_on_toolong,
    ws_on_idle,
    ws_on_farewell,
    irc_on_free,
    irc_on_auth,
    ws_on_slowed,
    irc_on_watch,
    irc_realname,
    ws_text_render_variant,
    ws_text_wrap,
    irc_on_history,
    0, /* remote */
};

const uvc_adapter_t uvc_irc_ws_binary_adapter = {
    "irc",          /* name */
    3,              /* format */
    0,              /* telnet */
    0,              /* single_room */
    UVC_LINE_FLOOR, /* max_line */
    ws_binary_render,
    irc_on_open,
    irc_on_line,
    ws_on_toolong,
    ws_on_idle,
    ws_on_farewell,
    irc_on_free,
    irc_on_auth,
    ws_on_slowed,
    irc_on_watch,
    irc_realname,
    ws_binary_render_variant,
    ws_binary_wrap,
    irc_on_history,
    0, /* remote */
};
