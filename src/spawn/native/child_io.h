// One spawned child on the event loop: its stdout and stderr read here, its pidfd reaped here.
#ifndef FORKFAST_CHILD_IO_H
#define FORKFAST_CHILD_IO_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <sys/types.h>

/* Starts watching a child: takes ownership of out_fd, err_fd and pidfd (closed on every path).
 * on_stdout(chunk|null, eof), on_stderr(chunk|null), on_exit(code,
 * signal, stderrEnded). Returns an External for pause/resume/closeStdout, or NULL
 * (after killing and reaping the child) when the loop refused the handles. */
napi_value child_io_start(napi_env env, pid_t pid, int pidfd, int out_fd, int err_fd, napi_value js_on_exit, napi_value js_on_stdout, napi_value js_on_stderr);

/* pause(handle) / resume(handle): stop and restart reading stdout (JS stream backpressure). */
napi_value child_io_js_pause(napi_env env, napi_callback_info info);
napi_value child_io_js_resume(napi_env env, napi_callback_info info);
/* closeStdout(handle): stop reading stdout and close it (the consumer is gone: the child gets EPIPE). */
napi_value child_io_js_close_stdout(napi_env env, napi_callback_info info);

#endif
