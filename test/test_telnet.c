/* test_telnet.c: the telnet filter: what it removes from a telnet user's input, and what the
 * server answers. */
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "uvchat/telnet.h"

#define IAC    "\xFF"
#define DONT   "\xFE"
#define DO     "\xFD"
#define WONT   "\xFC"
#define WILL   "\xFB"
#define SB     "\xFA"
#define SE     "\xF0"
#define IP     "\xF4"
#define BRK    "\xF3"
#define AYT    "\xF6"
#define EC     "\xF7"
#define EL     "\xF8"
#define TM     "\x06"
#define BINARY "\x00"

#define ASK_BINARY IAC DO BINARY /* what a client is asked once it shows it speaks telnet */
#define HINT       "*** Ctrl-C does nothing here: type /quit to leave\r\n"
#define AYT_REPLY  "[uvchat: yes, you are connected]\r\n"

/* One read of a telnet user: the text left, and the server's answer. */
typedef struct feed {
  char text[4096];
  size_t len;
  uvc_telnet_out_t out;
} feed_t;

static feed_t* feed(uvc_telnet_t** t, const char* bytes, size_t n) {
  static feed_t f;
  assert_true(n <= sizeof(f.text));
  memcpy(f.text, bytes, n);
  f.len = uvc_telnet_filter(t, f.text, n, &f.out);
  assert_true(f.len <= n);
  assert_true(f.out.len <= sizeof(f.out.reply));
  return &f;
}

#define FEED(t, lit) feed((t), (lit), sizeof(lit) - 1)
#define TEXT_IS(f, lit)                                     \
  do {                                                      \
    assert_int_equal((f)->len, sizeof(lit) - 1);            \
    assert_memory_equal((f)->text, (lit), sizeof(lit) - 1); \
  } while (0)
#define REPLY_IS(f, lit)                                                              \
  do {                                                                                \
    assert_int_equal((f)->out.len, sizeof(lit) - 1);                                  \
    if (sizeof(lit) > 1) assert_memory_equal((f)->out.reply, (lit), sizeof(lit) - 1); \
  } while (0)

static void plain_text_costs_nothing(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "hello \xC3\xA9\r\n");
  TEXT_IS(f, "hello \xC3\xA9\r\n");
  REPLY_IS(f, "");
  assert_null(t); /* no state until the client sends 0xFF */
  assert_false(uvc_telnet_pending(t));
}

static void negotiation_is_removed_and_refused(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  /* IAC DO ECHO, IAC WILL NAWS, IAC SB NAWS 0 80 0 10 IAC SE (a height of 10 is an LF byte) */
  f = FEED(&t, IAC DO "\x01hi" IAC WILL "\x1F" IAC SB "\x1F\x00\x50\x00\x0A" IAC SE "there");
  TEXT_IS(f, "hithere");
  REPLY_IS(f, ASK_BINARY IAC WONT "\x01" IAC DONT "\x1F");
  assert_int_equal(f->out.events, 0);
  assert_false(uvc_telnet_pending(t));
  uvc_telnet_free(t);
}

static void sequence_split_across_reads(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "x" IAC);
  TEXT_IS(f, "x");
  REPLY_IS(f, "");
  assert_true(uvc_telnet_pending(t));
  f = FEED(&t, DO);
  TEXT_IS(f, "");
  REPLY_IS(f, ASK_BINARY);
  f = FEED(&t, "\x18y" IAC IAC "z");
  TEXT_IS(f, "y\xFFz"); /* y, a literal 0xFF, z */
  REPLY_IS(f, IAC WONT "\x18");
  assert_false(uvc_telnet_pending(t));
  uvc_telnet_free(t);
}

static void iac_iac_is_a_literal_byte(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "a" IAC IAC "b" IAC IAC);
  TEXT_IS(f,
          "a\xFF"
          "b\xFF");
  REPLY_IS(f, ""); /* data, not a telnet command: nothing is asked */
  assert_int_equal(t->held, 0);
  uvc_telnet_free(t);
}

/* inetutils telnet on Ctrl-C: IAC IP IAC DO TIMING-MARK, then it discards all output until
 * the answer. */
