# node-gyp build of the native spawn addon (vfork-style clone + pidfd reaping); run by src/spawn/native/build.mjs.
{
  "targets": [
    {
      "target_name": "forkfast_spawn",
      "sources": ["addon.c", "child_io.c", "spawn_job.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wshadow", "-Wno-unused-parameter"],
      "defines": ["_GNU_SOURCE"],
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
