// The version of both programs: what `--version` prints and the metrics'
// build_info reports. Its one source is project(VERSION) in CMakeLists.txt,
// compiled into version.cpp only (a version bump rebuilds one file).
#pragma once

namespace tund {

const char* version();

}  // namespace tund
