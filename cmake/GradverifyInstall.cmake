# The installable CMake package: find_package(gradverify) gives gradverify::core (torch-free),
# gradverify::grading (rubrics, sandbox, scoring; torch-free), gradverify::torch (carries
# LibTorch) and gradverify::gtest (the GoogleTest assertions),
# from an install prefix or from this build tree. The CLI and its LibTorch plug-in install
# to bin/ and lib/gradverify/.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(gradverify_core PROPERTIES EXPORT_NAME core)
set_target_properties(gradverify_grading PROPERTIES EXPORT_NAME grading)
if(GRADVERIFY_WITH_TORCH)
  set_target_properties(gradverify_torch PROPERTIES EXPORT_NAME torch)
endif()
# The warnings target rides along only because static libraries list their private link
# dependencies; it is link-only there, so consumers never get its flags.
set_target_properties(gradverify_warnings PROPERTIES EXPORT_NAME internal_warnings)
set(gradverify_exported gradverify_core gradverify_grading gradverify_warnings)
if(GRADVERIFY_WITH_TORCH)
  list(APPEND gradverify_exported gradverify_torch)
endif()
set(GRADVERIFY_PACKAGE_HAS_GTEST OFF)
if(TARGET gradverify_gtest)
  set(GRADVERIFY_PACKAGE_HAS_GTEST ON)
  set_target_properties(gradverify_gtest PROPERTIES EXPORT_NAME gtest)
  list(APPEND gradverify_exported gradverify_gtest)
endif()

install(TARGETS ${gradverify_exported} EXPORT gradverifyTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/gradverify DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/generated/gradverify/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gradverify)
install(TARGETS gradverify RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(GRADVERIFY_WITH_TORCH)
  install(TARGETS gradverify_torch_backend LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/gradverify)
endif()

install(EXPORT gradverifyTargets NAMESPACE gradverify:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gradverify)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gradverifyConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/gradverifyConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gradverify)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gradverifyConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gradverifyConfig.cmake ${PROJECT_BINARY_DIR}/gradverifyConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gradverify)

# The same package straight from this build tree: -Dgradverify_DIR=<build>.
export(EXPORT gradverifyTargets NAMESPACE gradverify:: FILE ${PROJECT_BINARY_DIR}/gradverifyTargets.cmake)
