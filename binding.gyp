{
  "targets": [
    {
      "target_name": "sockvisor",
      "sources": [
        "native/addon.cc",
        "native/arguments.cc",
        "native/errors.cc",
        "native/socket.cc",
        "native/socket_probe.cc",
        "native/fd.cc",
        "native/held_file.cc",
        "native/acl.cc",
        "native/tcp.cc",
        "native/spawn.cc",
        "native/credentials.cc",
        "native/child_watch.cc",
        "native/polled_object.cc",
        "native/folder_watch.cc",
        "native/dir_ops.cc",
        "native/queue.cc",
        "native/peer_credentials.cc",
        "native/notify.cc",
        "native/users.cc",
        "native/connect_as.cc",
        "native/unix_address.cc",
        "native/reaper.cc",
        "native/guard_channel.cc",
        "native/exit_immediately.cc"
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
