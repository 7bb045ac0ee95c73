/* opers.h: server operators, checked against the configuration's Argon2id hashes.
 *
 * The configuration's `oper = NAME HASH` lines reach the core as core->oper_lines (the
 * server sets it at start and on every reload). OPER NAME PASSWORD (or /oper) comes here
 * through core->opers: the hash of NAME is checked on libuv's thread pool (password.c), so
 * the loop never waits for Argon2id, and failed attempts count against the client's address
 * like failed logins (the accounts' throttle). The answer reaches the adapter's on_auth with
 * op UVC_AUTH_OPER: 0 (the session is an operator now), UVC_EOPER_UNAVAILABLE (no operator
 * by that name), UVC_EOPER_FAILED (wrong password), or UVC_EAUTH_THROTTLED/UVC_EAUTH_BUSY.
 *
 * Compiled only with accounts (it needs libsodium); without it core->opers stays NULL and
 * every OPER is answered UVC_EOPER_UNAVAILABLE.
 */
#ifndef UVCHAT_OPERS_H
#define UVCHAT_OPERS_H

#include <stdio.h>
#include <uv.h>

#include "uvchat/core.h"

typedef struct uvc_opers uvc_opers_t;

/* Creates the module and plugs it into core (core->opers). NULL when out of memory. */
uvc_opers_t* uvc_opers_new(uv_loop_t* loop, uvc_core_t* core);
/* Unplugs it from the core and frees it. Checks still on the thread pool finish without
 * it (their answer goes nowhere). Call once the loop has stopped. */
void uvc_opers_free(uvc_opers_t* o);

/* --hash-password: reads one line from in (the password, without its newline), writes its
 * Argon2id hash and a newline to out. Returns 0, or 2 after writing why to err. */
int uvc_opers_hash_stdin(FILE* in, FILE* out, FILE* err);

#endif