static void ctrl_c_gets_timing_mark_and_one_hint(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, IAC IP IAC DO TM);
  TEXT_IS(f, "");
  REPLY_IS(f, ASK_BINARY IAC WILL TM HINT); /* the hint after the mark: it is seen */
  assert_int_equal(f->out.events, UVC_TELNET_INTERRUPT);
  f = FEED(&t, IAC IP IAC DO TM);
  REPLY_IS(f, IAC WILL TM); /* every mark is answered; the hint is not repeated */
  assert_int_equal(f->out.events, UVC_TELNET_INTERRUPT);
  f = FEED(&t, IAC BRK IAC DO TM IAC DO TM);
  REPLY_IS(f, IAC WILL TM IAC WILL TM);
  f = FEED(&t, IAC DONT TM IAC WONT TM);
  REPLY_IS(f, ""); /* confirms what we have: no answer */
  f = FEED(&t, IAC WILL TM IAC WILL TM);
  REPLY_IS(f, IAC DONT TM); /* its own marks are refused, once */
  uvc_telnet_free(t);
}

static void hint_waits_for_a_split_timing_mark(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, IAC IP IAC DO);
  REPLY_IS(f, ASK_BINARY); /* not yet: the client would throw it away */
  f = FEED(&t, TM);
  REPLY_IS(f, IAC WILL TM HINT);
  uvc_telnet_free(t);
}

static void each_option_is_refused_once(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, IAC DO "\x18" IAC DO "\x18");
  REPLY_IS(f, ASK_BINARY IAC WONT "\x18");
  f = FEED(&t, IAC DO "\x18");
  REPLY_IS(f, ""); /* the same DO again: one answer was enough */
  f = FEED(&t, IAC DONT "\x18" IAC DO "\x18");
  REPLY_IS(f, ""); /* no loop with a client that acknowledges a refusal and asks again */
  f = FEED(&t, IAC WILL "\x18" IAC WILL "\x18" IAC WONT "\x18");
  REPLY_IS(f, IAC DONT "\x18"); /* the other direction is its own */
  f = FEED(&t, IAC WONT "\x22" IAC DONT "\x22" IAC WONT "\xFF");
  REPLY_IS(f, ""); /* off already: nothing to say */
  f = FEED(&t, IAC DO "\xFF" IAC WILL "\xFF" IAC DO "\x03" IAC WILL "\x01");
  REPLY_IS(f, IAC WONT "\xFF" IAC DONT "\xFF" IAC WONT "\x03" IAC DONT "\x01");
  uvc_telnet_free(t);
}

static void binary_input_is_asked_once_and_accepted(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, IAC IP IAC DO TM);
  REPLY_IS(f, ASK_BINARY IAC WILL TM HINT);
  f = FEED(&t, IAC WILL BINARY);
  REPLY_IS(f, ""); /* the answer to our question */
  /* From now on its 8-bit bytes are its own: an IP is an IP, even inside a character. */
  f = FEED(&t, "\xE2" IAC IP "x");
  TEXT_IS(f, "\xE2x");
  assert_int_equal(f->out.events, UVC_TELNET_INTERRUPT);
  f = FEED(&t, IAC WILL BINARY);
  REPLY_IS(f, "");
  f = FEED(&t, IAC WONT BINARY);
  REPLY_IS(f, IAC DONT BINARY); /* it turned it off: acknowledged */
  f = FEED(&t, IAC WONT BINARY);
  REPLY_IS(f, "");
  f = FEED(&t, IAC WILL BINARY);
  REPLY_IS(f, IAC DO BINARY); /* it offers again: welcome */
  f = FEED(&t, IAC DO BINARY IAC DO BINARY);
  REPLY_IS(f, IAC WONT BINARY); /* our output stays plain text */
  uvc_telnet_free(t);
}

static void binary_refused_is_not_asked_again(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, IAC WILL BINARY); /* offered before we asked: one DO, not two */
  REPLY_IS(f, ASK_BINARY);
  uvc_telnet_free(t);
  t = NULL;
  f = FEED(&t, IAC AYT);
  f = FEED(&t, IAC WONT BINARY IAC IP);
  REPLY_IS(f, HINT);
  f = FEED(&t, IAC DO TM);
  REPLY_IS(f, IAC WILL TM);
  uvc_telnet_free(t);
}

/* inetutils telnet, before BINARY, sends IAC BRK IAC DO TM for the 0x9C inside ✓ (E2 9C 93)
 * and 本 (E6 9C AC): the byte is put back. */
