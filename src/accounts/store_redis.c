/* store_redis.c: the Redis backend of the store: accounts in hashes, histories in streams,
 * every request one command (most of them a Lua script, so that each is atomic) on hiredis's
 * asynchronous connection, attached to the loop with hiredis's libuv adapter.
 *
 * Keys (all under UVC_REDIS_PREFIX; NAME, ROOM, OWNER, TARGET lowercased ASCII):
 *
 *   schema              the key layout's version (UVC_REDIS_SCHEMA)
 *   acct:NAME           hash: name (as registered), hash, created (seconds)
 *   names               set of the registered names, as registered
 *   accounts:version    a counter every create, set_hash and delete increments (the watch)
 *   accounts:epoch      when the counter started (the watch tells a new counter from it)
 *   room:ROOM           stream: a room's history
 *   roomx:ROOM          sorted set: seq by its stream entry's time (exactly once, and points
 *                       by seq: the entry is the one of that time with that seq)
 *   pm:OWNER            stream: every private message kept for the account OWNER (the
 *                       count bound is per account, so one stream holds its conversations)
 *   pmx:OWNER           sorted set: "TARGET seq" by entry time
 *   pend:OWNER          sorted set: the entry ids of OWNER's undelivered private messages, by
 *                       entry time
 *   tg:OWNER            sorted set: TARGET by the time of its latest private message
 *   tgn:OWNER           hash: TARGET -> the target as written (for CHATHISTORY TARGETS)
 *   hist                sorted set: every history stream's key by the time of its oldest
 *                       entry (the age bound visits only the histories it has work in)
 *
 * Stream entries carry every field of an event (s seq, t time, k kind, f flags, o owner,
 * g target, l target lowercased, n nick, u user, h host, a account, x text). Their ids are
 * not the seq: several servers write one room and their seqs interleave, and a stream only
 * takes growing ids. The id's time part is the event's time, raised to the history's last
 * entry's when the event is older than that (a late write from another server), so the
 * stream stays in arrival order and time points can be looked up by id. A seq is found
 * through the history's index (its entry's time, then the entry of that time with that seq),
 * which also makes a write of an event already there (the same history and seq) keep it once.
 * The count bounds are exact (XTRIM MAXLEN without "~"); after a trim or the age bound, the
 * index and pending set lose what is older than the oldest entry left, by score, without
 * reading the trimmed entries. (What shares the oldest entry's millisecond stays until the
 * next trim: such a seq is then not found, as it should not be.)
 *
 * Reconnecting: when the connection drops, hiredis calls every outstanding request back
 * with no reply (UVC_STORE_DB) and the store reconnects from its timer with a backoff.
 * While it is down requests fail at once. Every connection sends its setup first (AUTH,
 * SELECT, INFO, the schema key, SCRIPT LOAD: a Redis restarted empty has lost the scripts)
 * and checks each answer as the blocking open does; a request made while a connection comes
 * up waits behind its setup, and fails with it if it is refused. A store opened while Redis
 * did not answer has no script digests yet: its requests fail at once until a setup has
 * answered them.
 */
#include "uvchat/store_redis.h"
#include "uvchat/cluster.h"
#include "uvchat/uvredis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "store_impl.h"
#include "uvchat/log.h"

#define STR_(x)              #x
#define STR(x)               STR_(x)
#define UVC_REDIS_SCHEMA_STR STR(UVC_REDIS_SCHEMA)

/* ---- The scripts ------------------------------------------------------------------------ */

/* Shared by the history scripts: key names, and reading entries. */
#define LUA_PRELUDE                                                                          \
  "local P = 'uvchat:'\n"                                                                    \
  "local function skey(o, t) if o == '' then return P .. 'room:' .. t end"                   \
  " return P .. 'pm:' .. o end\n"                                                            \
  "local function ikey(o, t) if o == '' then return P .. 'roomx:' .. t end"                  \
  " return P .. 'pmx:' .. o end\n"                                                           \
  "local function ifield(o, t, seq) if o == '' then return seq end return t .. ' ' .. seq "  \
  "end\n"                                                                                    \
  "local function fmap(a) local m = {} for i = 1, #a, 2 do m[a[i]] = a[i + 1] end return m " \
  "end\n"                                                                                    \
  "local function idms(id) return tonumber(string.match(id, '^(%d+)')) end\n"                \
  "local function idpos(id) local a, b = string.match(id, '^(%d+)-(%d+)$')"                  \
  " return tonumber(a), tonumber(b) end\n"                                                   \
  "local function row(e, p) local f = fmap(e[2])"                                            \
  " return {p, f.s, f.t, f.k, f.f, f.o, f.g, f.n, f.u, f.h, f.a, f.x} end\n"

/* settle(), for the scripts that remove entries: drops from a history's index and pending set
 * what is older than its oldest entry and files the history in hist by that entry's time;
 * returns the entry (nil: the history is empty). */
#define LUA_SETTLE                                                                        \
  "local function settle(o, sk, ik)\n"                                                    \
  "  local first = redis.call('XRANGE', sk, '-', '+', 'COUNT', 1)\n"                      \
  "  if #first == 0 then return nil end\n"                                                \
  "  local lo = string.format('(%d', idms(first[1][1]))\n"                                \
  "  redis.call('ZREMRANGEBYSCORE', ik, '-inf', lo)\n"                                    \
  "  if o ~= '' then redis.call('ZREMRANGEBYSCORE', P .. 'pend:' .. o, '-inf', lo) end\n" \
  "  redis.call('ZADD', P .. 'hist', idms(first[1][1]), sk)\n"                            \
  "  return first\n"                                                                      \
  "end\n"

/* KEYS[1] the account; ARGV name, hash, created. 1: made, 0: the name is taken. */
static const char kCreate[] =
    "if redis.call('HSETNX', KEYS[1], 'hash', ARGV[2]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'name', ARGV[1], 'created', ARGV[3])\n"
    "redis.call('SADD', 'uvchat:names', ARGV[1])\n"
    "redis.call('INCR', 'uvchat:accounts:version')\n"
    "return 1\n";

/* KEYS[1] the account; ARGV hash. 1: changed, 0: no such account. */
static const char kSetHash[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'hash', ARGV[1])\n"
    "redis.call('INCR', 'uvchat:accounts:version')\n"
    "return 1\n";

/* KEYS[1] the account. 1: deleted, 0: no such account. */
static const char kDelete[] =
    "local n = redis.call('HGET', KEYS[1], 'name')\n"
    "if not n then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', 'uvchat:names', n)\n"
    "redis.call('INCR', 'uvchat:accounts:version')\n"
    "return 1\n";

/* ARGV the token the caller saw last. {token} when it has not moved, else {token, every
 * name...}. The token is the change counter and an epoch: a counter that starts again (a
 * Redis emptied, or restarted without its data) is not mistaken for one that never moved. */
static const char kWatch[] =
    "local e = redis.call('GET', 'uvchat:accounts:epoch')\n"
    "if not e then\n"
    "  local t = redis.call('TIME')\n"
    "  e = t[1] .. '.' .. t[2]\n"
    "  redis.call('SET', 'uvchat:accounts:epoch', e)\n"
    "end\n"
    "local v = e .. ':' .. (redis.call('GET', 'uvchat:accounts:version') or '0')\n"
    "if v == ARGV[1] then return {v} end\n"
    "local m = redis.call('SMEMBERS', 'uvchat:names')\n"
    "table.insert(m, 1, v)\n"
    "return m\n";

/* ARGV count_room, count_private, then 14 per event: owner (lowercased), target
 * (lowercased), seq, time, kind, flags, pending, owner, target, nick, user, host, account,
 * text. Returns how many histories it touched. */
