// N-API glue of the native spawner: spawn jobs on libuv's thread pool; the child's life in child_io.c.
//
// clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) blocks its calling thread until the child has exec'd, so
// it runs on a worker thread and the event loop keeps serving. Then child_io.c reads stdout and stderr and
// reaps through the pidfd (waitid(P_PID) for that pid only, never waitpid(-1)).
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

#include "child_io.h"
#include "spawn_job.h"

/* The JS callbacks of one spawn: onExit, onStdout, onStderr, then onSpawned (async only). */
enum { CB_EXIT, CB_STDOUT, CB_STDERR, CB_SPAWNED, CB_COUNT };

typedef struct {
  napi_async_work work;
  napi_ref cb[CB_COUNT];
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

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

/* Hands a spawned child to child_io: returns [pid, stdinFd, handle] or -errno; stdin is -1
 * without stdinPipe. cb holds onExit, onStdout, onStderr. */
static napi_value finish(napi_env env, spawn_job_t *job, napi_value *cb) {
  if (job->err) return int_value(env, -job->err);
  napi_value handle = child_io_start(env, job->pid, job->pidfd, job->fds[1], job->fds[2], cb[CB_EXIT], cb[CB_STDOUT], cb[CB_STDERR]);
  int stdin_fd = job->fds[0];
  job->pidfd = job->fds[1] = job->fds[2] = -1; /* child_io owns them on every path */
  if (handle == NULL) return int_value(env, -EIO);
  job->fds[0] = -1; /* now owned by JS */
  napi_value arr;
  napi_create_array_with_length(env, 3, &arr);
  napi_set_element(env, arr, 0, int_value(env, job->pid));
  napi_set_element(env, arr, 1, int_value(env, stdin_fd));
  napi_set_element(env, arr, 2, handle);
  return arr;
}

/* spawnSync(file, argvBlob, envBlob, cwd, stdinPipe, onExit, onStdout, onStderr): what finish returns. */
static napi_value js_spawn_sync(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value args[8];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 8) return int_value(env, -EINVAL);
  spawn_job_t *job = job_from_args(env, args);
  if (!job) return int_value(env, -ENOMEM);
  spawn_job_run(job);
  napi_value result = finish(env, job, args + 5);
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
  napi_value cb[CB_COUNT], recv, result;
  for (int i = 0; i < CB_COUNT; i++) {
    napi_get_reference_value(env, a->cb[i], &cb[i]);
    napi_delete_reference(env, a->cb[i]);
  }
  napi_get_global(env, &recv);
  result = finish(env, a->job, cb);
  napi_call_function(env, recv, cb[CB_SPAWNED], 1, &result, NULL);
  napi_delete_async_work(env, a->work);
  spawn_job_free(a->job);
  free(a);
}

/* spawn(file, argvBlob, envBlob, cwd, stdinPipe, onExit, onStdout, onStderr, onSpawned):
 * onSpawned gets what spawnSync returns. */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value args[9], resource_name;
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 9) return int_value(env, -EINVAL);
  async_spawn_t *a = calloc(1, sizeof *a);
  if (!a || !(a->job = job_from_args(env, args))) {
    free(a);
    return int_value(env, -ENOMEM);
  }
  for (int i = 0; i < CB_COUNT; i++) napi_create_reference(env, args[5 + i], 1, &a->cb[i]);
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
  napi_create_function(env, "pause", NAPI_AUTO_LENGTH, child_io_js_pause, NULL, &fn);
  napi_set_named_property(env, exports, "pause", fn);
  napi_create_function(env, "resume", NAPI_AUTO_LENGTH, child_io_js_resume, NULL, &fn);
  napi_set_named_property(env, exports, "resume", fn);
  napi_create_function(env, "closeStdout", NAPI_AUTO_LENGTH, child_io_js_close_stdout, NULL, &fn);
  napi_set_named_property(env, exports, "closeStdout", fn);
  return exports;
}