static void mangled_utf8_is_repaired(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "\xE2" IAC BRK IAC DO TM "\x93 \xE6" IAC BRK IAC DO TM "\xAC \xC3\xA9\r\n");
  TEXT_IS(f, "\xE2\x9C\x93 \xE6\x9C\xAC \xC3\xA9\r\n");
  REPLY_IS(f, ASK_BINARY IAC WILL TM IAC WILL TM); /* no hint: nobody pressed Ctrl-C */
  assert_int_equal(f->out.events, 0);
  /* 0x83 (IP), 0x9A (SUSP), 0x8F (AO), in a 4-byte character too */
  f = FEED(&t, "\xF0\x9F" IAC IP IAC DO TM "\x98\xE2" IAC "\xED" IAC DO TM "\x80\xE2" IAC
               "\xF5" IAC DO TM "\x80");
  TEXT_IS(f, "\xF0\x9F\x83\x98\xE2\x9A\x80\xE2\x8F\x80");
  /* outside a character an IP is an IP */
  f = FEED(&t, "ok " IAC IP IAC DO TM);
  TEXT_IS(f, "ok ");
  assert_int_equal(f->out.events, UVC_TELNET_INTERRUPT);
  REPLY_IS(f, IAC WILL TM HINT);
  uvc_telnet_free(t);
}

static void are_you_there_gets_a_visible_answer(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "hi" IAC AYT IAC AYT);
  TEXT_IS(f, "hi");
  REPLY_IS(f, ASK_BINARY AYT_REPLY); /* one answer per read */
  assert_int_equal(f->out.events, UVC_TELNET_AYT);
  f = FEED(&t, IAC AYT);
  REPLY_IS(f, AYT_REPLY);
  uvc_telnet_free(t);
}

static void erase_character_and_line(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "helo" IAC EC "lo\r\n");
  TEXT_IS(f, "hello\r\n");
  f = FEED(&t, "caf\xC3\xA9" IAC EC "e " IAC EC IAC EC IAC EC IAC EC IAC EC IAC EC "x");
  TEXT_IS(f, "x"); /* a whole character at a time, and no further than the read began */
  f = FEED(&t, "done\n" IAC EC "abc" IAC EL "new");
  TEXT_IS(f, "done\nnew"); /* a finished line stays finished */
  f = FEED(&t, IAC EL IAC EC "y");
  TEXT_IS(f, "y"); /* nothing in this read to erase: ignored */
  REPLY_IS(f, "");
  uvc_telnet_free(t);
}

static void other_commands_are_dropped(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  /* NOP, DM, GA, AO, SUSP, EOR, ABORT, EOF, SE outside SB, and an unknown code */
  f = FEED(&t, "a" IAC "\xF1" IAC "\xF2" IAC "\xF9" IAC "\xF5" IAC "\xED" IAC "\xEF" IAC "\xEE" IAC
               "\xEC" IAC SE IAC
               "\x41"
               "b");
  TEXT_IS(f, "ab");
  REPLY_IS(f, ASK_BINARY);
  assert_int_equal(f->out.events, 0);
  uvc_telnet_free(t);
}

static void subnegotiation_split_across_reads(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  f = FEED(&t, "a" IAC SB "\x18");
  TEXT_IS(f, "a");
  assert_true(uvc_telnet_pending(t));
  f = FEED(&t, "\x00xterm\n" IAC IAC "x" IAC); /* a newline and an escaped 0xFF inside */
  TEXT_IS(f, "");
  assert_true(uvc_telnet_pending(t));
  f = FEED(&t, SE "b\n");
  TEXT_IS(f, "b\n");
  assert_false(uvc_telnet_pending(t));
  assert_int_equal(t->held, 0); /* the line came */
  uvc_telnet_free(t);
}

static void stray_subnegotiation_does_not_mute(void** state) {
  uvc_telnet_t* t = NULL;
  feed_t* f;
  (void)state;
  /* random binary with FF FA in it: the next IAC command ends the subnegotiation */
  f = FEED(&t, "x" IAC SB "\x01garbage" IAC IP "text\n");
  TEXT_IS(f, "xtext\n");
  assert_int_equal(f->out.events, UVC_TELNET_INTERRUPT);
  f = FEED(&t, IAC SB "junk" IAC
                      "\x41"
                      "hello\n");
  TEXT_IS(f, "hello\n");
  f = FEED(&t, IAC SB "junk" IAC SB "more" IAC SE "ok");
  TEXT_IS(f, "ok");
  assert_false(uvc_telnet_pending(t));
  uvc_telnet_free(t);
}