static const char kWrite[] = LUA_PRELUDE LUA_SETTLE
    "local cr, cp = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local last, touched, order, fresh = {}, {}, {}, {}\n"
    "local function xadd(sk, id, i)\n"
    "  return redis.pcall('XADD', sk, id, 's', ARGV[i + 2], 't', ARGV[i + 3], 'k', ARGV[i + 4],"
    " 'f', ARGV[i + 5], 'o', ARGV[i + 7], 'g', ARGV[i + 8], 'l', ARGV[i + 1], 'n', ARGV[i + 9],"
    " 'u', ARGV[i + 10], 'h', ARGV[i + 11], 'a', ARGV[i + 12], 'x', ARGV[i + 13])\n"
    "end\n"
    "for i = 3, #ARGV - 13, 14 do\n"
    "  local o, tl, seq, t = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]\n"
    "  local sk, ik = skey(o, tl), ikey(o, tl)\n"
    "  local fld = ifield(o, tl, seq)\n"
    "  local ms = last[sk]\n"
    "  if ms == nil then\n"
    "    ms = 0\n"
    "    local l = redis.call('XREVRANGE', sk, '+', '-', 'COUNT', 1)\n"
    "    if #l > 0 then ms = idms(l[1][1]) else fresh[sk] = true end\n"
    "  end\n"
    "  local tm = tonumber(t)\n"
    "  if tm > ms then ms = tm end\n"
    "  if ms < 1 then ms = 1 end\n"
    "  if redis.call('ZADD', ik, 'NX', ms, fld) == 1 then\n"
    "    local id = xadd(sk, string.format('%d-*', ms), i)\n"
    "    if type(id) == 'table' then id = xadd(sk, '*', i) end\n"
    "    if type(id) == 'table' then return id end\n"
    "    last[sk] = idms(id)\n"
    "    if last[sk] ~= ms then redis.call('ZADD', ik, last[sk], fld) end\n"
    "    if o ~= '' then\n"
    "      redis.call('ZADD', P .. 'tg:' .. o, 'GT', t, tl)\n"
    "      redis.call('HSET', P .. 'tgn:' .. o, tl, ARGV[i + 8])\n"
    "      if ARGV[i + 6] ~= '0' then redis.call('ZADD', P .. 'pend:' .. o, last[sk], id) end\n"
    "    end\n"
    "    if touched[sk] == nil then touched[sk] = {o, ik} order[#order + 1] = sk end\n"
    "  end\n"
    "end\n"
    "for _, sk in ipairs(order) do\n"
    "  local o, ik = touched[sk][1], touched[sk][2]\n"
    "  local keep = cp\n"
    "  if o == '' then keep = cr end\n"
    "  local trimmed = 0\n"
    "  if keep > 0 then trimmed = redis.call('XTRIM', sk, 'MAXLEN', keep) end\n"
    "  if trimmed > 0 or fresh[sk] then settle(o, sk, ik) end -- else its oldest is the same\n"
    "end\n"
    "return #order\n";

/* ARGV owner, target (both lowercased; target "" for PENDING), how, a.seq, a.time, b.seq,
 * b.time, limit, closed_before (a room's events flagged UVC_HIST_CLOSED below it are left
 * out; "0": none). 0 when a point's event is not there, else the events oldest first, each
 * {pending, seq, time, kind, flags, owner, target, nick, user, host, account, text}. Seqs
 * are compared as decimal strings: they pass 2^53, past a Lua number's exactness. */
static const char kFetch[] = LUA_PRELUDE
    "local o, tl, how = ARGV[1], ARGV[2], ARGV[3]\n"
    "local limit = tonumber(ARGV[8])\n"
    "local cb = ARGV[9]\n"
    "local function below(x, y) return #x < #y or (#x == #y and x < y) end\n"
    "local function hidden(f) return o == '' and cb ~= '0' and f.f and tonumber(f.f) % 2 == 1"
    " and below(f.s, cb) end\n"
    "local sk, ik, pk = skey(o, tl), ikey(o, tl), P .. 'pend:' .. o\n"
    "local function pend(id) if o == '' or not redis.call('ZSCORE', pk, id) then return 0 end"
    " return 1 end\n"
    "if how == 'pending' then\n"
    "  local ids = redis.call('ZRANGE', pk, 0, -1)\n"
    "  table.sort(ids, function(x, y) local a1, a2 = idpos(x) local b1, b2 = idpos(y)"
    " return a1 < b1 or (a1 == b1 and a2 < b2) end)\n"
    "  local out = {}\n"
    "  for i = 1, math.min(#ids, limit) do\n"
    "    local e = redis.call('XRANGE', sk, ids[i], ids[i])\n"
    "    if #e > 0 then out[#out + 1] = row(e[1], 1) end\n"
    "    redis.call('ZREM', pk, ids[i])\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function point(seq, t)\n"
    "  if seq ~= '0' then\n"
    "    local ms = redis.call('ZSCORE', ik, ifield(o, tl, seq))\n"
    "    if not ms then return nil end\n"
    "    ms = string.format('%d', tonumber(ms))\n"
    "    for _, e in ipairs(redis.call('XRANGE', sk, ms, ms)) do\n"
    "      local f = fmap(e[2])\n"
    "      if f.s == seq and (o == '' or f.l == tl) and not hidden(f) then\n"
    "        local a, b = idpos(e[1])\n"
    "        return {ev = true, id = e[1], ms = a, n = b}\n"
    "      end\n"
    "    end\n"
    "    return nil\n"
    "  end\n"
    "  return {ev = false, t = tonumber(t), ms = tonumber(t), n = 0}\n"
    "end\n"
    "local function after(p) if p.ev then return '(' .. p.id end"
    " return string.format('%d', p.t + 1) end\n"
    "local function from(p) if p.ev then return p.id end"
    " return string.format('%d', math.max(p.t, 0)) end\n"
    "local function before(p) if p.ev then return '(' .. p.id end"
    " if p.t < 1 then return nil end return string.format('(%d-0', p.t) end\n"
    "local function scan(lo, hi, asc, n)\n"
    "  local got = {}\n"
    "  if n <= 0 or lo == nil or hi == nil then return got end\n"
    "  while #got < n do\n"
    "    local want = 200\n"
    "    if o == '' then want = n - #got end\n"
    "    local c\n"
    "    if asc then c = redis.call('XRANGE', sk, lo, hi, 'COUNT', want)\n"
    "    else c = redis.call('XREVRANGE', sk, hi, lo, 'COUNT', want) end\n"
    "    for _, e in ipairs(c) do\n"
    "      local f = fmap(e[2])\n"
    "      if (o == '' or f.l == tl) and not hidden(f) then\n"
    "        got[#got + 1] = row(e, pend(e[1]))\n"
    "        if #got == n then break end\n"
    "      end\n"
    "    end\n"
    "    if #c < want then break end\n"
    "    if asc then lo = '(' .. c[#c][1] else hi = '(' .. c[#c][1] end\n"
    "  end\n"
    "  if not asc then\n"
    "    local i, j = 1, #got\n"
    "    while i < j do got[i], got[j] = got[j], got[i] i = i + 1 j = j - 1 end\n"
    "  end\n"
    "  return got\n"
    "end\n"
    "local a = point(ARGV[4], ARGV[5])\n"
    "if a == nil then return 0 end\n"
    "if how == 'latest' then\n"
    "  local lo = '-'\n"
    "  if ARGV[4] ~= '0' or a.t ~= 0 then lo = after(a) end\n"
    "  return scan(lo, '+', false, limit)\n"
    "elseif how == 'before' then return scan('-', before(a), false, limit)\n"
    "elseif how == 'after' then return scan(after(a), '+', true, limit)\n"
    "elseif how == 'around' then\n"
    "  local out = scan('-', before(a), false, math.floor(limit / 2))\n"
    "  for _, r in ipairs(scan(from(a), '+', true, limit - #out)) do out[#out + 1] = r end\n"
    "  return out\n"
    "end\n"
    "local b = point(ARGV[6], ARGV[7])\n"
    "if b == nil then return 0 end\n"
    "if a.ms > b.ms or (a.ms == b.ms and a.ev and b.ev and a.n > b.n) then\n"
    "  return scan(after(b), before(a), false, limit)\n"
    "end\n"
    "return scan(after(a), before(b), true, limit)\n";

/* ARGV owner (lowercased, "" for none), from, to (from <= to), limit, then the rooms
 * (lowercased). {name, last, ...}, latest first. */
static const char kTargets[] = LUA_PRELUDE
    "local o, lo, hi, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local res = {}\n"
    "local function latest(sk, tl, filt)\n"
    "  if hi < 0 then return nil end\n"
    "  local cur = string.format('%d', hi)\n"
    "  local first = string.format('%d', math.max(lo, 0))\n"
    "  while true do\n"
    "    local c = redis.call('XREVRANGE', sk, cur, first, 'COUNT', 100)\n"
    "    for _, e in ipairs(c) do\n"
    "      local f = fmap(e[2])\n"
    "      if not filt or f.l == tl then return f end\n"
    "    end\n"
    "    if #c < 100 then return nil end\n"
    "    cur = '(' .. c[#c][1]\n"
    "  end\n"
    "end\n"
    "if o ~= '' then\n"
    "  local tg = P .. 'tg:' .. o\n"
    "  for _, tl in ipairs(redis.call('ZRANGEBYSCORE', tg, lo, '+inf')) do\n"
    "    local sc = tonumber(redis.call('ZSCORE', tg, tl))\n"
    "    if sc <= hi then\n"
    "      res[#res + 1] = {redis.call('HGET', P .. 'tgn:' .. o, tl) or tl, sc}\n"
    "    else\n"
    "      local f = latest(skey(o, tl), tl, true)\n"
    "      if f then res[#res + 1] = {f.g, tonumber(f.t)} end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for i = 5, #ARGV do\n"
    "  local f = latest(skey('', ARGV[i]), ARGV[i], false)\n"
    "  if f then res[#res + 1] = {f.g, tonumber(f.t)} end\n"
    "end\n"
    "table.sort(res, function(x, y) return x[2] > y[2] end)\n"
    "local out = {}\n"
    "for i = 1, math.min(#res, limit) do\n"
    "  out[#out + 1] = res[i][1]\n"
    "  out[#out + 1] = string.format('%d', res[i][2])\n"
    "end\n"
    "return out\n";

