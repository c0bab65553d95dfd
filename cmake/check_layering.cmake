# The dependency direction of docs/design.md, checked on every quoted #include line:
#   ring ← gossip ← node → storage, and include/ringkeeper/ (the installed headers) self-contained.
# Run as a test: cmake -DROOT=<source dir> -P cmake/check_layering.cmake
# Fails, naming every offending line, when a file includes a header its folder may not use.
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_layering.cmake")
endif()

set(violations "")

# Calls check(<included path> <file>) for every quoted include in the files under <dir>.
function(for_each_include dir check)
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.h" "${ROOT}/${dir}/*.cc")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX [[^[ 	]*#[ 	]*include[ 	]*"]])
    foreach(line IN LISTS lines)
      string(REGEX REPLACE [[^[^"]*"([^"]*)".*$]] "\\1" included "${line}")
      cmake_language(CALL ${check} "${included}" "${f}")
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

macro(report file included why)
  file(RELATIVE_PATH rel "${ROOT}" "${file}")
  string(APPEND violations "  ${rel}: #include \"${included}\" — ${why}\n")
endmacro()

# A node header: the runtime's internals or the embedder's front header.
set(node_header [[^(node/.*|ringkeeper/node\.h)$]])

macro(check_ring included file)
  if(included MATCHES "^(gossip|storage|node|sim)/" OR included MATCHES "${node_header}")
    report("${file}" "${included}" "ring is pure values and algorithms: it includes nothing above it")
  endif()
endmacro()
macro(check_storage included file)
  if(included MATCHES "^(ring|gossip|node|sim|ringkeeper)/")
    report("${file}" "${included}" "storage is a leaf: it knows bytes and record kinds only")
  endif()
endmacro()
macro(check_gossip included file)
  if(included MATCHES "^(storage|node|sim)/" OR included MATCHES "${node_header}")
    report("${file}" "${included}" "the protocol includes no storage or runtime header")
  endif()
endmacro()
macro(check_node included file)
  if(included MATCHES "^sim/")
    report("${file}" "${included}" "the runtime does not use the simulator")
  endif()
endmacro()
macro(check_public included file)
  if(NOT included MATCHES "^ringkeeper/")
    report("${file}" "${included}" "an installed header includes only installed headers")
  endif()
endmacro()

for_each_include(ring check_ring)
for_each_include(include/ringkeeper/ring check_ring)
for_each_include(storage check_storage)
for_each_include(gossip check_gossip)
for_each_include(node check_node)
for_each_include(include/ringkeeper check_public)

if(violations)
  message(FATAL_ERROR "layering violations:\n${violations}")
endif()
message(STATUS "layering: ring <- gossip <- node -> storage holds in every include")
