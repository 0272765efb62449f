# GRADVERIFY_SANITIZE=ON builds gradverify, its plug-in and its tests with AddressSanitizer and
# UndefinedBehaviorSanitizer; docs/hardening.md has the command and what it covers.
#   cmake -S . -B build-asan -DGRADVERIFY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
option(GRADVERIFY_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

set(GRADVERIFY_SANITIZER_FLAGS "")
if(GRADVERIFY_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "gradverify: GRADVERIFY_SANITIZE needs GCC or Clang")
  endif()
  # Every UB report is an error: a sanitizer build that carries on past one would pass.
  set(GRADVERIFY_SANITIZER_FLAGS "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all")
  # Set for the whole tree, so that every object and link line agrees (the ASan runtime must
  # be in the executable that loads the instrumented plug-in).
  string(APPEND CMAKE_CXX_FLAGS " ${GRADVERIFY_SANITIZER_FLAGS}")
  message(STATUS "gradverify: building with ${GRADVERIFY_SANITIZER_FLAGS}")
endif()

# GRADVERIFY_FUZZ=ON (clang only) instruments everything for libFuzzer, with ASan and UBSan,
# and adds the fuzz targets (tests/fuzz). scripts/fuzz configures such a build by itself.
option(GRADVERIFY_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(GRADVERIFY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "gradverify: GRADVERIFY_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++ (see scripts/fuzz)")
  endif()
  string(APPEND CMAKE_CXX_FLAGS " -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
endif()

# Student runners stay uninstrumented: they run as graded submissions do, under the sandbox's
# address-space limit, where ASan's terabytes of reserved shadow memory can't even start.
function(gradverify_uninstrumented target)
  if(GRADVERIFY_SANITIZE OR GRADVERIFY_FUZZ)
    target_compile_options(${target} PRIVATE -fno-sanitize=all)
    target_link_options(${target} PRIVATE -fno-sanitize=all)
  endif()
endfunction()
