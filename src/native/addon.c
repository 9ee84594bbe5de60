// N-API glue of the native spawner: spawn jobs on libuv's thread pool, reaping through a pidfd.
//
// posix_spawn blocks its calling thread until the child has exec'd (CLONE_VFORK), so it runs on
// a worker thread and the event loop keeps serving. Reaping: the pidfd polls readable when the
// child exits; a uv_poll_t watches it and we waitid(P_PID, pid) for that pid only. Never
// waitpid(-1): it would steal the exit status of libuv's own children (child_process).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "spawn_job.h"

typedef struct {
  uv_poll_t poll; /* first member: a uv_poll_t* is a child_t* */
  napi_env env;
  napi_ref on_exit;
  napi_async_context async;
  pid_t pid;
  int pidfd;
} child_t;

typedef struct {
  napi_async_work work;
  napi_ref on_exit, on_spawned;
  spawn_job_t *job;
} async_spawn_t;

/* A JS string as a malloc'ed UTF-8 buffer (NULs inside are kept: blobs are NUL-separated). */
static char *get_string(napi_env env, napi_value v, size_t *len_out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (!buf) return NULL;
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  if (len_out) *len_out = len;
  return buf;
}

static spawn_job_t *job_from_args(napi_env env, napi_value *args) {
  spawn_job_t *job = calloc(1, sizeof *job);
  if (!job) return NULL;
  size_t argv_len = 0, env_len = 0;
  job->file = get_string(env, args[0], NULL);
  job->argv_blob = get_string(env, args[1], &argv_len);
  job->env_blob = get_string(env, args[2], &env_len);
  job->cwd = get_string(env, args[3], NULL);
  bool stdin_pipe = true;
  napi_get_value_bool(env, args[4], &stdin_pipe);
  job->stdin_pipe = stdin_pipe ? 1 : 0;
  spawn_job_prepare(job, argv_len, env_len);
  return job;
}

static void on_closed(uv_handle_t *handle) {
  child_t *c = (child_t *)handle;
  close(c->pidfd);
  free(c);
}

/* The pidfd polled readable: the child exited. Reap that pid and tell JS (code, signal). */
static void on_pidfd(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  child_t *c = (child_t *)handle;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int rc;
  do rc = waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0 && info.si_pid == 0) return; /* spurious wake-up: not exited yet */
  int code = -1, sig = 0;
  if (rc == 0 && info.si_code == CLD_EXITED) code = info.si_status;
  else if (rc == 0) sig = info.si_status; /* CLD_KILLED or CLD_DUMPED */
  uv_poll_stop(&c->poll);

  napi_env env = c->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb = NULL, recv, argv[2], result;
  napi_get_reference_value(env, c->on_exit, &cb);
  napi_get_global(env, &recv); /* make_callback wants an object receiver */
  if (code >= 0) napi_create_int32(env, code, &argv[0]);
  else napi_get_null(env, &argv[0]);
  napi_create_int32(env, sig, &argv[1]);
  if (cb) napi_make_callback(env, c->async, recv, cb, 2, argv, &result);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, c->on_exit);
  napi_async_destroy(env, c->async);
  uv_close((uv_handle_t *)&c->poll, on_closed);
}

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

/* Starts watching a spawned child; returns [pid, stdinFd, stdoutFd, stderrFd] or -errno. */
static napi_value finish(napi_env env, spawn_job_t *job, napi_value on_exit) {
  if (job->err) return int_value(env, -job->err);
  uv_loop_t *loop = NULL;
  child_t *c = calloc(1, sizeof *c);
  if (!c || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &c->poll, job->pidfd) != 0) {
    free(c);
    kill(job->pid, SIGKILL);
    waitpid(job->pid, NULL, 0);
    return int_value(env, -EIO);
  }
  napi_value resource_name, arr;
  c->env = env;
  c->pid = job->pid;
  c->pidfd = job->pidfd;
  job->pidfd = -1;
  napi_create_reference(env, on_exit, 1, &c->on_exit);
  napi_create_string_utf8(env, "forkfast:child", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &c->async);
  uv_poll_start(&c->poll, UV_READABLE, on_pidfd);
  int vals[4] = {job->pid, job->fds[0], job->fds[1], job->fds[2]};
  napi_create_array_with_length(env, 4, &arr);
  for (uint32_t i = 0; i < 4; i++) napi_set_element(env, arr, i, int_value(env, vals[i]));
  job->fds[0] = job->fds[1] = job->fds[2] = -1; /* now owned by JS */
  return arr;
}

/* spawnSync(file, argvBlob, envBlob, cwd, stdinPipe, onExit) -> [pid, stdin, stdout, stderr] or
 * -errno; stdin is -1 without stdinPipe. */
static napi_value js_spawn_sync(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 6) return int_value(env, -EINVAL);
  spawn_job_t *job = job_from_args(env, args);
  if (!job) return int_value(env, -ENOMEM);
  spawn_job_run(job);
  napi_value result = finish(env, job, args[5]);
  spawn_job_free(job);
  return result;
}

static void async_execute(napi_env env, void *data) {
  (void)env;
  spawn_job_run(((async_spawn_t *)data)->job);
}

static void async_complete(napi_env env, napi_status status, void *data) {
  async_spawn_t *a = data;
  if (status == napi_cancelled) a->job->err = ECANCELED;
  napi_value on_exit, on_spawned, recv, result;
  napi_get_reference_value(env, a->on_exit, &on_exit);
  napi_get_reference_value(env, a->on_spawned, &on_spawned);
  napi_get_global(env, &recv);
  result = finish(env, a->job, on_exit);
  napi_call_function(env, recv, on_spawned, 1, &result, NULL);
  napi_delete_reference(env, a->on_exit);
  napi_delete_reference(env, a->on_spawned);
  napi_delete_async_work(env, a->work);
  spawn_job_free(a->job);
  free(a);
}

/* spawn(file, argvBlob, envBlob, cwd, stdinPipe, onExit, onSpawned): onSpawned gets what
 * spawnSync returns. */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value args[7], resource_name;
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 7) return int_value(env, -EINVAL);
  async_spawn_t *a = calloc(1, sizeof *a);
  if (!a || !(a->job = job_from_args(env, args))) {
    free(a);
    return int_value(env, -ENOMEM);
  }
  napi_create_reference(env, args[5], 1, &a->on_exit);
  napi_create_reference(env, args[6], 1, &a->on_spawned);
  napi_create_string_utf8(env, "forkfast:spawn", NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, async_execute, async_complete, a, &a->work);
  napi_queue_async_work(env, a->work);
  return int_value(env, 0);
}

/* probe() -> 0 when pidfd_open works here, else -errno. */
static napi_value js_probe(napi_env env, napi_callback_info info) {
  (void)info;
  return int_value(env, -spawn_probe());
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, NULL, &fn);
  napi_set_named_property(env, exports, "spawn", fn);
  napi_create_function(env, "spawnSync", NAPI_AUTO_LENGTH, js_spawn_sync, NULL, &fn);
  napi_set_named_property(env, exports, "spawnSync", fn);
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, js_probe, NULL, &fn);
  napi_set_named_property(env, exports, "probe", fn);
  return exports;
}