/* ARGV owner (lowercased). */
static const char kDeleteOwner[] =
    "local o = ARGV[1]\n"
    "redis.call('DEL', 'uvchat:pm:' .. o, 'uvchat:pmx:' .. o, 'uvchat:pend:' .. o,"
    " 'uvchat:tg:' .. o, 'uvchat:tgn:' .. o)\n"
    "redis.call('ZREM', 'uvchat:hist', 'uvchat:pm:' .. o)\n"
    "return 1\n";

/* ARGV room (lowercased). */
static const char kDeleteRoom[] =
    "local r = ARGV[1]\n"
    "redis.call('DEL', 'uvchat:room:' .. r, 'uvchat:roomx:' .. r)\n"
    "redis.call('ZREM', 'uvchat:hist', 'uvchat:room:' .. r)\n"
    "return 1\n";

/* ARGV the cut (ms): every entry before it goes, and every history left empty; only the
 * histories whose oldest entry is older than the cut are visited. */
static const char kPrune[] = LUA_PRELUDE LUA_SETTLE
    "local cut = tonumber(ARGV[1])\n"
    "if cut < 1 then return 0 end\n"
    "local due = redis.call('ZRANGEBYSCORE', P .. 'hist', '-inf', string.format('(%d', cut))\n"
    "for _, sk in ipairs(due) do\n"
    "  local o, ik = '', nil\n"
    "  local r = string.match(sk, '^uvchat:room:(.*)$')\n"
    "  if r then ik = P .. 'roomx:' .. r else o = string.sub(sk, #P + 4) ik = P .. 'pmx:' .. o "
    "end\n"
    "  redis.call('XTRIM', sk, 'MINID', string.format('%d', cut))\n"
    "  if o ~= '' then\n"
    "    local tg, old = P .. 'tg:' .. o, nil\n"
    "    old = redis.call('ZRANGEBYSCORE', tg, '-inf', string.format('(%d', cut))\n"
    "    for _, t in ipairs(old) do redis.call('HDEL', P .. 'tgn:' .. o, t) end\n"
    "    redis.call('ZREMRANGEBYSCORE', tg, '-inf', string.format('(%d', cut))\n"
    "  end\n"
    "  if settle(o, sk, ik) == nil then\n"
    "    redis.call('DEL', sk, ik)\n"
    "    redis.call('ZREM', P .. 'hist', sk)\n"
    "    if o ~= '' then redis.call('DEL', P .. 'pend:' .. o, P .. 'tg:' .. o, P .. 'tgn:' .. o)"
    " end\n"
    "  end\n"
    "end\n"
    "return 1\n";

enum {
  SC_CREATE,
  SC_SET_HASH,
  SC_DELETE,
  SC_WATCH,
  SC_WRITE,
  SC_FETCH,
  SC_TARGETS,
  SC_DELETE_OWNER,
  SC_DELETE_ROOM,
  SC_PRUNE,
  N_SCRIPTS
};

static const char* const kScripts[N_SCRIPTS] = {kCreate,     kSetHash, kDelete,  kWatch,
                                                kWrite,      kFetch,   kTargets, kDeleteOwner,
                                                kDeleteRoom, kPrune};

/* ---- The store ------------------------------------------------------------------------ */

typedef struct redis_store {
  uvc_store_head_t head; /* redis_ops */
  uv_loop_t* loop;
  redisAsyncContext* ac; /* NULL: down (a reconnect is due at retry_at) */
  int connected;         /* ac has connected */
  int ready;             /* ac has connected and its setup (setup_left) has been answered */
  int setup_left;        /* setup commands on ac not answered yet */
  uv_timer_t tick;       /* reconnects, connect and reply deadlines; closed by teardown */
  uv_timer_t fin;        /* closed last, from tick's close callback: then the store is freed */
  uv_getaddrinfo_t gai;  /* the host's name looked up (resolving), off the loop thread */
  unsigned pending;      /* requests whose callback has not run */
  uint8_t closing, dispatching, watching, torn_down, tick_ref;
  uint8_t have_sha; /* sha[] holds the scripts' digests (some connection loaded them) */
  uint8_t have_ip;  /* ip holds an address (else the host's name is looked up first) */
  uint8_t resolving, refusing;
  char watch_token[64]; /* what the last watch saw (kWatch); "": none */
  uint64_t backoff_ms, retry_at, connect_deadline, last_progress;
  char sha[N_SCRIPTS][41];
  char ip[INET6_ADDRSTRLEN];
  char host[256]; /* as given */
  int port, db;
  char* password;
  char said[256];  /* the last refusal or lookup failure logged: not logged again */
  char label[300]; /* redis://host:port/db */
} redis_store_t;

typedef enum {
  R_CREATE,
  R_GET,
  R_SET_HASH,
  R_DELETE,
  R_WATCH,
  R_WRITE,
  R_FETCH,
  R_TARGETS,
  R_DONE /* delete_owner, delete_room, prune: 1 or an error */
} rop_t;

/* A history write sent as several scripts: the caller's callback runs once, when the last
 * has answered, with the first failure if any. */
typedef struct wbatch {
  unsigned parts; /* scripts not answered yet */
  int status;
  uvc_store_cb cb;
  void* data;
} wbatch_t;

typedef struct rreq {
  redis_store_t* s;
  rop_t op;
  uvc_store_cb cb;
  uvc_store_get_cb get_cb;
  uvc_store_watch_cb watch_cb;
  uvc_store_hist_cb hist_cb;
  uvc_store_targets_cb targets_cb;
  void* data;
  wbatch_t* wb; /* R_WRITE: the batch this script is a part of */
} rreq_t;

static const uvc_store_ops_t redis_ops;

static redis_store_t* rs(uvc_store_t* s) {
  return (redis_store_t*)(void*)s;
}
static const redis_store_t* crs(const uvc_store_t* s) {
  return (const redis_store_t*)(const void*)s;
}

/* ASCII lowercase of s (n bytes) into out (n + 1 bytes). */
static void lower(char* out, const char* s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  out[n] = '\0';
}

/* ---- The connection ------------------------------------------------------------------- */

static int reply_int(const redisReply* r, long long* out);

/* The tick timer keeps the loop alive while a request is in flight (its callback is due).
 * Down, or coming up, with nothing in flight, the store lets the loop end: a server that
 * stops while Redis is away stops at once. (While the server runs, its other handles keep
 * the loop, and so the store's reconnecting, going.) */
static void update_ref(redis_store_t* s) {
  int want = !s->torn_down && s->pending > 0;
  if (s->torn_down) return;
  if (want && !s->tick_ref) uv_ref((uv_handle_t*)&s->tick);
  if (!want && s->tick_ref) uv_unref((uv_handle_t*)&s->tick);
  s->tick_ref = (uint8_t)want;
}

/* Logs why the store cannot come up, once until the reason changes or the store is up: it
 * tries again every few seconds, and the log says it once. error: a refusal (a
 * misconfiguration the operator must fix), else a warning. */
static void say(redis_store_t* s, int error, const char* why) {
  if (strcmp(s->said, why) == 0) {
    UVC_DEBUG("store: %s: %s; retrying", s->label, why);
    return;
  }
  snprintf(s->said, sizeof s->said, "%s", why);
  if (error)
    UVC_ERROR("store: %s: %s; retrying", s->label, why);
  else
    UVC_WARN("store: %s: %s; retrying", s->label, why);
}

/* The next connect is due after the backoff, which doubles (up to its bound). */
static void retry_later(redis_store_t* s) {
  s->retry_at = uv_now(s->loop) + s->backoff_ms;
  s->backoff_ms *= 2;
  if (s->backoff_ms > UVC_REDIS_BACKOFF_MAX_MS) s->backoff_ms = UVC_REDIS_BACKOFF_MAX_MS;
  update_ref(s);
}

/* ac is gone (or going): the store is down until the next connect. Logged when a
 * connection that was up goes, not for every attempt that fails. */
static void lost(redis_store_t* s, const redisAsyncContext* ac) {
  int was_up = s->ready;
  if (s->ac != ac || ac == NULL) return;
  s->ac = NULL;
  s->connected = 0;
  s->ready = 0;
  if (was_up && !s->closing)
    UVC_WARN("store: lost the Redis connection to %s (%s); reconnecting", s->label,
             ac->errstr != NULL && ac->errstr[0] != '\0' ? ac->errstr : "closed");
  retry_later(s);
}

static void on_connect(const redisAsyncContext* ac, int status) {
  redis_store_t* s = ac->data;
  if (status != REDIS_OK) {
    lost(s, ac);
    return;
  }
  if (s->ac != ac) return;
  s->connected = 1;
  s->connect_deadline = uv_now(s->loop) + UVC_REDIS_TIMEOUT_MS; /* for the setup's replies */
  update_ref(s);
}

static void on_disconnect(const redisAsyncContext* ac, int status) {
  (void)status;
  lost(ac->data, ac);
}

/* The connection's own commands, sent before any request on it (pipelined): a refusal of
 * any drops the connection, so that the requests behind it fail rather than run wrongly. */
