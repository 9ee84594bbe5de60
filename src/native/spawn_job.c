// forkfast's native spawn: posix_spawn(3) of one CGI program into its own process group.
//
// Why: libuv forks the whole Node process for every child (page tables, and Buffer memory copied
// on write), which caps child_process.spawn near 650 spawns/s here. glibc's posix_spawn uses
// clone(CLONE_VM | CLONE_VFORK): the parent's size does not matter (issue 3, "What a fork costs").
// Exec failures (ENOENT, EACCES, ENOEXEC) come back as posix_spawn's return value: glibc's vfork
// child reports them before the parent resumes, and since glibc 2.15 it never retries with
// /bin/sh on ENOEXEC: execve semantics, as RFC 3875 §7.2 programs expect.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "spawn_job.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static posix_spawnattr_t spawn_attr;
static int spawn_attr_err = 0;
static pthread_once_t spawn_attr_once = PTHREAD_ONCE_INIT;

static int pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

/* Every child: its own process group (kill(-pid) reaches all it forks), an empty signal mask,
 * and default dispositions for every signal (Node ignores SIGPIPE; exec would keep that). */
static void init_attr(void) {
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
  spawn_attr_err = rc;
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

int spawn_job_prepare(spawn_job_t *job, size_t argv_len, size_t env_len) {
  job->pid = -1;
  job->pidfd = job->fds[0] = job->fds[1] = job->fds[2] = -1;
  if (!job->file || !job->cwd || !job->argv_blob || !job->env_blob) return job->err = ENOMEM;
  job->argv = split_blob(job->argv_blob, argv_len);
  job->envp = split_blob(job->env_blob, env_len);
  return job->err = (job->argv && job->envp) ? 0 : ENOMEM;
}

void spawn_job_run(spawn_job_t *job) {
  pthread_once(&spawn_attr_once, init_attr);
  if (job->err) return;
  if ((job->err = spawn_attr_err)) return;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  int fa_ready = 0, err = 0;
  pid_t pid = -1;

  /* O_CLOEXEC: a child spawned concurrently (by another thread or libuv) must not inherit these. */
  if ((job->stdin_pipe && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) { err = errno; goto done; }
  if ((err = posix_spawn_file_actions_init(&fa))) goto done;
  fa_ready = 1;
  /* dup2 clears FD_CLOEXEC on 0, 1, 2; closefrom(3) also catches descriptors a library opened
   * without O_CLOEXEC. RFC 3875 §4.2: the body on stdin; §6: the response on stdout. */
  /* Without a body, stdin is /dev/null: EOF at once (RFC 3875 §4.2), one pipe fewer to make,
   * wrap in a stream and close for most requests (GET). */
  if (job->stdin_pipe) err = posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (err) goto done;
  if ((err = posix_spawn_file_actions_adddup2(&fa, out[1], 1))) goto done;
  if ((err = posix_spawn_file_actions_adddup2(&fa, errp[1], 2))) goto done;
  if ((err = posix_spawn_file_actions_addchdir_np(&fa, job->cwd))) goto done;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  if ((err = posix_spawn_file_actions_addclosefrom_np(&fa, 3))) goto done;
#endif
  if ((err = posix_spawn(&pid, job->file, &fa, &spawn_attr, job->argv, job->envp))) { pid = -1; goto done; }

  /* A child that already exited is still ours (a zombie until we reap it): no race here. */
  job->pidfd = pidfd_open(pid);
  if (job->pidfd < 0) {
    err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto done;
  }
  job->pid = pid;
  job->fds[0] = in[1];
  job->fds[1] = out[0];
  job->fds[2] = errp[0];
  in[1] = out[0] = errp[0] = -1;

done:
  if (fa_ready) posix_spawn_file_actions_destroy(&fa);
  int fds[6] = {in[0], in[1], out[0], out[1], errp[0], errp[1]};
  for (int i = 0; i < 6; i++) if (fds[i] >= 0) close(fds[i]);
  job->err = err;
}

void spawn_job_free(spawn_job_t *job) {
  for (int i = 0; i < 3; i++) if (job->fds[i] >= 0) close(job->fds[i]);
  if (job->pidfd >= 0) close(job->pidfd);
  free(job->file);
  free(job->cwd);
  free(job->argv_blob);
  free(job->env_blob);
  free(job->argv);
  free(job->envp);
  free(job);
}

int spawn_probe(void) {
  int fd = pidfd_open(getpid());
  if (fd < 0) return errno;
  close(fd);
  return 0;
}
