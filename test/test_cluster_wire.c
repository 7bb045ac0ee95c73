/* test_cluster_wire.c: the --cluster URL and the messages servers of a cluster exchange. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "uvchat/cluster.h"

static int parse(const char* s, uvc_cluster_url_t* u, char* err) {
  return uvc_cluster_parse_url(s, u, err, 300);
}

static void url_host_port_db(void** state) {
  uvc_cluster_url_t u;
  char err[300];
  (void)state;
  assert_int_equal(parse("redis://127.0.0.1:6380/3", &u, err), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 3);
  assert_string_equal(u.password, "");
  assert_int_equal(parse("redis://localhost", &u, err), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_int_equal(parse("redis://[::1]:7000", &u, err), 0);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 7000);
  assert_int_equal(u.ipv6, 1);
}

static void url_password(void** state) {
  uvc_cluster_url_t u;
  char err[300];
  (void)state;
  assert_int_equal(parse("redis://s3cret@10.0.0.1:6379", &u, err), 0);
  assert_string_equal(u.password, "s3cret");
  assert_string_equal(u.host, "10.0.0.1");
  assert_int_equal(parse("redis://:p%40ss@127.0.0.1", &u, err), 0);
  assert_string_equal(u.password, "p@ss");
  assert_int_equal(parse("redis://a@b@127.0.0.1", &u, err), 0); /* the last '@' ends it */
  assert_string_equal(u.password, "a@b");
}

static void url_refused_with_reason(void** state) {
  uvc_cluster_url_t u;
  char err[300];
  (void)state;
  assert_int_equal(parse("rediss://127.0.0.1:6379", &u, err), -1);
  assert_non_null(strstr(err, "TLS"));
  assert_int_equal(parse("redis://redis.example.org:6379", &u, err), -1);
  assert_non_null(strstr(err, "not resolved"));
  assert_int_equal(parse("http://127.0.0.1", &u, err), -1);
  assert_int_equal(parse("redis://127.0.0.1:0", &u, err), -1);
  assert_int_equal(parse("redis://127.0.0.1:65536", &u, err), -1);
  assert_int_equal(parse("redis://127.0.0.1:x", &u, err), -1);
  assert_int_equal(parse("redis://127.0.0.1/x", &u, err), -1);
  assert_int_equal(parse("redis://256.0.0.1", &u, err), -1);
  assert_int_equal(parse("redis://1.2.3", &u, err), -1);
  assert_int_equal(parse("redis://", &u, err), -1);
  assert_int_equal(parse("redis://@127.0.0.1", &u, err), -1);
  assert_int_equal(parse("redis://[::1", &u, err), -1);
  assert_int_equal(parse("redis://[zz]:1", &u, err), -1);
  assert_int_equal(parse("redis://p%4@127.0.0.1", &u, err), -1);
}

static void event_round_trip(void** state) {
  uvc_wire_t a, b;
  char* buf = NULL;
  size_t len = 0, cap = 0;
  (void)state;
  memset(&a, 0, sizeof(a));
  a.kind = UVC_WIRE_EVENT;
  strcpy(a.server, "one-ab12");
  a.uid = 42;
  a.ev.type = UVC_EV_SAY;
  a.ev.id = UINT64_C(0x1234567890abcdef);
  a.ev.time_ms = INT64_C(1764600000123);
  a.ev.notice = 1;
  a.ev.text = "hello, 1:2, world";
  a.ev.len = strlen(a.ev.text);
  a.ev.tags = "+typing=active";
  a.ev.tags_len = strlen(a.ev.tags);
  strcpy(a.ev.room, "#dev");
  a.ev.room_len = 4;
  strcpy(a.ev.from.nick, "alice");
  a.ev.from.nick_len = 5;
  strcpy(a.ev.from.user, "irc");
  a.ev.from.user_len = 3;
  strcpy(a.ev.from.account, "alice");
  strcpy(a.from_format, "irc");
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_int_equal(b.kind, UVC_WIRE_EVENT);
  assert_string_equal(b.server, "one-ab12");
  assert_int_equal(b.uid, 42);
  assert_int_equal(b.ev.type, UVC_EV_SAY);
  assert_true(b.ev.id == a.ev.id);
  assert_true(b.ev.time_ms == a.ev.time_ms);
  assert_int_equal(b.ev.notice, 1);
  assert_int_equal(b.ev.len, a.ev.len);
  assert_memory_equal(b.ev.text, a.ev.text, a.ev.len);
  assert_int_equal(b.ev.tags_len, a.ev.tags_len);
  assert_memory_equal(b.ev.tags, a.ev.tags, a.ev.tags_len);
  assert_string_equal(b.ev.room, "#dev");
  assert_int_equal(b.ev.room_len, 4);
  assert_string_equal(b.ev.from.nick, "alice");
  assert_int_equal(b.ev.from.nick_len, 5);
  assert_string_equal(b.ev.from.account, "alice");
  assert_string_equal(b.from_format, "irc");
  assert_int_equal(b.ev.to.nick_len, 0);
  /* Every cut-short or padded copy is refused. */
  assert_int_equal(uvc_wire_decode(buf, len - 1, &b), -1);
  buf[len - 1] = '.';
  assert_int_equal(uvc_wire_decode(buf, len, &b), -1);
  /* Numbers at their ends: the time 0, the largest id, a uid of 0. */
  a.ev.time_ms = 0;
  a.ev.id = UINT64_MAX;
  a.uid = 0;
  len = 0;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_true(b.ev.time_ms == 0);
  assert_true(b.ev.id == UINT64_MAX);
  assert_int_equal(b.uid, 0);
  free(buf);
}

