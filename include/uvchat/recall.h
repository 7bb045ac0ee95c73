/* recall.h: the history of rooms and private messages, plugged into the core.
 *
 * uvc_recall_open() plugs into core->history: the core hands it every room message,
 * action, notice and topic change (not those of a room with UVC_ROOM_NO_HISTORY) and every
 * private message with a logged-in party; it turns each into a store record and gives it
 * to the history writer (history.h), which batches them onto the thread pool. Reads that
 * adapters start through uvc_core_history() go to the store behind the writer, and come
 * back as events (sender, time, message id, text: everything a renderer needs) through the
 * adapter's on_history entry point.
 *
 * Private messages: kept once for each party that is logged in to an account (the
 * account's copy); one to a registered account nobody is logged in to is kept as pending
 * and handed to the account's next login (UVC_HQ_AWAY). An account's copies are deleted
 * with the account. Only compiled with UVCHAT_WITH_ACCOUNTS.
 */
#ifndef UVCHAT_RECALL_H
#define UVCHAT_RECALL_H

#include <uv.h>

#include "uvchat/core.h"
#include "uvchat/history.h"
#include "uvchat/store.h"

typedef struct uvc_recall uvc_recall_t;

/* Plugs a history for core into core->history, kept in store (not owned) through a writer
 * with limits. Returns 0 or UVC_STORE_NOMEM. */
int uvc_recall_open(uvc_recall_t** out, uv_loop_t* loop, uvc_core_t* core, uvc_store_t* store,
                    const uvc_history_limits_t* limits);
void uvc_recall_set_limits(uvc_recall_t* r, const uvc_history_limits_t* limits);
/* The writer's counts (for the log and the benchmark). */
void uvc_recall_stats(const uvc_recall_t* r, uvc_history_stats_t* out);
/* Unplugs from the core, writes what waits and frees everything once the store has
 * answered: call it before closing the store, then let the loop run. NULL is ignored. */
void uvc_recall_close(uvc_recall_t* r);

#endif