enum { ST_AUTH, ST_SELECT, ST_INFO, ST_SETNX, ST_GET, ST_SCRIPT /* + the script's index */ };

static const char* const kStepName[] = {"AUTH",       "SELECT",     "INFO",
                                        "SET schema", "GET schema", "SCRIPT LOAD"};

/* The server answered, but not as the store needs (a wrong password, a database it does not
 * have, too old, a newer schema): logged as an error, and the connection dropped; the store
 * tries again after the backoff, as when Redis is down. */
static void refuse(redis_store_t* s, redisAsyncContext* ac, const char* why) {
  s->refusing = 1;
  say(s, 1, why);
  redisAsyncDisconnect(ac);
}

static void on_setup(redisAsyncContext* ac, void* reply, void* priv) {
  redisReply* r = reply;
  redis_store_t* s = ac->data;
  int step = (int)(intptr_t)priv;
  char why[200];
  long long v = 0;
  if (r == NULL || s == NULL || s->ac != ac || s->refusing) return; /* lost() sees to it */
  why[0] = '\0';
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(why, sizeof why, "%s: %s", kStepName[step < ST_SCRIPT ? step : ST_SCRIPT], r->str);
  } else if (step == ST_INFO && r->type == REDIS_REPLY_STRING) {
    const char* p = strstr(r->str, "redis_version:");
    if (p != NULL && atoi(p + 14) < 7)
      snprintf(why, sizeof why, "Redis %.*s is too old: uvchat needs 7.0 or later",
               (int)strcspn(p + 14, "\r\n"), p + 14);
  } else if (step == ST_GET) {
    if (reply_int(r, &v) != 0) v = -1;
    if (v > UVC_REDIS_SCHEMA)
      snprintf(why, sizeof why,
               "schema version %lld is newer than this uvchat knows (%d): use a newer uvchat", v,
               UVC_REDIS_SCHEMA);
    else if (v < 1)
      snprintf(why, sizeof why, "%sschema is not a schema version", UVC_REDIS_PREFIX);
  } else if (step >= ST_SCRIPT) {
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
      snprintf(why, sizeof why, "SCRIPT LOAD: an unexpected reply");
    else
      memcpy(s->sha[step - ST_SCRIPT], r->str, 41);
  }
  if (why[0] != '\0') {
    refuse(s, ac, why);
    return;
  }
  if (--s->setup_left > 0) return;
  s->ready = 1;
  s->have_sha = 1;
  s->backoff_ms = UVC_REDIS_BACKOFF_MIN_MS;
  s->said[0] = '\0';
  UVC_INFO("store: connected to %s", s->label);
  update_ref(s);
}

static void setup_cmd(redis_store_t* s, int step, int argc, const char** argv) {
  if (redisAsyncCommandArgv(s->ac, on_setup, (void*)(intptr_t)step, argc, argv, NULL) == REDIS_OK)
    s->setup_left++;
}

static void connect_async(redis_store_t* s);
static void teardown(redis_store_t* s);

/* The host's address is looked up (on the thread pool: the loop does not wait on a name
 * server); then the connect goes to it. */
static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  redis_store_t* s = req->data;
  char why[200];
  s->resolving = 0;
  if (status == 0) { /* an IPv4 address first, as hiredis's own connect does */
    const struct addrinfo *ai, *v4 = NULL, *v6 = NULL;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET && v4 == NULL) v4 = ai;
      if (ai->ai_family == AF_INET6 && v6 == NULL) v6 = ai;
    }
    if (v4 != NULL)
      s->have_ip = inet_ntop(AF_INET, &((const struct sockaddr_in*)v4->ai_addr)->sin_addr, s->ip,
                             sizeof s->ip) != NULL;
    else if (v6 != NULL)
      s->have_ip = inet_ntop(AF_INET6, &((const struct sockaddr_in6*)v6->ai_addr)->sin6_addr, s->ip,
                             sizeof s->ip) != NULL;
  }
  uv_freeaddrinfo(res);
  if (s->closing) {
    if (s->pending == 0 && !s->dispatching) teardown(s);
    return;
  }
  if (s->have_ip) {
    connect_async(s);
    return;
  }
  snprintf(why, sizeof why, "cannot look up %.100s: %s", s->host,
           status != 0 ? uv_strerror(status) : "no address");
  say(s, 0, why);
  retry_later(s);
}

static void resolve(redis_store_t* s) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  s->gai.data = s;
  if (uv_getaddrinfo(s->loop, &s->gai, on_resolved, s->host, NULL, &hints) != 0) {
    retry_later(s);
    return;
  }
  s->resolving = 1;
}

/* Starts a connection (from the timer, or at open), and sends its setup: AUTH, SELECT, the
 * checks, the scripts. On failure the store stays down and tries again after the backoff. */
static void connect_async(redis_store_t* s) {
  redisAsyncContext* ac;
  char dbs[16];
  int i;
  if (!s->have_ip) {
    resolve(s);
    return;
  }
  if ((ac = redisAsyncConnect(s->ip, s->port)) == NULL) {
    retry_later(s);
    return;
  }
  if (ac->err != 0 || uvc_redis_attach(ac, s->loop) != REDIS_OK) {
    if (ac->ev.data == NULL) ac->ev.cleanup = NULL; /* the adapter did not get as far */
    redisAsyncFree(ac);
    retry_later(s);
    return;
  }
  /* the adapter's poll handle must not keep the loop alive by itself (update_ref does) */
  uvc_redis_unref(ac);
  ac->data = s;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  s->ac = ac;
  s->connected = 0;
  s->ready = 0;
  s->refusing = 0;
  s->setup_left = 0;
  s->connect_deadline = uv_now(s->loop) + UVC_REDIS_CONNECT_MS;
  if (s->password != NULL) {
    const char* argv[2] = {"AUTH", s->password};
    setup_cmd(s, ST_AUTH, 2, argv);
  }
  if (s->db != 0) {
    const char* argv[2] = {"SELECT", dbs};
    snprintf(dbs, sizeof dbs, "%d", s->db);
    setup_cmd(s, ST_SELECT, 2, argv);
  }
  {
    const char* argv[2] = {"INFO", "server"};
    setup_cmd(s, ST_INFO, 2, argv);
  }
  { /* a server restarted empty gets its schema key back */
    const char* argv[4] = {"SET", UVC_REDIS_PREFIX "schema", UVC_REDIS_SCHEMA_STR, "NX"};
    setup_cmd(s, ST_SETNX, 4, argv);
  }
  {
    const char* argv[2] = {"GET", UVC_REDIS_PREFIX "schema"};
    setup_cmd(s, ST_GET, 2, argv);
  }
  for (i = 0; i < N_SCRIPTS; i++) {
    const char* argv[3] = {"SCRIPT", "LOAD", kScripts[i]};
    setup_cmd(s, ST_SCRIPT + i, 3, argv);
  }
  update_ref(s);
}

/* Drops the connection now: every request on it calls back with UVC_STORE_DB. */
static void drop(redis_store_t* s, const char* why) {
  redisAsyncContext* ac = s->ac;
  if (ac == NULL) return;
  if (s->ready)
    UVC_WARN("store: dropping the Redis connection to %s: %s; reconnecting", s->label, why);
  else
    say(s, 0, why);
  s->ready = 0; /* logged here, not again by lost() */
  lost(s, ac);
  redisAsyncFree(ac);
}

static void on_tick(uv_timer_t* t) {
  redis_store_t* s = t->data;
  uint64_t now = uv_now(s->loop);
  if (s->ac == NULL && !s->closing && !s->resolving && now >= s->retry_at) {
    connect_async(s);
  } else if (s->ac != NULL && !s->ready && now >= s->connect_deadline) {
    drop(s, s->connected ? "no answer to the connection's setup in time" : "connecting timed out");
  } else if (s->ac != NULL && s->pending > 0 && now - s->last_progress >= UVC_REDIS_TIMEOUT_MS) {
    drop(s, "no reply in time");
  }
}

static void on_fin_closed(uv_handle_t* h) {
  redis_store_t* s = h->data;
  free(s->password);
  free(s);
}

/* Runs in a closing pass at or after the one that ran the adapter's poll handle's close
 * callback (that handle was closed before tick); fin's own callback runs in a later pass. */
static void on_tick_closed(uv_handle_t* h) {
  redis_store_t* s = h->data;
  uv_close((uv_handle_t*)&s->fin, on_fin_closed);
}

/* Nothing is in flight and the store is closing: frees the connection (its poll handle is
 * closed at once, by the adapter), then the timers, then the store. A name lookup in flight
 * is waited for (on_resolved calls again). */
static void teardown(redis_store_t* s) {
  redisAsyncContext* ac = s->ac;
  if (s->torn_down || s->resolving) return;
  s->ac = NULL;
  s->connected = 0;
  s->ready = 0;
  if (ac != NULL) redisAsyncFree(ac); /* deferred by hiredis when inside its callback */
  uv_timer_stop(&s->tick);
  s->torn_down = 1;
  uv_close((uv_handle_t*)&s->tick, on_tick_closed);
}

