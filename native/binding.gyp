# The TUN device and peer-credential addon. Built by `npm ci` (the root package's `install` script runs
# `node-gyp rebuild --directory=native`). One backend file per OS; an OS without one gets `unsupported.cc`, whose
# functions fail with "not supported on this OS yet" (the TypeScript wrapper refuses those OSes before loading).
{
  "targets": [
    {
      "target_name": "postern_native",
      "sources": ["src/addon.cc", "src/tun_device.cc", "src/js_error.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES"},
      "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}},
      "conditions": [
        ["OS=='linux'", {"sources": ["src/tun_linux.cc", "src/peercred_linux.cc"]}],
        ["OS!='linux'", {"sources": ["src/unsupported.cc"]}]
      ]
    }
  ]
}
