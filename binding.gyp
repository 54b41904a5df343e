# The addon is one main target plus one static library per x86 ISA, each compiled with its own
# flags so that no AVX-512 instruction can leak into code that runs on older CPUs. Sources are
# globbed by file name (see native/sources.cjs): a new native/kernels/<name>_avx512*.cc lands in
# the avx512 library, *_avx2*.cc in the avx2 library, everything else in the main target.
{
  "variables": {
    # 1 for the prebuilt addons shipped in the package (native/prebuild.mjs passes -Dfastconv_portable=1):
    # the C++ runtime is linked in, so a binary built here loads on systems with an older libstdc++.
    "fastconv_portable%": 0,
  },
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17", "-std=c++14"],
    "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fexceptions"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17"},
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}},
  },
  "targets": [
    {
      "target_name": "fastconv",
      "sources": ["<!@(node -e \"require('./native/sources.cjs').print('main')\")"],
      "libraries": ["-lpthread"],
      # The thread pool outlives any one JS environment: when the last worker_thread that loaded the
      # addon exits, unloading the library under the running pool threads would crash the process.
      "ldflags": ["-Wl,-z,nodelete"],
      # The constants shared with TypeScript and wasm (native/interface.mjs), before any source compiles.
      "actions": [{
        "action_name": "gen_interface",
        "inputs": ["native/interface.mjs", "native/gen-interface.mjs"],
        "outputs": ["native/conv/interface.generated.h"],
        "action": ["node", "native/gen-interface.mjs", "cxx"],
      }],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", {
          "dependencies": ["fastconv_avx512", "fastconv_avx2"],
        }],
        ["target_arch=='arm64'", {
          # NEON is part of the arm64 baseline: its kernels need no extra flags.
          "sources": ["<!@(node -e \"require('./native/sources.cjs').print('neon')\")"],
        }],
        ["fastconv_portable==1", {
          # libstdc++ inside the addon, its symbols kept private: the prebuild needs no GLIBCXX version
          # from the target system. libgcc_s stays shared (every glibc system has it; GCC_4.x
          # symbols): the static unwinder of GCC 12 would need glibc 2.35's _dl_find_object.
          "sources": ["native/glibc_compat.c"],
          "ldflags": ["-static-libstdc++", "-Wl,--exclude-libs,ALL", "-Wl,--wrap=arc4random"],
        }],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64' or target_arch=='ia32'", {
      "targets": [
        {
          "target_name": "fastconv_avx512",
          "type": "static_library",
          "sources": ["<!@(node -e \"require('./native/sources.cjs').print('avx512')\")"],
          "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"],
          "cflags": ["-fPIC"],
        },
        {
          "target_name": "fastconv_avx2",
          "type": "static_library",
          "sources": ["<!@(node -e \"require('./native/sources.cjs').print('avx2')\")"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "cflags": ["-fPIC"],
        },
      ],
    }],
  ],
}