/* ---- Requests ------------------------------------------------------------------------- */

static int reply_int(const redisReply* r, long long* out) {
  if (r->type == REDIS_REPLY_INTEGER) {
    *out = r->integer;
    return 0;
  }
  if (r->type == REDIS_REPLY_STRING) {
    char* end;
    *out = strtoll(r->str, &end, 10);
    return end != r->str ? 0 : -1;
  }
  return -1;
}

/* The string of a reply (a string or an integer, as text into buf), or NULL. */
static const char* reply_str(const redisReply* r, char* buf, size_t cap) {
  if (r->type == REDIS_REPLY_STRING) return r->str;
  if (r->type == REDIS_REPLY_INTEGER) {
    snprintf(buf, cap, "%lld", r->integer);
    return buf;
  }
  return NULL;
}

/* A fetch's reply to the caller. Returns a status. */
static int deliver_fetch(rreq_t* q, const redisReply* r) {
  uvc_hist_rec_t* recs = NULL;
  size_t i, n;
  if (r->type == REDIS_REPLY_INTEGER) return UVC_STORE_NOT_FOUND;
  if (r->type != REDIS_REPLY_ARRAY) return UVC_STORE_DB;
  n = r->elements;
  if (n > 0 && (recs = calloc(n, sizeof(*recs))) == NULL) return UVC_STORE_NOMEM;
  for (i = 0; i < n; i++) {
    const redisReply* e = r->element[i];
    const char* f[12];
    char nb[5][24];
    long long v[5];
    size_t k;
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 12) {
      free(recs);
      return UVC_STORE_DB;
    }
    for (k = 0; k < 12; k++) {
      f[k] = reply_str(e->element[k], k < 5 ? nb[k] : NULL, k < 5 ? sizeof nb[k] : 0);
      if (f[k] == NULL && k >= 5) f[k] = "";
    }
    for (k = 0; k < 5; k++)
      if (reply_int(e->element[k], &v[k]) != 0) v[k] = 0;
    recs[i].pending = v[0] != 0;
    recs[i].seq = v[1];
    recs[i].time_ms = v[2];
    recs[i].kind = (int)v[3];
    recs[i].flags = (int)v[4];
    recs[i].owner = f[5];
    recs[i].target = f[6];
    recs[i].msgid = "";
    recs[i].nick = f[7];
    recs[i].user = f[8];
    recs[i].host = f[9];
    recs[i].account = f[10];
    recs[i].text = f[11];
    recs[i].text_len = e->element[11]->type == REDIS_REPLY_STRING ? (size_t)e->element[11]->len : 0;
    if (recs[i].text_len == 0) recs[i].text = "";
  }
  q->hist_cb(q->data, 0, recs, n);
  free(recs);
  return 0;
}

/* A targets reply to the caller. Returns a status. */
static int deliver_targets(rreq_t* q, const redisReply* r) {
  uvc_hist_target_t* t = NULL;
  size_t i, n;
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return UVC_STORE_DB;
  n = r->elements / 2;
  if (n > 0 && (t = calloc(n, sizeof(*t))) == NULL) return UVC_STORE_NOMEM;
  for (i = 0; i < n; i++) {
    long long last = 0;
    t[i].name = r->element[2 * i]->type == REDIS_REPLY_STRING ? r->element[2 * i]->str : NULL;
    if (t[i].name == NULL || reply_int(r->element[2 * i + 1], &last) != 0) {
      free(t);
      return UVC_STORE_DB;
    }
    t[i].last_ms = last;
  }
  q->targets_cb(q->data, 0, t, n);
  free(t);
  return 0;
}

/* A watch's reply to the caller. Returns a status. */
static int deliver_watch(rreq_t* q, const redisReply* r) {
  redis_store_t* s = q->s;
  const char** names = NULL;
  const char* token;
  size_t i, n;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_STRING ||
      (size_t)r->element[0]->len >= sizeof s->watch_token)
    return UVC_STORE_DB;
  token = r->element[0]->str;
  s->watching = 0;
  if (r->elements == 1 && strcmp(token, s->watch_token) == 0) {
    q->watch_cb(q->data, 0, 0, NULL, 0);
    return 0;
  }
  n = r->elements - 1;
  if (n > 0 && (names = malloc(n * sizeof(*names))) == NULL) return UVC_STORE_NOMEM;
  for (i = 0; i < n; i++)
    names[i] = r->element[i + 1]->type == REDIS_REPLY_STRING ? r->element[i + 1]->str : "";
  snprintf(s->watch_token, sizeof s->watch_token, "%s", token);
  q->watch_cb(q->data, 0, 1, names, n);
  free(names);
  return 0;
}

/* Calls the request's callback with a failure. */
static void fail(rreq_t* q, int status) {
  switch (q->op) {
    case R_GET:
      q->get_cb(q->data, status, NULL);
      break;
    case R_WATCH:
      q->s->watching = 0;
      q->watch_cb(q->data, status, 0, NULL, 0);
      break;
    case R_FETCH:
      q->hist_cb(q->data, status, NULL, 0);
      break;
    case R_TARGETS:
      q->targets_cb(q->data, status, NULL, 0);
      break;
    default:
      if (q->cb != NULL) q->cb(q->data, status);
      break;
  }
}

static void on_reply(redisAsyncContext* ac, void* reply, void* priv) {
  redisReply* r = reply;
  rreq_t* q = priv;
  redis_store_t* s = q->s;
  long long v = 0;
  int status = 0, noscript = 0;
  s->pending--;
  s->last_progress = uv_now(s->loop);
  s->dispatching = 1; /* a close from inside the callback waits until it returns */
  if (r == NULL) {    /* the connection is going away */
    lost(s, ac);
    status = UVC_STORE_DB;
  } else if (r->type == REDIS_REPLY_ERROR) {
    UVC_WARN("store: %s: %s", s->label, r->str);
    status = UVC_STORE_DB;
    noscript = strncmp(r->str, "NOSCRIPT", 8) == 0;
  }
  if (status == 0) {
    switch (q->op) {
      case R_GET:
        if (r->type == REDIS_REPLY_STRING)
          q->get_cb(q->data, 0, r->str);
        else
          status = r->type == REDIS_REPLY_NIL ? UVC_STORE_NOT_FOUND : UVC_STORE_DB;
        break;
      case R_WATCH:
        status = deliver_watch(q, r);
        break;
      case R_FETCH:
        status = deliver_fetch(q, r);
        break;
      case R_TARGETS:
        status = deliver_targets(q, r);
        break;
      case R_WRITE:
        if (r->type != REDIS_REPLY_INTEGER) status = UVC_STORE_DB;
        break;
      default: /* the scripts' 1 (done) or 0 (taken, or not found) */
        if (reply_int(r, &v) != 0)
          status = UVC_STORE_DB;
        else if (v == 0 && q->op == R_CREATE)
          status = UVC_STORE_EXISTS;
        else if (v == 0 && (q->op == R_SET_HASH || q->op == R_DELETE))
          status = UVC_STORE_NOT_FOUND;
        if (status == 0 && q->cb != NULL) q->cb(q->data, 0);
        break;
    }
  }
  if (q->op == R_WRITE) {
    wbatch_t* wb = q->wb;
    if (status != 0 && wb->status == 0) wb->status = status;
    if (--wb->parts == 0) {
      if (wb->cb != NULL) wb->cb(wb->data, wb->status);
      free(wb);
    }
  } else if (status != 0) {
    fail(q, status);
  }
  s->dispatching = 0;
  free(q);
  /* the server has lost the scripts (SCRIPT FLUSH): a new connection loads them again */
  if (noscript && s->ac == ac && !s->closing) drop(s, "it has lost the store's scripts");
  if (s->closing && s->pending == 0)
    teardown(s);
  else
    update_ref(s);
}

/* Sends one command for a request made of the given callbacks. Returns 0 (a callback will
 * run), or a negative code and none will. */
