{
  "targets": [
    {
      "target_name": "arcal_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/pool.cc", "src/matmul.cc", "src/elementwise.cc", "src/batchnorm.cc", "src/optimizer.cc", "src/softmax-xent.cc", "src/box-grad.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fopenmp", "-O3", "-fno-math-errno", "-fno-strict-aliasing"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
