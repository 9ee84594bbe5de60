// One spawned child on the event loop: stdout and stderr read with uv_poll, exit reaped through its pidfd.
//
// Why not net.Socket over the pipes: each one costs the gateway a JS stream with a libuv handle
// (fstat, isatty, fcntl, FIONBIO, close callbacks, 'end'/'close' ticks): ~9 % of the main thread
// on /cgi-bin/hello.sh for two sockets per child. Here a pipe costs one uv_poll_t and reads into
// a static buffer; JS hears about stdout once per readable event (data and EOF together when the
// child has already exited) and about stderr only when it wrote something. RFC 3875 §6: stdout is
// the response; stderr goes to the log.
//
// Order: when the pidfd says the child exited, every byte the leader wrote to stderr is already
// in the pipe, so it is read and passed on before on_exit: the log lines precede the exit.
// Reaping: waitid(P_PID, pid) for that pid only, never waitpid(-1) (libuv reaps its own).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "child_io.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

typedef struct child_s child_t;

typedef struct {
  uv_poll_t poll; /* first member: a uv_poll_t* is a pipe_t* */
  child_t *child;
  int fd;
  bool open;   /* initialised and not closing */
  bool active; /* polling */
} pipe_t;

struct child_s {
  uv_poll_t exit_poll; /* on the pidfd; first member */
  pipe_t out, err;
  napi_env env;
  napi_ref on_exit, on_stdout, on_stderr;
  napi_async_context async;
  pid_t pid;
  int pidfd;
  int refs;    /* open handles + the JS External: the struct is freed at 0 */
  int handles; /* open handles: at 0 no callback can come any more */
  bool reaped, err_eof;
};

/* The main thread's read buffer: callbacks never nest, and JS gets a copy. */
static char read_buf[64 * 1024];

/*
 * The JS callbacks are held by strong references, and what they close over (the request, its
 * response, the child's JS wrapper) holds the External. Were the references kept until the
 * External's finalizer, they would keep the External alive themselves: every request would leak.
 * So they go as soon as the last handle closed, when no callback can come any more.
 */
static void drop_callbacks(child_t *c) {
  if (c->on_exit == NULL) return;
  napi_delete_reference(c->env, c->on_exit);
  napi_delete_reference(c->env, c->on_stdout);
  napi_delete_reference(c->env, c->on_stderr);
  napi_async_destroy(c->env, c->async);
  c->on_exit = c->on_stdout = c->on_stderr = NULL;
  c->async = NULL;
}

static void release(child_t *c) {
  if (--c->refs > 0) return;
  drop_callbacks(c);
  free(c);
}

static void handle_closed(child_t *c) {
  if (--c->handles == 0) drop_callbacks(c);
  release(c);
}

static void on_pipe_closed(uv_handle_t *h) {
  pipe_t *p = (pipe_t *)h;
  close(p->fd);
  handle_closed(p->child);
}

static void pipe_close(pipe_t *p) {
  if (!p->open) return;
  p->open = p->active = false;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, on_pipe_closed);
}

static void on_exit_closed(uv_handle_t *h) {
  child_t *c = (child_t *)h;
  close(c->pidfd);
  handle_closed(c);
}