static int send_req(redis_store_t* s, rreq_t* proto, int argc, const char** argv,
                    const size_t* lens) {
  rreq_t* q;
  if (s->closing) return UVC_STORE_CLOSING;
  /* down, or no connection has loaded the scripts yet (Redis has not answered since the
   * start): unavailable. Else a request on a connection coming up waits behind its setup. */
  if (s->ac == NULL || !s->have_sha) return UVC_STORE_DB;
  if ((q = malloc(sizeof(*q))) == NULL) return UVC_STORE_NOMEM;
  *q = *proto;
  q->s = s;
  if (redisAsyncCommandArgv(s->ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
    free(q);
    return UVC_STORE_DB;
  }
  if (s->pending++ == 0) s->last_progress = uv_now(s->loop);
  update_ref(s);
  return 0;
}

/* Sends script sc with args[0..n) (lens may be NULL: measured). */
static int send_script(redis_store_t* s, rreq_t* proto, int sc, int nkeys, size_t n,
                       const char** args, const size_t* lens) {
  const char** argv = malloc((n + 3) * sizeof(*argv));
  size_t* alen = malloc((n + 3) * sizeof(*alen));
  char nk[8];
  size_t i;
  int rc;
  if (argv == NULL || alen == NULL || n + 3 > INT32_MAX) {
    free(argv);
    free(alen);
    return UVC_STORE_NOMEM;
  }
  snprintf(nk, sizeof nk, "%d", nkeys);
  argv[0] = "EVALSHA";
  argv[1] = s->sha[sc];
  argv[2] = nk;
  for (i = 0; i < n; i++)
    argv[3 + i] = args[i];
  for (i = 0; i < n + 3; i++)
    alen[i] = i >= 3 && lens != NULL ? lens[i - 3] : strlen(argv[i]);
  rc = send_req(s, proto, (int)(n + 3), argv, alen);
  free(argv);
  free(alen);
  return rc;
}

/* Copies s (non-empty, shorter than cap) lowercased into out; -1 when it is not. */
static int lower_arg(char* out, size_t cap, const char* s) {
  size_t n;
  if (s == NULL || (n = strlen(s)) == 0 || n >= cap) return -1;
  lower(out, s, n);
  return 0;
}

/* ---- Accounts ------------------------------------------------------------------------- */

static int account_op(uvc_store_t* store, uv_loop_t* loop, rop_t op, const char* name,
                      const char* hash, rreq_t* proto) {
  redis_store_t* s = rs(store);
  char key[sizeof(UVC_REDIS_PREFIX "acct:") + UVC_STORE_NAME_MAX];
  char created[24];
  const char* args[4];
  size_t n;
  if (loop == NULL || name == NULL || (n = strlen(name)) == 0 || n > UVC_STORE_NAME_MAX)
    return UVC_STORE_INVALID;
  if ((op == R_CREATE || op == R_SET_HASH) &&
      (hash == NULL || hash[0] == '\0' || strlen(hash) > UVC_STORE_HASH_MAX))
    return UVC_STORE_INVALID;
  memcpy(key, UVC_REDIS_PREFIX "acct:", sizeof(UVC_REDIS_PREFIX "acct:") - 1);
  lower(key + sizeof(UVC_REDIS_PREFIX "acct:") - 1, name, n);
  proto->op = op;
  if (op == R_GET) {
    const char* argv[3] = {"HGET", key, "hash"};
    return send_req(s, proto, 3, argv, NULL);
  }
  args[0] = key;
  if (op == R_CREATE) {
    snprintf(created, sizeof created, "%lld", (long long)time(NULL));
    args[1] = name;
    args[2] = hash;
    args[3] = created;
    return send_script(s, proto, SC_CREATE, 1, 4, args, NULL);
  }
  if (op == R_SET_HASH) {
    args[1] = hash;
    return send_script(s, proto, SC_SET_HASH, 1, 2, args, NULL);
  }
  return send_script(s, proto, SC_DELETE, 1, 1, args, NULL);
}

static int redis_create(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                        uvc_store_cb cb, void* data) {
  rreq_t p = {0};
  if (cb == NULL) return UVC_STORE_INVALID;
  p.cb = cb;
  p.data = data;
  return account_op(store, loop, R_CREATE, name, hash, &p);
}

static int redis_get(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_get_cb cb,
                     void* data) {
  rreq_t p = {0};
  if (cb == NULL) return UVC_STORE_INVALID;
  p.get_cb = cb;
  p.data = data;
  return account_op(store, loop, R_GET, name, NULL, &p);
}

static int redis_set_hash(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                          uvc_store_cb cb, void* data) {
  rreq_t p = {0};
  if (cb == NULL) return UVC_STORE_INVALID;
  p.cb = cb;
  p.data = data;
  return account_op(store, loop, R_SET_HASH, name, hash, &p);
}

static int redis_delete(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_cb cb,
                        void* data) {
  rreq_t p = {0};
  if (cb == NULL) return UVC_STORE_INVALID;
  p.cb = cb;
  p.data = data;
  return account_op(store, loop, R_DELETE, name, NULL, &p);
}

static int redis_watch(uvc_store_t* store, uv_loop_t* loop, uvc_store_watch_cb cb, void* data) {
  redis_store_t* s = rs(store);
  rreq_t p = {0};
  const char* args[1] = {s->watch_token};
  int rc;
  if (cb == NULL || loop == NULL) return UVC_STORE_INVALID;
  if (s->watching) return UVC_STORE_BUSY;
  p.op = R_WATCH;
  p.watch_cb = cb;
  p.data = data;
  rc = send_script(s, &p, SC_WATCH, 0, 1, args, NULL);
  if (rc == 0) s->watching = 1;
  return rc;
}

static void redis_watch_again(uvc_store_t* store) {
  rs(store)->watch_token[0] = '\0';
}

/* ---- History -------------------------------------------------------------------------- */

/* Sends events [from, to) of b as one write script for wb. Returns 0 or a negative code. */
static int send_write(redis_store_t* s, const uvc_hist_batch_t* b, size_t from, size_t to,
                      const uvc_hist_bounds_t* bounds, wbatch_t* wb) {
  size_t n = to - from, i, k = 0, nargs = 2 + 14 * n, used = 0, cap = 2 * 24;
  const char** args;
  size_t* lens;
  char* buf;
  rreq_t p = {0};
  int rc = UVC_STORE_NOMEM;
  /* room for the two bounds, and per event its two lowercased names and five numbers */
  for (i = from; i < to; i++) {
    uvc_hist_rec_t e;
    uvc_hist_batch_get(b, i, &e);
    cap += strlen(e.owner) + strlen(e.target) + 2 + 5 * 24;
  }
  args = malloc(nargs * sizeof(*args));
  lens = malloc(nargs * sizeof(*lens));
  buf = malloc(cap);
  if (args != NULL && lens != NULL && buf != NULL) {
#define PUT_NUM(v)                                                     \
  do {                                                                 \
    int w_ = snprintf(buf + used, cap - used, "%lld", (long long)(v)); \
    args[k] = buf + used;                                              \
    lens[k++] = (size_t)w_;                                            \
    used += (size_t)w_ + 1;                                            \
  } while (0)
#define PUT_LOWER(str)            \
  do {                            \
    size_t l_ = strlen(str);      \
    lower(buf + used, (str), l_); \
    args[k] = buf + used;         \
    lens[k++] = l_;               \
    used += l_ + 1;               \
  } while (0)
#define PUT_STR(str)         \
  do {                       \
    args[k] = (str);         \
    lens[k++] = strlen(str); \
  } while (0)
    PUT_NUM(bounds != NULL ? bounds->count_room : 0);
    PUT_NUM(bounds != NULL ? bounds->count_private : 0);
    for (i = from; i < to; i++) {
      uvc_hist_rec_t e;
      uvc_hist_batch_get(b, i, &e);
      PUT_LOWER(e.owner);
      PUT_LOWER(e.target);
      PUT_NUM(e.seq);
      PUT_NUM(e.time_ms);
      PUT_NUM(e.kind);
      PUT_NUM(e.flags);
      PUT_NUM(e.pending ? 1 : 0);
      PUT_STR(e.owner);
      PUT_STR(e.target);
      PUT_STR(e.nick);
      PUT_STR(e.user);
      PUT_STR(e.host);
      PUT_STR(e.account);
      PUT_STR(e.text);
    }
#undef PUT_NUM
#undef PUT_LOWER
#undef PUT_STR
    p.op = R_WRITE;
    p.wb = wb;
    rc = send_script(s, &p, SC_WRITE, 0, nargs, args, lens);
  }
  free(args);
  free(lens);
  free(buf);
  return rc;
}

/* A batch goes as one script per UVC_REDIS_WRITE_CHUNK events, pipelined: each script is
 * atomic and short, so that a big batch does not hold Redis (and the cluster's other
 * traffic on it) for long. */
static int redis_hist_write(uvc_store_t* store, uv_loop_t* loop, uvc_hist_batch_t* b,
                            const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data) {
  redis_store_t* s = rs(store);
  size_t n = uvc_hist_batch_count(b), from;
  wbatch_t* wb;
  int rc = 0;
  if (loop == NULL) {
    uvc_hist_batch_free(b);
    return UVC_STORE_INVALID;
  }
  if ((wb = calloc(1, sizeof(*wb))) == NULL) {
    uvc_hist_batch_free(b);
    return UVC_STORE_NOMEM;
  }
  wb->cb = cb;
  wb->data = data;
  for (from = 0; from < n; from += UVC_REDIS_WRITE_CHUNK) {
    size_t to = n - from > UVC_REDIS_WRITE_CHUNK ? from + UVC_REDIS_WRITE_CHUNK : n;
    if ((rc = send_write(s, b, from, to, bounds, wb)) != 0) break;
    wb->parts++;
  }
  uvc_hist_batch_free(b); /* hiredis has its own copy of the commands */
  if (wb->parts == 0) {   /* nothing went: no callback */
    free(wb);
    return rc;
  }
  if (rc != 0) wb->status = rc; /* told when the parts that went have answered */
  return 0;
}

static int redis_hist_fetch(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_query_t* q,
                            uvc_store_hist_cb cb, void* data) {
  static const char* const kHow[] = {"latest", "before", "after", "around", "between", "pending"};
  char owner[UVC_HIST_FIELD_MAX + 1], target[UVC_HIST_FIELD_MAX + 1], nums[5][24];
  const char* args[9];
  char closed[24];
  rreq_t p = {0};
  unsigned limit;
  size_t n;
  if (q == NULL || cb == NULL || loop == NULL || q->owner == NULL) return UVC_STORE_INVALID;
  if ((unsigned)q->how > UVC_HIST_PENDING) return UVC_STORE_INVALID;
  if (q->how != UVC_HIST_PENDING && (q->target == NULL || q->target[0] == '\0'))
    return UVC_STORE_INVALID;
  if (q->how == UVC_HIST_PENDING && q->owner[0] == '\0') return UVC_STORE_INVALID;
  if ((n = strlen(q->owner)) > UVC_HIST_FIELD_MAX) return UVC_STORE_INVALID;
  lower(owner, q->owner, n);
  target[0] = '\0';
  if (q->how != UVC_HIST_PENDING) {
    if ((n = strlen(q->target)) > UVC_HIST_FIELD_MAX) return UVC_STORE_INVALID;
    lower(target, q->target, n);
  }
  limit = q->limit == 0 || q->limit > UVC_HIST_FETCH_MAX ? UVC_HIST_FETCH_MAX : q->limit;
  snprintf(nums[0], sizeof nums[0], "%lld", (long long)q->a.seq);
  snprintf(nums[1], sizeof nums[1], "%lld", (long long)q->a.time_ms);
  snprintf(nums[2], sizeof nums[2], "%lld", (long long)q->b.seq);
  snprintf(nums[3], sizeof nums[3], "%lld", (long long)q->b.time_ms);
  snprintf(nums[4], sizeof nums[4], "%u", limit);
  args[0] = owner;
  args[1] = target;
  args[2] = kHow[q->how - UVC_HIST_LATEST];
  args[3] = nums[0];
  args[4] = nums[1];
  args[5] = nums[2];
  args[6] = nums[3];
  args[7] = nums[4];
  snprintf(closed, sizeof closed, "%lld", (long long)(q->closed_before > 0 ? q->closed_before : 0));
  args[8] = closed;
  p.op = R_FETCH;
  p.hist_cb = cb;
  p.data = data;
  return send_script(rs(store), &p, SC_FETCH, 0, 9, args, NULL);
}

static int redis_hist_targets(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                              const char* const* rooms, size_t n_rooms, int64_t from_ms,
                              int64_t to_ms, unsigned limit, uvc_store_targets_cb cb, void* data) {
  const char** args;
  char* buf;
  char nums[3][24];
  size_t i, total, olen, used;
  rreq_t p = {0};
  int rc;
  if (owner == NULL || cb == NULL || loop == NULL || (n_rooms > 0 && rooms == NULL))
    return UVC_STORE_INVALID;
  if (n_rooms > 900) return UVC_STORE_INVALID; /* as the SQLite store */
  if ((olen = strlen(owner)) > UVC_HIST_FIELD_MAX) return UVC_STORE_INVALID;
  total = olen + 1;
  for (i = 0; i < n_rooms; i++)
    total += strlen(rooms[i]) + 1;
  if (from_ms > to_ms) {
    int64_t t = from_ms;
    from_ms = to_ms;
    to_ms = t;
  }
  limit = limit == 0 || limit > UVC_HIST_FETCH_MAX ? UVC_HIST_FETCH_MAX : limit;
  args = malloc((4 + n_rooms) * sizeof(*args));
  buf = malloc(total);
  if (args == NULL || buf == NULL) {
    free(args);
    free(buf);
    return UVC_STORE_NOMEM;
  }
  lower(buf, owner, olen);
  used = olen + 1;
  snprintf(nums[0], sizeof nums[0], "%lld", (long long)from_ms);
  snprintf(nums[1], sizeof nums[1], "%lld", (long long)to_ms);
  snprintf(nums[2], sizeof nums[2], "%u", limit);
  args[0] = buf;
  args[1] = nums[0];
  args[2] = nums[1];
  args[3] = nums[2];
  for (i = 0; i < n_rooms; i++) {
    size_t n = strlen(rooms[i]);
    lower(buf + used, rooms[i], n);
    args[4 + i] = buf + used;
    used += n + 1;
  }
  p.op = R_TARGETS;
  p.targets_cb = cb;
  p.data = data;
  rc = send_script(rs(store), &p, SC_TARGETS, 0, 4 + n_rooms, args, NULL);
  free(args);
  free(buf);
  return rc;
}

/* A delete keyed by a name (an owner or a room). */
static int delete_by(uvc_store_t* store, uv_loop_t* loop, int sc, const char* name, uvc_store_cb cb,
                     void* data) {
  char lc[UVC_STORE_NAME_MAX + 1];
  const char* args[1] = {lc};
  rreq_t p = {0};
  if (loop == NULL || lower_arg(lc, sizeof lc, name) != 0) return UVC_STORE_INVALID;
  p.op = R_DONE;
  p.cb = cb;
  p.data = data;
  return send_script(rs(store), &p, sc, 0, 1, args, NULL);
}

static int redis_hist_delete_owner(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                                   uvc_store_cb cb, void* data) {
  return delete_by(store, loop, SC_DELETE_OWNER, owner, cb, data);
}

static int redis_hist_delete_room(uvc_store_t* store, uv_loop_t* loop, const char* room,
                                  uvc_store_cb cb, void* data) {
  return delete_by(store, loop, SC_DELETE_ROOM, room, cb, data);
}

static int redis_hist_prune(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_bounds_t* bounds,
                            uvc_store_cb cb, void* data) {
  char cut[24];
  const char* args[1] = {cut};
  rreq_t p = {0};
  uv_timeval64_t now;
  int64_t now_ms;
  if (bounds == NULL || loop == NULL) return UVC_STORE_INVALID;
  now_ms = uv_gettimeofday(&now) == 0 ? now.tv_sec * 1000 + now.tv_usec / 1000
                                      : (int64_t)time(NULL) * 1000;
  snprintf(cut, sizeof cut, "%lld",
           bounds->max_age_ms > 0 ? (long long)(now_ms - bounds->max_age_ms) : 0LL);
  p.op = R_DONE;
  p.cb = cb;
  p.data = data;
  return send_script(rs(store), &p, SC_PRUNE, 0, 1, args, NULL);
}

/* ---- Opening, and the blocking parts ---------------------------------------------------- */

/* One command on a blocking context; its reply (to free), or NULL with the reason in err. */
static redisReply* sync_cmd(redisContext* c, int argc, const char** argv, const char* what,
                            const char* label, char* err, size_t errlen) {
  redisReply* r = redisCommandArgv(c, argc, argv, NULL);
  if (r == NULL) {
    uvc_errf(err, errlen, "%s: %s: %s", label, what, c->errstr[0] ? c->errstr : "no reply");
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    uvc_errf(err, errlen, "%s: %s: %s", label, what, r->str);
    freeReplyObject(r);
    return NULL;
  }
  return r;
}

/* A blocking connection to the store's server, authenticated and on its database; NULL
 * with the reason in err, and *unreachable set when the server did not answer (no
 * connection, or no reply in time) rather than refused. */
static redisContext* connect_sync(const redis_store_t* s, const char* host, int* unreachable,
                                  char* err, size_t errlen) {
  struct timeval tv;
  redisContext* c;
  redisReply* r;
  char dbs[16];
  tv.tv_sec = UVC_REDIS_CONNECT_MS / 1000;
  tv.tv_usec = (UVC_REDIS_CONNECT_MS % 1000) * 1000;
  *unreachable = 0;
  c = redisConnectWithTimeout(host, s->port, tv);
  if (c == NULL || c->err != 0) {
    *unreachable = c != NULL;
    uvc_errf(err, errlen, "%s: cannot connect: %s", s->label, c != NULL ? c->errstr : "no memory");
    if (c != NULL) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv);
  if (s->password != NULL) {
    const char* argv[2] = {"AUTH", s->password};
    if ((r = sync_cmd(c, 2, argv, "AUTH", s->label, err, errlen)) == NULL) {
      *unreachable = c->err != 0;
      redisFree(c);
      return NULL;
    }
    freeReplyObject(r);
  }
  {
    const char* argv[2] = {"SELECT", dbs};
    snprintf(dbs, sizeof dbs, "%d", s->db);
    if ((r = sync_cmd(c, 2, argv, "SELECT", s->label, err, errlen)) == NULL) {
      *unreachable = c->err != 0;
      redisFree(c);
      return NULL;
    }
    freeReplyObject(r);
  }
  return c;
}

/* Checks the server (7.0 or later), the schema key, and loads the scripts. */
static int check_server(redis_store_t* s, redisContext* c, char* err, size_t errlen) {
  const char* info[2] = {"INFO", "server"};
  const char* setnx[4] = {"SET", UVC_REDIS_PREFIX "schema", UVC_REDIS_SCHEMA_STR, "NX"};
  const char* get[2] = {"GET", UVC_REDIS_PREFIX "schema"};
  redisReply* r;
  long long v = 0;
  int i;
  if ((r = sync_cmd(c, 2, info, "INFO", s->label, err, errlen)) == NULL) return UVC_STORE_DB;
  if (r->type == REDIS_REPLY_STRING) {
    const char* p = strstr(r->str, "redis_version:");
    if (p != NULL && atoi(p + strlen("redis_version:")) < 7) {
      uvc_errf(err, errlen, "%s: Redis %.*s is too old: uvchat needs 7.0 or later", s->label,
               (int)strcspn(p + 14, "\r\n"), p + 14);
      freeReplyObject(r);
      return UVC_STORE_DB;
    }
  }
  freeReplyObject(r);
  if ((r = sync_cmd(c, 4, setnx, "SET schema", s->label, err, errlen)) == NULL) return UVC_STORE_DB;
  freeReplyObject(r);
  if ((r = sync_cmd(c, 2, get, "GET schema", s->label, err, errlen)) == NULL) return UVC_STORE_DB;
  if (reply_int(r, &v) != 0) v = -1;
  freeReplyObject(r);
  if (v > UVC_REDIS_SCHEMA) {
    uvc_errf(err, errlen,
             "%s: schema version %lld is newer than this uvchat knows (%d): use a newer uvchat",
             s->label, v, UVC_REDIS_SCHEMA);
    return UVC_STORE_NEWER;
  }
  if (v < 1) {
    uvc_errf(err, errlen, "%s: %sschema is not a schema version", s->label, UVC_REDIS_PREFIX);
    return UVC_STORE_DB;
  }
  for (i = 0; i < N_SCRIPTS; i++) {
    const char* argv[3] = {"SCRIPT", "LOAD", kScripts[i]};
    if ((r = sync_cmd(c, 3, argv, "SCRIPT LOAD", s->label, err, errlen)) == NULL)
      return UVC_STORE_DB;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
      uvc_errf(err, errlen, "%s: SCRIPT LOAD: an unexpected reply", s->label);
      freeReplyObject(r);
      return UVC_STORE_DB;
    }
    memcpy(s->sha[i], r->str, 41);
    freeReplyObject(r);
  }
  /* the address to reconnect to: the one the name resolved to now, so that no reconnect
   * waits on a name lookup on the loop */
  {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(c->fd, (struct sockaddr*)&ss, &sl) == 0) {
      if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in*)&ss)->sin_addr, s->ip, sizeof s->ip);
      else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6*)&ss)->sin6_addr, s->ip, sizeof s->ip);
      s->have_ip = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
    }
  }
  s->have_sha = 1;
  return 0;
}

