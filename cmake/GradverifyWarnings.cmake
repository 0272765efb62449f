# Warnings for gradverify's own code only, as an INTERFACE target linked PRIVATE, so that
# neither dependencies nor consumers of the library inherit them.
add_library(gradverify_warnings INTERFACE)
target_compile_options(gradverify_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>)
