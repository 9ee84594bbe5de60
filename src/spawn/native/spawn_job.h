// One vfork-style clone + exec of a CGI program: pure C, no N-API, so it can run on a worker thread.
#ifndef FORKFAST_SPAWN_JOB_H
#define FORKFAST_SPAWN_JOB_H
#include <stddef.h>
#include <sys/types.h>

typedef struct {
  /* in: owned, malloc'ed; argv/envp point into the blobs */
  char *file, *cwd, *argv_blob, *env_blob;
  char **argv, **envp;
  int stdin_pipe; /* 0: stdin reads /dev/null (no request body), 1: a pipe we write */
  /* out */
  int err;     /* 0, or the errno that stopped the spawn (exec errors included) */
  pid_t pid;
  int pidfd;   /* polls readable when the child exits (CLONE_PIDFD) */
  int fds[3];  /* our ends: the child's stdin (write, -1 without a pipe), stdout, stderr (read) */
} spawn_job_t;

/* Splits the NUL-separated blobs into vectors; 0 or ENOMEM. */
int spawn_job_prepare(spawn_job_t *job, size_t argv_len, size_t env_len);
/* pipe2 + clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) + execve; sets job->err. Thread-safe. */
void spawn_job_run(spawn_job_t *job);
/* Frees the inputs; closes the outputs still owned (fds and pidfd set to -1 are skipped). */
void spawn_job_free(spawn_job_t *job);
/* 0 when pidfd_open works here (Linux >= 5.3), else errno. */
int spawn_probe(void);

#endif