static void user_round_trip(void** state) {
  uvc_wire_t a, b;
  char* buf = NULL;
  size_t len = 0, cap = 0;
  (void)state;
  memset(&a, 0, sizeof(a));
  a.kind = UVC_WIRE_USER;
  strcpy(a.server, "two");
  a.uid = 7;
  strcpy(a.nick, "bob");
  strcpy(a.user, "text");
  strcpy(a.from_format, "text");
  a.away = "lunch";
  a.away_len = 5;
  a.n_rooms = 2;
  strcpy(a.rooms[0].name, "#lobby");
  strcpy(a.rooms[1].name, "#dev");
  a.rooms[1].flags = UVC_MEMBER_OP;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_string_equal(b.nick, "bob");
  assert_int_equal(b.away_len, 5);
  assert_memory_equal(b.away, "lunch", 5);
  assert_int_equal(b.n_rooms, 2);
  assert_string_equal(b.rooms[1].name, "#dev");
  assert_int_equal(b.rooms[1].flags, UVC_MEMBER_OP);
  len = 0; /* a user without a nick is not a user */
  a.nick[0] = '\0';
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), -1);
  free(buf);
}

static void room_round_trip(void** state) {
  uvc_wire_t a, b;
  char* buf = NULL;
  size_t len = 0, cap = 0;
  (void)state;
  memset(&a, 0, sizeof(a));
  a.kind = UVC_WIRE_ROOM;
  strcpy(a.server, "one");
  strcpy(a.ev.room, "#dev");
  a.ev.room_len = 4;
  a.ev.text = "the topic";
  a.ev.len = 9;
  strcpy(a.ev.from.nick, "amy");
  a.ev.from.nick_len = 3;
  a.ev.time_ms = 1764600000;
  a.ev.mode_on = UVC_ROOM_MODERATED | UVC_ROOM_TOPIC_LOCKED;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_int_equal(b.kind, UVC_WIRE_ROOM);
  assert_string_equal(b.ev.room, "#dev");
  assert_int_equal(b.ev.len, 9);
  assert_memory_equal(b.ev.text, "the topic", 9);
  assert_string_equal(b.ev.from.nick, "amy");
  assert_true(b.ev.time_ms == 1764600000);
  assert_int_equal(b.ev.mode_on, UVC_ROOM_MODERATED | UVC_ROOM_TOPIC_LOCKED);
  free(buf);
}

/* Who may join a room: its key, its limit and its two mask lists, each entry with who set it
 * and when; empty lists and no key too. */
static void entry_round_trip(void** state) {
  uvc_wire_t a, b;
  uvc_mask_t bans[2] = {{"*!*@bad.example", 1764600000, "amy"}, {"troll!*@*", 0, "bo"}};
  uvc_mask_t invex[1] = {{"friend!*@*", 1764600001, "amy"}};
  uvc_mask_list_t lb = {bans, 2, 2}, li = {invex, 1, 1};
  char* buf = NULL;
  size_t len = 0, cap = 0;
  char mask[UVC_MASK_MAX + 1], by[UVC_NICK_MAX + 1];
  int64_t at;
  (void)state;
  memset(&a, 0, sizeof(a));
  a.kind = UVC_WIRE_ENTRY;
  strcpy(a.server, "one");
  strcpy(a.ev.room, "#dev");
  a.ev.room_len = 4;
  a.ev.text = "s3cret";
  a.ev.len = 6;
  a.ev.limit = 4000000000u;
  a.lists[0] = &lb;
  a.lists[1] = &li;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_int_equal(b.kind, UVC_WIRE_ENTRY);
  assert_string_equal(b.ev.room, "#dev");
  assert_int_equal(b.ev.len, 6);
  assert_memory_equal(b.ev.text, "s3cret", 6);
  assert_true(b.ev.limit == 4000000000u);
  assert_int_equal(b.masks[0].n, 2);
  assert_int_equal(uvc_wire_mask_next(&b.masks[0], mask, by, &at), 1);
  assert_string_equal(mask, "*!*@bad.example");
  assert_string_equal(by, "amy");
  assert_true(at == 1764600000);
  assert_int_equal(uvc_wire_mask_next(&b.masks[0], mask, by, &at), 1);
  assert_string_equal(mask, "troll!*@*");
  assert_string_equal(by, "bo");
  assert_true(at == 0);
  assert_int_equal(uvc_wire_mask_next(&b.masks[0], mask, by, &at), 0);
  assert_int_equal(uvc_wire_mask_next(&b.masks[1], mask, by, &at), 1);
  assert_string_equal(mask, "friend!*@*");
  assert_int_equal(uvc_wire_mask_next(&b.masks[1], mask, by, &at), 0);

  /* No key, no limit, no lists. */
  len = 0;
  a.ev.text = NULL;
  a.ev.len = 0;
  a.ev.limit = 0;
  a.lists[0] = a.lists[1] = NULL;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), 0);
  assert_null(b.ev.text);
  assert_int_equal(b.ev.limit, 0);
  assert_int_equal(uvc_wire_mask_next(&b.masks[0], mask, by, &at), 0);
  assert_int_equal(uvc_wire_mask_next(&b.masks[1], mask, by, &at), 0);

  /* A key past UVC_KEY_MAX, or an empty mask, is not a well-formed message. */
  len = 0;
  a.ev.text = "a key much longer than twenty-three bytes";
  a.ev.len = strlen(a.ev.text);
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), -1);
  len = 0;
  a.ev.text = NULL;
  a.ev.len = 0;
  bans[1].mask = "";
  a.lists[0] = &lb;
  assert_int_equal(uvc_wire_encode(&a, &buf, &len, &cap), 0);
  assert_int_equal(uvc_wire_decode(buf, len, &b), -1);
  free(buf);

  /* A list longer than UVC_LIST_MAX, by hand; and a ROOM as a server without this kind
   * writes it still reads (the access comes in a message of its own). */
  {
    static const char too_many[] = "1:J,3:one,1:0,4:#dev,0:,1:0,2:51,1:0,";
    static const char room[] = "1:R,3:one,1:0,4:#dev,0:,0:,1:0,1:0,";
    assert_int_equal(uvc_wire_decode(too_many, sizeof(too_many) - 1, &b), -1);
    assert_int_equal(uvc_wire_decode(room, sizeof(room) - 1, &b), 0);
    assert_int_equal(b.kind, UVC_WIRE_ROOM);
  }
}

