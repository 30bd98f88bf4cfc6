# CMake toolchain file: builds for arm64 (aarch64) on an amd64 Debian with
# Debian's cross compiler (crossbuild-essential-arm64) and its multiarch
# libraries (libsodium-dev:arm64 and the others ./scripts/setup installs).
# ./scripts/cross and ./scripts/package arm64 pass it; by hand:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Multiarch is not a sysroot: the arm64 libraries live in the host's own tree
# (/usr/lib/aarch64-linux-gnu), the headers in /usr/include are shared, and the
# cross compiler's own runtime is in /usr/aarch64-linux-gnu. Both roots are
# searched, the cross one first; CMAKE_LIBRARY_ARCHITECTURE keeps the searches
# in the aarch64-linux-gnu directories, never the amd64 ones. Programs (the
# build's tools: gzip, python3, ninja) are the host's own.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libsodium, libnl, libnftables, libsystemd): the arm64 .pc files
# and the architecture-independent ones, never the amd64 ones. Debian 12 has
# no aarch64-linux-gnu-pkg-config wrapper without extra packages, so the
# search path is set here, where every configure step reads it.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# ctest (and gtest_discover_tests at build time) run the arm64 test binaries
# through qemu-user. No -L /usr/aarch64-linux-gnu: with it qemu took the cross
# toolchain's loader but, through the host's ld.so.cache, the multiarch
# libc.so.6 (libc6:arm64, another glibc build), and the first thread a
# program started spun forever in pthread_create (the two disagree on where
# the loader keeps its stack cache). Without it, loader, libc and libstdc++
# are all the multiarch ones (libstdc++6:arm64), as on an arm64 Debian.
# Cached, so scripts/cross runs the daemons the same way.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64
    CACHE STRING "How the build machine runs the target's programs" FORCE)