/* Calls a JS callback (inside the caller's handle scope); an exception becomes uncaught. */
static napi_value call(child_t *c, napi_ref ref, size_t argc, napi_value *argv) {
  napi_value cb = NULL, recv, result = NULL;
  if (ref == NULL || napi_get_reference_value(c->env, ref, &cb) != napi_ok || cb == NULL) return NULL;
  napi_get_global(c->env, &recv); /* make_callback wants an object receiver */
  if (napi_make_callback(c->env, c->async, recv, cb, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(c->env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(c->env, &err);
      napi_fatal_exception(c->env, err);
    }
    return NULL;
  }
  return result;
}

/* Reads what the pipe holds, up to the buffer; *eof on EOF or a hard error (EIO...). */
static size_t drain(int fd, int *eof) {
  size_t n = 0;
  *eof = 0;
  while (n < sizeof read_buf) {
    ssize_t r = read(fd, read_buf + n, sizeof read_buf - n);
    if (r > 0) {
      n += (size_t)r;
    } else if (r == 0) {
      *eof = 1;
      break;
    } else if (errno != EINTR) {
      if (errno != EAGAIN) *eof = 1;
      break;
    }
  }
  return n;
}

static napi_value chunk_value(napi_env env, size_t n) {
  napi_value v;
  if (n == 0) napi_get_null(env, &v);
  else napi_create_buffer_copy(env, n, read_buf, NULL, &v);
  return v;
}

static void on_stdout(uv_poll_t *h, int status, int events) {
  (void)events;
  pipe_t *p = (pipe_t *)h;
  child_t *c = p->child;
  int eof = 1;
  size_t n = status < 0 ? 0 : drain(p->fd, &eof);
  if (n == 0 && !eof) return;
  if (eof) pipe_close(p);
  napi_handle_scope scope;
  napi_open_handle_scope(c->env, &scope);
  napi_value argv[2];
  argv[0] = chunk_value(c->env, n);
  napi_get_boolean(c->env, eof != 0, &argv[1]);
  /* Backpressure: JS calls pause() when its stream is full and resume() when it wants more,
   * possibly both before this returns (make_callback runs the ticks): so no return value here. */
  call(c, c->on_stdout, 2, argv);
  napi_close_handle_scope(c->env, scope);
}

/* Passes on what stderr holds; returns true once it reached EOF (the pipe is then closed). */
static bool pump_stderr(child_t *c) {
  pipe_t *p = &c->err;
  while (p->open) {
    int eof = 0;
    size_t n = drain(p->fd, &eof);
    if (n > 0) {
      napi_handle_scope scope;
      napi_open_handle_scope(c->env, &scope);
      napi_value chunk = chunk_value(c->env, n);
      call(c, c->on_stderr, 1, &chunk);
      napi_close_handle_scope(c->env, scope);
    }
    if (eof) {
      pipe_close(p);
      c->err_eof = true;
    }
    if (n < sizeof read_buf) break;
  }
  return c->err_eof;
}

static void on_stderr(uv_poll_t *h, int status, int events) {
  (void)events;
  child_t *c = ((pipe_t *)h)->child;
  if (status < 0) {
    pipe_close(&c->err);
    c->err_eof = true;
  } else if (!pump_stderr(c)) {
    return;
  }
  /* EOF before the exit is told with the exit; after it (a grandchild held stderr), now. */
  if (!c->reaped) return;
  napi_handle_scope scope;
  napi_open_handle_scope(c->env, &scope);
  napi_value end;
  napi_get_null(c->env, &end);
  call(c, c->on_stderr, 1, &end);
  napi_close_handle_scope(c->env, scope);
}

/* The pidfd polled readable: the child exited. Reap that pid, flush stderr, tell JS. */
static void on_pidfd(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  child_t *c = (child_t *)h;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int rc;
  do rc = waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0 && info.si_pid == 0) return; /* spurious wake-up: not exited yet */
  int code = -1, sig = 0;
  if (rc == 0 && info.si_code == CLD_EXITED) code = info.si_status;
  else if (rc == 0) sig = info.si_status; /* CLD_KILLED or CLD_DUMPED */
  uv_poll_stop(&c->exit_poll);
  c->reaped = true;
  bool err_ended = pump_stderr(c);
  napi_handle_scope scope;
  napi_open_handle_scope(c->env, &scope);
  napi_value argv[3];
  if (code >= 0) napi_create_int32(c->env, code, &argv[0]);
  else napi_get_null(c->env, &argv[0]);
  napi_create_int32(c->env, sig, &argv[1]);
  napi_get_boolean(c->env, err_ended, &argv[2]);
  call(c, c->on_exit, 3, argv);
  napi_close_handle_scope(c->env, scope);
  uv_close((uv_handle_t *)&c->exit_poll, on_exit_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release((child_t *)data);
}

/* Initialises one watched descriptor; false (fd not taken) when the loop refuses it. */
static bool watch(uv_loop_t *loop, child_t *c, uv_poll_t *poll, int fd) {
  if (uv_poll_init(loop, poll, fd) != 0) return false;
  c->refs++;
  return true;
}

static void on_failed_closed(uv_handle_t *h) {
  child_t *c = h->data;
  close(h == (uv_handle_t *)&c->exit_poll ? c->pidfd : ((pipe_t *)h)->fd);
  if (--c->refs == 0) free(c);
}

napi_value child_io_start(napi_env env, pid_t pid, int pidfd, int out_fd, int err_fd, napi_value js_on_exit, napi_value js_on_stdout, napi_value js_on_stderr) {
  uv_loop_t *loop = NULL;
  child_t *c = calloc(1, sizeof *c);
  napi_get_uv_event_loop(env, &loop);
  /* uv_poll_init makes our ends non-blocking (the child's ends stay blocking). */
  bool ok = c != NULL && loop != NULL;
  bool w_exit = ok && watch(loop, c, &c->exit_poll, pidfd);
  bool w_out = w_exit && watch(loop, c, &c->out.poll, out_fd);
  bool w_err = w_out && watch(loop, c, &c->err.poll, err_fd);
  if (!w_err) {
    /* Cannot happen for pipes and a pidfd; if it does, the child is killed and reaped here. */
    kill(pid, SIGKILL);
    waitid(P_PID, (id_t)pid, &(siginfo_t){0}, WEXITED);
    if (c != NULL) {
      c->pidfd = pidfd;
      c->out.fd = out_fd;
      c->err.fd = err_fd;
    }
    uv_handle_t *made[3] = {w_exit ? (uv_handle_t *)&c->exit_poll : NULL, w_out ? (uv_handle_t *)&c->out.poll : NULL, w_err ? (uv_handle_t *)&c->err.poll : NULL};
    int fds[3] = {pidfd, out_fd, err_fd};
    for (int i = 0; i < 3; i++) {
      if (made[i] == NULL) {
        close(fds[i]);
        continue;
      }
      made[i]->data = c;
      uv_close(made[i], on_failed_closed);
    }
    if (c != NULL && c->refs == 0) free(c);
    return NULL;
  }
  c->env = env;
  c->pid = pid;
  c->pidfd = pidfd;
  c->out.child = c->err.child = c;
  c->out.fd = out_fd;
  c->err.fd = err_fd;
  c->out.open = c->out.active = c->err.open = c->err.active = true;
  c->handles = 3;
  c->refs++; /* the External */
  napi_create_reference(env, js_on_exit, 1, &c->on_exit);
  napi_create_reference(env, js_on_stdout, 1, &c->on_stdout);
  napi_create_reference(env, js_on_stderr, 1, &c->on_stderr);
  napi_value name, ext;
  napi_create_string_utf8(env, "forkfast:child", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &c->async);
  uv_poll_start(&c->exit_poll, UV_READABLE, on_pidfd);
  uv_poll_start(&c->out.poll, UV_READABLE, on_stdout);
  uv_poll_start(&c->err.poll, UV_READABLE, on_stderr);
  napi_create_external(env, c, finalize, NULL, &ext);
  return ext;
}

static child_t *child_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  if (argc < 1 || napi_get_value_external(env, arg, &data) != napi_ok) return NULL;
  return data;
}

napi_value child_io_js_resume(napi_env env, napi_callback_info info) {
  child_t *c = child_arg(env, info);
  if (c != NULL && c->out.open && !c->out.active) {
    c->out.active = true;
    uv_poll_start(&c->out.poll, UV_READABLE, on_stdout);
  }
  return NULL;
}

napi_value child_io_js_pause(napi_env env, napi_callback_info info) {
  child_t *c = child_arg(env, info);
  if (c != NULL && c->out.open && c->out.active) {
    c->out.active = false;
    uv_poll_stop(&c->out.poll);
  }
  return NULL;
}

napi_value child_io_js_close_stdout(napi_env env, napi_callback_info info) {
  child_t *c = child_arg(env, info);
  if (c != NULL) pipe_close(&c->out);
  return NULL;
}