static void garbage_is_refused(void** state) {
  uvc_wire_t b;
  static const char* const bad[] = {"",
                                    "1:E,",
                                    "1:X,3:one,1:0,",
                                    "99999999999:E,",
                                    "1:H,0:,1:0,",
                                    "1:H,3:one,1:x,",
                                    "1:H,3:one,1:0,junk"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(uvc_wire_decode(bad[i], strlen(bad[i]), &b), -1);
  assert_int_equal(uvc_wire_decode("1:H,3:one,1:0,", 14, &b), 0);
  assert_int_equal(b.kind, UVC_WIRE_HELLO);
}

/* Several messages in one batch come out one by one, whole and in order; a batch cut short
 * stops where it breaks. */
static void batch_round_trip(void** state) {
  uvc_wire_t a, b;
  char *one = NULL, *batch = NULL;
  size_t one_len = 0, one_cap = 0, len = 0, cap = 0, n;
  const char *p, *msg;
  int i;
  (void)state;
  for (i = 0; i < 3; i++) {
    memset(&a, 0, sizeof(a));
    a.kind = i == 2 ? UVC_WIRE_KILL : UVC_WIRE_HELLO;
    snprintf(a.server, sizeof(a.server), "server%d", i);
    a.uid = i == 2 ? 500 : 0; /* a KILL: of session 500, no reason */
    one_len = 0;
    assert_int_equal(uvc_wire_encode(&a, &one, &one_len, &one_cap), 0);
    assert_false(uvc_wire_is_batch(one, one_len)); /* a message alone is no batch */
    assert_int_equal(uvc_wire_batch_add(one, one_len, &batch, &len, &cap), 0);
  }
  assert_true(uvc_wire_is_batch(batch, len));
  p = batch + UVC_WIRE_BATCH_HEAD_LEN;
  for (i = 0; i < 3; i++) {
    char want[16];
    assert_int_equal(uvc_wire_batch_next(&p, batch + len, &msg, &n), 1);
    assert_int_equal(uvc_wire_decode(msg, n, &b), 0);
    snprintf(want, sizeof(want), "server%d", i);
    assert_string_equal(b.server, want);
    assert_int_equal(b.kind, i == 2 ? UVC_WIRE_KILL : UVC_WIRE_HELLO);
  }
  assert_true(b.uid == 500);
  assert_int_equal(uvc_wire_batch_next(&p, batch + len, &msg, &n), 0);
  p = batch + UVC_WIRE_BATCH_HEAD_LEN; /* cut in the middle of its last message */
  assert_int_equal(uvc_wire_batch_next(&p, batch + len - 3, &msg, &n), 1);
  assert_int_equal(uvc_wire_batch_next(&p, batch + len - 3, &msg, &n), 1);
  assert_int_equal(uvc_wire_batch_next(&p, batch + len - 3, &msg, &n), -1);
  free(one);
  free(batch);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(url_host_port_db),        cmocka_unit_test(url_password),
      cmocka_unit_test(url_refused_with_reason), cmocka_unit_test(event_round_trip),
      cmocka_unit_test(user_round_trip),         cmocka_unit_test(room_round_trip),
      cmocka_unit_test(batch_round_trip),        cmocka_unit_test(entry_round_trip),
      cmocka_unit_test(garbage_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
