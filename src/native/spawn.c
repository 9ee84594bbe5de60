// forkfast's native spawner: posix_spawn(3) into a new process group, reaped through a pidfd.
//
// Why: libuv forks the whole Node process for every child (page tables, and Buffer memory copied
// on write), which caps child_process.spawn near 650 spawns/s here. glibc's posix_spawn uses
// clone(CLONE_VM | CLONE_VFORK): the parent's size does not matter (issue 3, "What a fork costs").
//
// Reaping: pidfd_open(2) gives a descriptor that polls readable when the child exits; libuv
// watches it with a uv_poll_t and we waitid(P_PID, pid) for that pid only. Never waitpid(-1):
// it would steal the exit status of libuv's own children (child_process).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

typedef struct {
  uv_poll_t poll; /* first member: a uv_poll_t* is a child_t* */
  napi_env env;
  napi_ref on_exit;
  napi_async_context async;
  pid_t pid;
  int pidfd;
} child_t;

static posix_spawnattr_t spawn_attr;
static int spawn_attr_ready = 0;

static int pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* Every child: its own process group (kill(-pid) reaches all it forks), an empty signal mask,
 * and default dispositions for every signal (Node ignores SIGPIPE; exec would keep that). */
static int init_attr(void) {
  if (spawn_attr_ready) return 0;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  int rc = posix_spawnattr_init(&spawn_attr);
  if (rc == 0) rc = posix_spawnattr_setflags(&spawn_attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setpgroup(&spawn_attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&spawn_attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&spawn_attr, &all);
  if (rc == 0) spawn_attr_ready = 1;
  return rc;
}

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

/* "a\0b\0" -> { "a", "b", NULL }: pointers into the blob, which must outlive the vector. */
static char **split_blob(char *blob, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) if (blob[i] == '\0') n++;
  char **vec = malloc((n + 1) * sizeof(char *));
  if (!vec) return NULL;
  size_t k = 0, start = 0;
  for (size_t i = 0; i < len; i++) {
    if (blob[i] == '\0') {
      vec[k++] = blob + start;
      start = i + 1;
    }
  }
  vec[k] = NULL;
  return vec;
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
  napi_value cb, recv, argv[2], result;
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

static napi_value make_int_array(napi_env env, const int *vals, int n) {
  napi_value arr, v;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_create_int32(env, vals[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  return arr;
}

static napi_value errno_value(napi_env env, int err) {
  napi_value v;
  napi_create_int32(env, -err, &v);
  return v;
}

/*
 * spawn(file, argvBlob, envBlob, cwd, onExit) -> [pid, stdinFd, stdoutFd, stderrFd] or -errno.
 * Blobs are NUL-terminated strings laid end to end. Exec failures (ENOENT, EACCES, ENOEXEC) come
 * back as posix_spawn's return value: glibc's vfork child reports them before the parent resumes.
 */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 5) return errno_value(env, EINVAL);

  int err = init_attr();
  if (err) return errno_value(env, err);

  size_t argv_len = 0, env_len = 0;
  char *file = get_string(env, args[0], NULL);
  char *argv_blob = get_string(env, args[1], &argv_len);
  char *env_blob = get_string(env, args[2], &env_len);
  char *cwd = get_string(env, args[3], NULL);
  char **argv = argv_blob ? split_blob(argv_blob, argv_len) : NULL;
  char **envp = env_blob ? split_blob(env_blob, env_len) : NULL;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  int fa_ready = 0;
  pid_t pid = -1;
  int pidfd = -1;
  child_t *c = NULL;
  napi_value result = NULL;

  if (!file || !argv || !envp || !cwd) { err = ENOMEM; goto done; }
  /* O_CLOEXEC: a child spawned concurrently (by us or libuv) must not inherit these ends. */
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) { err = errno; goto done; }
  if ((err = posix_spawn_file_actions_init(&fa))) goto done;
  fa_ready = 1;
  /* dup2 clears FD_CLOEXEC on 0, 1, 2; every other descriptor closes at exec (closefrom 3 also
   * catches ones a library opened without O_CLOEXEC). RFC 3875 §4.2 body on stdin; §6 on stdout. */
  if ((err = posix_spawn_file_actions_adddup2(&fa, in[0], 0))) goto done;
  if ((err = posix_spawn_file_actions_adddup2(&fa, out[1], 1))) goto done;
  if ((err = posix_spawn_file_actions_adddup2(&fa, errp[1], 2))) goto done;
  if ((err = posix_spawn_file_actions_addchdir_np(&fa, cwd))) goto done;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if ((err = posix_spawn_file_actions_addclosefrom_np(&fa, 3))) goto done;
#endif
  if ((err = posix_spawn(&pid, file, &fa, &spawn_attr, argv, envp))) { pid = -1; goto done; }

  pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto done;
  }
  c = calloc(1, sizeof *c);
  uv_loop_t *loop = NULL;
  napi_value resource_name;
  if (!c || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &c->poll, pidfd) != 0) {
    err = c ? EIO : ENOMEM;
    free(c);
    c = NULL;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pidfd);
    goto done;
  }
  c->env = env;
  c->pid = pid;
  c->pidfd = pidfd;
  napi_create_reference(env, args[4], 1, &c->on_exit);
  napi_create_string_utf8(env, "forkfast:child", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &c->async);
  uv_poll_start(&c->poll, UV_READABLE, on_pidfd);
  {
    int vals[4] = {pid, in[1], out[0], errp[0]};
    result = make_int_array(env, vals, 4);
    in[1] = out[0] = errp[0] = -1; /* now owned by JS */
  }

done:
  if (fa_ready) posix_spawn_file_actions_destroy(&fa);
  int fds[6] = {in[0], in[1], out[0], out[1], errp[0], errp[1]};
  for (int i = 0; i < 6; i++) if (fds[i] >= 0) close(fds[i]);
  free(file);
  free(argv_blob);
  free(env_blob);
  free(cwd);
  free(argv);
  free(envp);
  return result ? result : errno_value(env, err ? err : EIO);
}

/* probe() -> 0 when pidfd_open works here (Linux >= 5.3), else -errno. */
static napi_value js_probe(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = pidfd_open(getpid());
  if (fd < 0) return errno_value(env, errno);
  close(fd);
  return errno_value(env, 0);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, NULL, &fn);
  napi_set_named_property(env, exports, "spawn", fn);
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, js_probe, NULL, &fn);
  napi_set_named_property(env, exports, "probe", fn);
  return exports;
}
