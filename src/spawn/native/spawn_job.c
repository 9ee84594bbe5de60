// forkfast's native spawn: a vfork-style clone(2) of one CGI program into its own process group.
//
// Why: libuv forks the whole Node process for every child (page tables, and Buffer memory copied
// on write), which caps child_process.spawn near 650 spawns/s here. clone(CLONE_VM | CLONE_VFORK),
// as glibc's posix_spawn does, shares the parent's memory until exec: the parent's size does not
// matter (issue 3, "What a fork costs"). We call clone ourselves rather than posix_spawn for what
// posix_spawn cannot give (measured with perf on /cgi-bin/hello.sh, see docs/spawn.md):
// - CLONE_PIDFD: the pidfd comes with the clone (no pidfd_open);
// - the child's stack lives on this thread's stack: posix_spawn mmaps and munmaps one per spawn,
//   and the munmap's TLB shootdown interrupts every CPU running the gateway.
// Exec failures (ENOENT, EACCES, ENOEXEC) come back through memory shared until exec; no retry
// with /bin/sh on ENOEXEC: execve semantics, as RFC 3875 §7.2 programs expect.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "spawn_job.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's stack, on the calling thread's stack: the parent is suspended until exec. */
#define CHILD_STACK_SIZE (64 * 1024)

static int pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

typedef struct {
  const spawn_job_t *job;
  int in_fd, out_fd, err_fd; /* the child's ends (in_fd -1: /dev/null) */
  volatile int err;          /* set by the child when it cannot exec */
  pid_t parent;              /* the spawning process, for the parent-death check */
} child_args_t;

/* The child, between clone and exec, on the parent's memory: only async-signal-safe calls. */
static int child_main(void *arg) {
  child_args_t *a = arg;
  /* Every signal back to its default: a handler of the parent must never run here (shared
   * memory), and Node ignores SIGPIPE, which exec would keep (test "signals are at their
   * defaults"). glibc refuses its two internal signals; exec resets their handlers anyway. */
  struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL) sigaction(sig, &dfl, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Its own process group: kill(-pid) reaches everything it forks. */
  if (setpgid(0, 0) < 0) goto fail;
  /* Dies with the process that started it, even one ended by SIGKILL, which runs no cleanup
   * (a pool worker killed at --worker-timeout); exec keeps it. The check covers a parent gone
   * before the prctl. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent) _exit(127);
  /* RFC 3875 §4.2: the body on stdin (or /dev/null: EOF at once); §6: the response on stdout. */
  int in = a->in_fd >= 0 ? a->in_fd : open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0) goto fail;
  if (chdir(a->job->cwd) < 0) goto fail;
  /* Nothing else crosses into the script, even a descriptor opened without O_CLOEXEC. */
  syscall(SYS_close_range, 3U, ~0U, 0U);
  execve(a->job->file, a->job->argv, a->job->envp);
fail:
  a->err = errno ? errno : EIO;
  _exit(127);
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
  if (job->err) return;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
  int err = 0, pidfd = -1;
  /* O_CLOEXEC: a child spawned concurrently (by another thread or libuv) must not inherit these;
   * dup2 onto 0, 1, 2 clears the flag in our child. */
  if ((job->stdin_pipe && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
    err = errno;
    goto done;
  }
  child_args_t args = {.job = job, .in_fd = in[0], .out_fd = out[1], .err_fd = errp[1], .err = 0, .parent = getpid()};
  _Alignas(16) char stack[CHILD_STACK_SIZE];
  /* Signals stay blocked from clone until the child has reset their handlers. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  /* An exit signal of 0 would spare the gateway a SIGCHLD per child, but execve resets it to
   * SIGCHLD (de_thread in fs/exec.c): measured, so SIGCHLD it is. */
  pid_t pid = clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args, &pidfd);
  err = pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (pid < 0) goto done;
  if (args.err) {
    /* It could not exec and has exited: reap it here, for that pid only. */
    err = args.err;
    siginfo_t info;
    while (waitid(P_PID, (id_t)pid, &info, WEXITED) < 0 && errno == EINTR) {
    }
    close(pidfd);
    goto done;
  }
  job->pid = pid;
  job->pidfd = pidfd;
  job->fds[0] = in[1];
  job->fds[1] = out[0];
  job->fds[2] = errp[0];
  in[1] = out[0] = errp[0] = -1;

done:;
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
