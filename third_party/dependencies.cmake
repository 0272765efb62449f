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
gradverify_require(OpenSSL libssl-dev)  # SHA-256 and HMAC for stored references (grading/references.h)

set(GRADVERIFY_LIBTORCH_PACKAGE "")
if(GRADVERIFY_WITH_TORCH)
  # LibTorch: Debian's libtorch-dev, or an official LibTorch unpacked anywhere, found through
  # -DTorch_DIR=<libtorch>/share/cmake/Torch or CMAKE_PREFIX_PATH=<libtorch>.
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR
      "gradverify: LibTorch not found. Run scripts/setup as root (installs libtorch-dev), "
      "or point -DTorch_DIR at an unpacked LibTorch's share/cmake/Torch.")
  endif()
  message(STATUS "gradverify: LibTorch ${Torch_VERSION} from ${Torch_DIR}")
  # Debian's package numbers its LibTorch apart from the headers' TORCH_VERSION (1.13.1+dfsg-4
  # packages a 1.13.0): bench names both. Empty for an unpacked LibTorch.
  find_program(GRADVERIFY_DPKG_QUERY dpkg-query)
  if(GRADVERIFY_DPKG_QUERY AND Torch_DIR MATCHES "^/usr/")
    execute_process(COMMAND ${GRADVERIFY_DPKG_QUERY} -W -f=libtorch-dev\ \${Version} libtorch-dev
                    OUTPUT_VARIABLE GRADVERIFY_LIBTORCH_PACKAGE ERROR_QUIET RESULT_VARIABLE dpkg_status)
    if(NOT dpkg_status EQUAL 0)
      set(GRADVERIFY_LIBTORCH_PACKAGE "")
    endif()
  endif()
endif()

if(GRADVERIFY_BUILD_TESTS)
  gradverify_require(GTest libgtest-dev)
else()
  find_package(GTest QUIET)  # optional: gradverify::gtest is built when GoogleTest is there
endif()

# CBLAS from OpenBLAS (libopenblas-dev) for the manual MLP's matrix products. Optional: with
# GRADVERIFY_USE_CBLAS=OFF, or without OpenBLAS, the manual MLP uses its plain loops.
option(GRADVERIFY_USE_CBLAS "Run the manual MLP's matrix products through OpenBLAS's CBLAS" ON)
if(GRADVERIFY_USE_CBLAS)
  find_path(GRADVERIFY_CBLAS_INCLUDE_DIR cblas.h
            HINTS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas)
  find_library(GRADVERIFY_OPENBLAS_LIBRARY openblas)
  if(GRADVERIFY_CBLAS_INCLUDE_DIR AND GRADVERIFY_OPENBLAS_LIBRARY)
    message(STATUS "gradverify: manual MLP on CBLAS from ${GRADVERIFY_OPENBLAS_LIBRARY}")
  else()
    message(WARNING "gradverify: OpenBLAS's CBLAS not found (apt-get install libopenblas-dev); "
                    "the manual MLP falls back to plain loops, which are far slower on big nets")
    set(GRADVERIFY_USE_CBLAS OFF)
  endif()
endif()
