/* telnet.c: strips telnet negotiation from the input of a text connection, in place. */
#include "uvchat/telnet.h"

enum {
  TN_DATA = 0, /* plain bytes */
  TN_IAC,      /* after IAC */
  TN_OPT,      /* after IAC WILL/WONT/DO/DONT: one option byte follows */
  TN_SB,       /* inside IAC SB ... */
  TN_SB_IAC    /* IAC inside a subnegotiation */
};

enum { IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240 };

size_t uvc_telnet_filter(uint8_t* state, char* buf, size_t len) {
  uint8_t st = *state;
  size_t i, o = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    switch (st) {
      case TN_DATA:
        if (c == IAC)
          st = TN_IAC;
        else
          buf[o++] = (char)c;
        break;
      case TN_IAC:
        if (c == IAC) {
          buf[o++] = (char)c; /* IAC IAC: a literal 0xFF */
          st = TN_DATA;
        } else if (c >= WILL && c <= DONT) {
          st = TN_OPT;
        } else if (c == SB) {
          st = TN_SB;
        } else {
          st = TN_DATA; /* a two-byte command: NOP, IP, AYT, GA, ... */
        }
        break;
      case TN_OPT:
        st = TN_DATA;
        break;
      case TN_SB:
        if (c == IAC) st = TN_SB_IAC;
        break;
      case TN_SB_IAC:
        st = (c == SE) ? TN_DATA : TN_SB;
        break;
      default:
        st = TN_DATA;
        break;
    }
  }
  *state = st;
  return o;
}