/* IAC SB and no IAC SE: every byte is counted (the server drops the client past
 * --max-input); nothing is kept. */
static void negotiation_bytes_are_counted(void** state) {
  uvc_telnet_t* t = NULL;
  char* big = malloc(65536);
  uvc_telnet_out_t out;
  size_t n;
  int i;
  (void)state;
  assert_non_null(big);
  memcpy(big, IAC SB "\x18", 3);
  memset(big + 3, 'A', 65533);
  big[1000] = '\n';
  n = uvc_telnet_filter(&t, big, 65536, &out);
  assert_int_equal(n, 0);
  assert_int_equal(t->held, 65536);
  for (i = 0; i < 4; i++) {
    memset(big, 'B', 65536);
    assert_int_equal(uvc_telnet_filter(&t, big, 65536, &out), 0);
  }
  assert_int_equal(t->held, 5 * 65536);
  assert_true(uvc_telnet_pending(t));
  /* Complete sequences without a line count too; a line resets the count. */
  uvc_telnet_free(t);
  t = NULL;
  for (i = 0; i < 1000; i++) {
    feed_t* f = FEED(&t, IAC SB "\x18junk" IAC SE IAC "\xF1");
    TEXT_IS(f, "");
  }
  assert_int_equal(t->held, 1000 * 11);
  FEED(&t, "x\n" IAC "\xF1");
  assert_int_equal(t->held, 2);
  /* reads without 0xFF do not go through the filter; their newlines still count */
  uvc_telnet_unseen(t, "no newline", 10);
  assert_int_equal(t->held, 2);
  uvc_telnet_unseen(t, "a line\r\n", 8);
  assert_int_equal(t->held, 0);
  uvc_telnet_free(t);
  free(big);
}

/* A read full of requests: the answers that do not fit are not lost, and none is given
 * twice. */
static void answers_never_overflow_the_buffer(void** state) {
  uvc_telnet_t* t = NULL;
  char buf[3 * 200];
  int answered[256] = {0};
  uvc_telnet_out_t out;
  int i, calls = 0, total = 0;
  (void)state;
  do {
    size_t k;
    for (i = 0; i < 200; i++) { /* options 10..209: no TIMING-MARK, no BINARY among them */
      buf[3 * i] = (char)0xFF;
      buf[3 * i + 1] = (char)0xFD;
      buf[3 * i + 2] = (char)(i + 10);
    }
    assert_int_equal(uvc_telnet_filter(&t, buf, sizeof(buf), &out), 0);
    assert_true(out.len <= UVC_TELNET_REPLY_MAX);
    for (k = calls == 0 ? 3 : 0; k + 3 <= out.len; k += 3) {
      assert_memory_equal(out.reply + k, IAC WONT, 2);
      answered[(unsigned char)out.reply[k + 2]]++;
      total++;
    }
    calls++;
  } while (out.len > 0 && calls < 10);
  assert_int_equal(total, 200);
  assert_int_equal(calls, 4); /* 84 + 85 + 31 answers, then none */
  for (i = 10; i < 210; i++)
    assert_int_equal(answered[i], 1);
  uvc_telnet_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_text_costs_nothing),
      cmocka_unit_test(negotiation_is_removed_and_refused),
      cmocka_unit_test(sequence_split_across_reads),
      cmocka_unit_test(iac_iac_is_a_literal_byte),
      cmocka_unit_test(ctrl_c_gets_timing_mark_and_one_hint),
      cmocka_unit_test(hint_waits_for_a_split_timing_mark),
      cmocka_unit_test(each_option_is_refused_once),
      cmocka_unit_test(binary_input_is_asked_once_and_accepted),
      cmocka_unit_test(binary_refused_is_not_asked_again),
      cmocka_unit_test(mangled_utf8_is_repaired),
      cmocka_unit_test(are_you_there_gets_a_visible_answer),
      cmocka_unit_test(erase_character_and_line),
      cmocka_unit_test(other_commands_are_dropped),
      cmocka_unit_test(subnegotiation_split_across_reads),
      cmocka_unit_test(stray_subnegotiation_does_not_mute),
      cmocka_unit_test(negotiation_bytes_are_counted),
      cmocka_unit_test(answers_never_overflow_the_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
