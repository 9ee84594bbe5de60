{
  "targets": [
    {
      "target_name": "forkfast_spawn",
      "sources": ["spawn.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