/* What opening checks, on a blocking connection. Returns 0, or a negative code with the
 * reason in err and *unreachable set when Redis did not answer (rather than refused). */
static int probe(redis_store_t* s, const char* host, int* unreachable, char* err, size_t errlen) {
  redisContext* c = connect_sync(s, host, unreachable, err, errlen);
  int rc;
  if (c == NULL) return UVC_STORE_DB;
  rc = check_server(s, c, err, errlen);
  if (rc != 0 && c->err != 0) *unreachable = 1; /* the connection broke, or timed out */
  redisFree(c);
  return rc;
}

int uvc_store_open_redis(uvc_store_t** out, uv_loop_t* loop, const char* host, int port,
                         const char* password, int db, char* err, size_t errlen) {
  redis_store_t* s;
  struct in6_addr a6;
  int rc, unreachable = 0;
  *out = NULL;
  uvc_errf(err, errlen, "%s", "");
  if (loop == NULL || host == NULL || host[0] == '\0' || strlen(host) > 255 || port <= 0 ||
      port > 65535 || db < 0) {
    uvc_errf(err, errlen, "invalid Redis address");
    return UVC_STORE_INVALID;
  }
  if ((s = calloc(1, sizeof(*s))) == NULL ||
      (password != NULL && password[0] != '\0' && (s->password = strdup(password)) == NULL)) {
    free(s);
    uvc_errf(err, errlen, "out of memory");
    return UVC_STORE_NOMEM;
  }
  s->head.ops = &redis_ops;
  s->loop = loop;
  s->port = port;
  s->db = db;
  s->backoff_ms = UVC_REDIS_BACKOFF_MIN_MS;
  snprintf(s->label, sizeof s->label, "redis://%s:%d/%d", host, port, db);
  snprintf(s->host, sizeof s->host, "%s", host);
  snprintf(s->ip, sizeof s->ip, "%s", host);
  s->have_ip = inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
  rc = probe(s, host, &unreachable, err, errlen);
  if (rc != 0 && !unreachable) { /* Redis answered, and refused: a misconfiguration */
    free(s->password);
    free(s);
    return rc;
  }
  if (rc != 0) { /* not there yet: the store comes up when it answers */
    UVC_WARN(
        "store: %s; starting without it: what needs the accounts and history is "
        "unavailable until Redis answers",
        err);
    snprintf(s->said, sizeof s->said, "%s", "cannot connect");
    uvc_errf(err, errlen, "%s", "");
  }
  uv_timer_init(loop, &s->tick); /* cannot fail (libuv) */
  uv_timer_init(loop, &s->fin);
  s->tick.data = s;
  s->fin.data = s;
  uv_unref((uv_handle_t*)&s->fin);
  uv_timer_start(&s->tick, on_tick, 100, 100);
  s->tick_ref = 1;
  connect_async(s);
  *out = (uvc_store_t*)(void*)s;
  return 0;
}

