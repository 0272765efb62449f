# Finds the system packages gradverify builds against. Nothing here is vendored: each
# dependency comes from a Debian 12 package that scripts/setup installs, and a missing one
# stops the configure step with the package to install.

# gradverify_require(<find_package name> <Debian package> [find_package args...])
macro(gradverify_require name debian_package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "gradverify: ${name} not found. Run scripts/setup as root, or: apt-get install ${debian_package}")
  endif()
endmacro()

gradverify_require(nlohmann_json nlohmann-json3-dev)
gradverify_require(fmt libfmt-dev)
gradverify_require(CLI11 libcli11-dev)

# LibTorch: Debian's libtorch-dev, or an official LibTorch unpacked anywhere, found through
# -DTorch_DIR=<libtorch>/share/cmake/Torch or CMAKE_PREFIX_PATH=<libtorch>.
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "gradverify: LibTorch not found. Run scripts/setup as root (installs libtorch-dev), "
    "or point -DTorch_DIR at an unpacked LibTorch's share/cmake/Torch.")
endif()
message(STATUS "gradverify: LibTorch ${Torch_VERSION} from ${Torch_DIR}")

if(GRADVERIFY_BUILD_TESTS)
  gradverify_require(GTest libgtest-dev)
endif()
