{
  "targets": [
    {
      "target_name": "sockvisor",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/socket.cc",
        "native/held_file.cc",
        "native/dir_ops.cc",
        "native/folder_watch.cc",
        "native/tcp.cc",
        "native/spawn.cc",
        "native/watch.cc",
        "native/polled_fd.cc",
        "native/users.cc",
        "native/acl.cc",
        "native/probe.cc",
        "native/queue.cc",
        "native/peer_credentials.cc",
        "native/notify.cc",
        "native/unix_address.cc",
        "native/reaper.cc",
        "native/guard_channel.cc",
        "native/exit.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"]
    },
    {
      "target_name": "sockvisor-guard",
      "type": "executable",
      "sources": ["native/guard.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"]
    }
  ]
}
