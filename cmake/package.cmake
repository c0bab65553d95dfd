# The installable package (docs/design.md, "The package"): one library, libringkeeper, made from
# the objects the modules already compiled (ring, storage, gossip, node), so building it costs two
# links and no second compile:
#   ringkeeper_shared → libringkeeper.so.<SOVERSION>   exported as ringkeeper::node
#   ringkeeper_static → libringkeeper.a                exported as ringkeeper::node_static
# The in-tree tests and tools keep linking the module libraries; tests/package builds an outside
# project against the installed copy.
include(CMakePackageConfigHelpers)

set(ringkeeper_package_modules ringkeeper_ring ringkeeper_storage ringkeeper_gossip ringkeeper_address
                               ringkeeper_node)
set(ringkeeper_package_objects "")
foreach(module IN LISTS ringkeeper_package_modules)
  list(APPEND ringkeeper_package_objects $<TARGET_OBJECTS:${module}>)
endforeach()

# What the modules' objects call at run time. Header-only dependencies (Asio, Beast, msgpack,
# nlohmann-json) were compile-time only and are not listed.
set(ringkeeper_package_link_deps
  PkgConfig::XXHASH RocksDB::rocksdb-shared OpenSSL::SSL OpenSSL::Crypto spdlog::spdlog fmt::fmt)

# Before 1.0 every minor release may break the ABI, so the soname carries major.minor.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ringkeeper_soversion ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(ringkeeper_soversion ${PROJECT_VERSION_MAJOR})
endif()

add_library(ringkeeper_shared SHARED ${ringkeeper_package_objects})
set_target_properties(ringkeeper_shared PROPERTIES
  OUTPUT_NAME ringkeeper VERSION ${PROJECT_VERSION} SOVERSION ${ringkeeper_soversion}
  EXPORT_NAME node)
add_library(ringkeeper_static STATIC ${ringkeeper_package_objects})
set_target_properties(ringkeeper_static PROPERTIES OUTPUT_NAME ringkeeper EXPORT_NAME node_static)
foreach(lib ringkeeper_shared ringkeeper_static)
  set_target_properties(${lib} PROPERTIES ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib
                                          LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
  # PRIVATE: the shared library hides them; the static one exports them as link-only.
  target_link_libraries(${lib} PUBLIC ringkeeper_headers PRIVATE ${ringkeeper_package_link_deps})
endforeach()
# The same names for a project that adds ringkeeper with add_subdirectory.
add_library(ringkeeper::node ALIAS ringkeeper_shared)
add_library(ringkeeper::node_static ALIAS ringkeeper_static)
add_library(ringkeeper::headers ALIAS ringkeeper_headers)
set_target_properties(ringkeeper_headers PROPERTIES EXPORT_NAME headers)

set(ringkeeper_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ringkeeper)
install(TARGETS ringkeeper_shared ringkeeper_static ringkeeper_headers EXPORT ringkeeperTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ringkeeper DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/ringkeeper/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringkeeper)
install(EXPORT ringkeeperTargets NAMESPACE ringkeeper:: DESTINATION ${ringkeeper_cmake_dir})

configure_package_config_file(cmake/ringkeeperConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ringkeeperConfig.cmake INSTALL_DESTINATION ${ringkeeper_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringkeeperConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringkeeperConfig.cmake ${PROJECT_BINARY_DIR}/ringkeeperConfigVersion.cmake
        DESTINATION ${ringkeeper_cmake_dir})

# pkg-config: relocatable (the prefix is found from the .pc file's own place), so an install with
# `cmake --install --prefix DIR` anywhere works too.
file(RELATIVE_PATH RINGKEEPER_PC_TO_PREFIX
  ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" RINGKEEPER_PC_TO_PREFIX "${RINGKEEPER_PC_TO_PREFIX}")
configure_file(cmake/ringkeeper.pc.in ${PROJECT_BINARY_DIR}/ringkeeper.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ringkeeper.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
