/* schema.c: every table and index of the uvchat database, as ordered migrations.
 *
 * This is the one place the schema lives: the SQLite store (store.c) applies the migrations
 * a database lacks when it opens it, in one transaction, and records the version reached in
 * schema_version. Migration n (1-based) takes the schema from version n - 1 to n. Never edit
 * one that has shipped: add the next, and raise UVC_STORE_SCHEMA in store.h.
 */
#include "schema.h"

#include "uvchat/store.h"

const char* const uvc_schema_migrations[] = {
    /* 1: accounts by name, ignoring ASCII case as nicks do */
    "CREATE TABLE accounts(name TEXT PRIMARY KEY COLLATE NOCASE, hash TEXT NOT NULL,"
    " created INTEGER NOT NULL)",

    /* 2: history. One row per remembered event, clustered by history and order (WITHOUT
     * ROWID: one b-tree to write per event, and a history's events side by side). A room's
     * events have owner '' and the room as target; a private message is kept once for each
     * registered party, with that party's account as owner and the other party's nick as
     * target. seq orders the events: uvchat's event id, which grows with time and whose hex is the
     * message id clients see; pending 1:
     * a private message kept for an account that was offline, not yet delivered. */
    "CREATE TABLE history(owner TEXT NOT NULL COLLATE NOCASE,"
    " target TEXT NOT NULL COLLATE NOCASE,"
    " seq INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL,"
    " kind INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " pending INTEGER NOT NULL,"
    " nick TEXT NOT NULL, user TEXT NOT NULL, host TEXT NOT NULL, account TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " PRIMARY KEY(owner, target, seq)) WITHOUT ROWID;"
    "CREATE INDEX history_pending ON history(owner, seq) WHERE pending = 1",

    /* 3: a room's events in chunks: one row per room per batch, its events packed in data
     * (hchunk.h), so that keeping history costs a row per batch, not a row and a delete per
     * event. A room's chunks cover disjoint ranges of seq, in order. room_state keeps, per
     * room, the first seq still kept (floor: the count bound hides the events before it
     * and deletes the chunks wholly before it), how many events from there on (count), and
     * the last seq (a batch past it needs no duplicate check). The room rows of history move
     * here (store.c, as this migration runs); history keeps the private messages. */
    "CREATE TABLE room_chunks(room TEXT NOT NULL COLLATE NOCASE,"
    " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
    " min_ms INTEGER NOT NULL, max_ms INTEGER NOT NULL, n INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE INDEX room_chunks_seq ON room_chunks(room, first_seq);"
    "CREATE TABLE room_state(room TEXT PRIMARY KEY COLLATE NOCASE,"
    " floor INTEGER NOT NULL, count INTEGER NOT NULL, last_seq INTEGER NOT NULL) WITHOUT ROWID",
};

_Static_assert(sizeof(uvc_schema_migrations) / sizeof(uvc_schema_migrations[0]) == UVC_STORE_SCHEMA,
               "one migration per schema version");
