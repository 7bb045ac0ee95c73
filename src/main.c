/* main.c: uvchat's entry point: reads the command line, starts the server, runs the loop,
 * and turns the outcome into an exit status (0 clean stop, 1 runtime error, 2 usage). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "uvchat/config.h"
#include "uvchat/log.h"
#include "uvchat/server.h"
#include "uvchat/text.h"
#include "uvchat/version.h"

static void print_open_handle(uv_handle_t* h, void* arg) {
  (void)arg;
  UVC_ERROR("handle still open at exit: %s", uv_handle_type_name(uv_handle_get_type(h)));
}

int main(int argc, char** argv) {
  uvc_config_t cfg;
  char err[256];
  char bound[64];
  uv_loop_t loop;
  uvc_server_t* srv;
  int r, status;

  uvc_config_defaults(&cfg);
  switch (uvc_config_parse(&cfg, argc, argv, err, sizeof(err))) {
    case UVC_CONFIG_HELP:
      uvc_config_usage(stdout, "uvchat");
      return 0;
    case UVC_CONFIG_VERSION:
      printf("uvchat %s (libuv %s)\n", UVCHAT_VERSION, uv_version_string());
      return 0;
    case UVC_CONFIG_ERROR:
      fprintf(stderr, "uvchat: %s\nTry 'uvchat --help' for the options.\n", err);
      return 2;
    case UVC_CONFIG_OK:
      break;
  }
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a peer that vanished is an EPIPE, not a dead server */
#endif
  uvc_log_set_level(cfg.log_level);

  if ((r = uv_loop_init(&loop)) != 0) {
    fprintf(stderr, "uvchat: cannot start the event loop: %s\n", uv_strerror(r));
    return 1;
  }
  srv = malloc(sizeof(*srv));
  if (srv == NULL || uvc_server_init(srv, &loop, &cfg) != 0) {
    fprintf(stderr, "uvchat: out of memory\n");
    return 1;
  }
  /* Signals are watched before the port is announced: a script that reads the port and
   * stops the server at once must get a clean stop. */
  if ((r = uvc_server_start(srv)) != 0) {
    fprintf(stderr, "uvchat: cannot watch for signals: %s\n", uv_strerror(r));
    srv->exit_code = 1;
    uvc_server_stop(srv);
  } else if ((r = uvc_server_listen(srv, cfg.host, cfg.port, &uvc_text_adapter, bound,
                                    sizeof(bound), err, sizeof(err))) != 0) {
    fprintf(stderr, "uvchat: %s\n", err);
    srv->exit_code = 1;
    uvc_server_stop(srv);
  } else {
    printf("listening on %s (text)\n", bound);
    fflush(stdout);
  }

  uv_run(&loop, UV_RUN_DEFAULT);

  status = srv->exit_code;
  uvc_server_free(srv);
  free(srv);
  if ((r = uv_loop_close(&loop)) != 0) {
    uv_walk(&loop, print_open_handle, NULL);
    UVC_ERROR("the event loop did not close cleanly: %s", uv_strerror(r));
    status = 1;
  } else if (status == 0) {
    UVC_INFO("stopped cleanly");
  }
  return status;
}