int uvc_store_open_redis_url(uvc_store_t** out, uv_loop_t* loop, const char* url, char* err,
                             size_t errlen) {
  uvc_cluster_url_t u; /* the one parser of redis:// URLs: the cluster's (--cluster) */
  *out = NULL;
  if (url == NULL || uvc_cluster_parse_url(url, &u, err, errlen) != 0) {
    if (url == NULL) uvc_errf(err, errlen, "no redis:// URL");
    return UVC_STORE_INVALID;
  }
  return uvc_store_open_redis(out, loop, u.host, u.port, u.password[0] != '\0' ? u.password : NULL,
                              u.db, err, errlen);
}

int uvc_store_redis_connected(const uvc_store_t* s) {
  return s != NULL && ((const uvc_store_head_t*)(const void*)s)->ops == &redis_ops && crs(s)->ready;
}

static int redis_each_name(uvc_store_t* store, uvc_store_name_fn fn, void* ud, char* err,
                           size_t errlen) {
  redis_store_t* s = rs(store);
  redisContext* c;
  char cursor[32] = "0";
  int stop = 0, unreachable;
  /* Redis has not answered since the store opened: no names yet (the first watch that
   * reaches it reports them all) */
  if (!s->have_sha) return 0;
  if ((c = connect_sync(s, s->ip, &unreachable, err, errlen)) == NULL) return UVC_STORE_DB;
  do {
    const char* argv[5] = {"SSCAN", UVC_REDIS_PREFIX "names", cursor, "COUNT", "1000"};
    redisReply* r = sync_cmd(c, 5, argv, "SSCAN names", s->label, err, errlen);
    size_t i;
    if (r == NULL) {
      redisFree(c);
      return UVC_STORE_DB;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
      uvc_errf(err, errlen, "%s: SSCAN: an unexpected reply", s->label);
      freeReplyObject(r);
      redisFree(c);
      return UVC_STORE_DB;
    }
    snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
    for (i = 0; stop == 0 && i < r->element[1]->elements; i++) {
      const redisReply* e = r->element[1]->element[i];
      if (e->type == REDIS_REPLY_STRING) stop = fn(ud, e->str, (size_t)e->len);
    }
    freeReplyObject(r);
  } while (stop == 0 && strcmp(cursor, "0") != 0);
  redisFree(c);
  return stop;
}

/* ---- The rest of the table ------------------------------------------------------------ */

static void redis_close(uvc_store_t* store) {
  redis_store_t* s = rs(store);
  if (s->closing) return;
  s->closing = 1;
  if (s->resolving) uv_cancel((uv_req_t*)&s->gai); /* on_resolved tears down */
  if (s->pending == 0 && !s->dispatching) teardown(s);
}

static unsigned redis_pending(const uvc_store_t* store) {
  return crs(store)->pending;
}

static int redis_schema_version(const uvc_store_t* store) {
  (void)store;
  return UVC_REDIS_SCHEMA;
}

static const char* redis_path(const uvc_store_t* store) {
  return crs(store)->label;
}

static const uvc_store_ops_t redis_ops = {
    "redis",
    redis_close,
    redis_pending,
    redis_schema_version,
    redis_path,
    redis_create,
    redis_get,
    redis_set_hash,
    redis_delete,
    redis_watch,
    redis_watch_again,
    redis_each_name,
    redis_hist_write,
    redis_hist_fetch,
    redis_hist_targets,
    redis_hist_delete_owner,
    redis_hist_delete_room,
    redis_hist_prune,
};
