# The dependency direction of docs/design.md, checked on every quoted #include line:
#   ring ← gossip ← node → storage, and include/ringkeeper/ (the installed headers) self-contained.
# Run as a test: cmake -DROOT=<source dir> -P cmake/check_layering.cmake
# Fails, naming every offending line, when a file includes a header its folder may not use.
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source dir> -P check_layering.cmake")
endif()

set(violations "")

# Checks every quoted include of the files under <dir>: with FORBID, an include matching <regex>
# is a violation; with ONLY, one not matching it.
function(check dir mode regex why)
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.h" "${ROOT}/${dir}/*.cc")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX [[^[ 	]*#[ 	]*include[ 	]*"]])
    foreach(line IN LISTS lines)
      string(REGEX REPLACE [[^[^"]*"([^"]*)".*$]] "\\1" included "${line}")
      if(included MATCHES "${regex}")
        set(matched TRUE)
      else()
        set(matched FALSE)
      endif()
      if((mode STREQUAL "FORBID" AND matched) OR (mode STREQUAL "ONLY" AND NOT matched))
        file(RELATIVE_PATH rel "${ROOT}" "${f}")
        string(APPEND violations "  ${rel}: #include \"${included}\" — ${why}\n")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

# A node header is the runtime's (node/) or the embedder's front header.
set(above_ring [[^((gossip|storage|node|sim)/.*|ringkeeper/node\.h)$]])
foreach(dir ring include/ringkeeper/ring)
  check(${dir} FORBID "${above_ring}" "ring is pure values and algorithms: it includes nothing above it")
endforeach()
check(storage FORBID [[^(ring|gossip|node|sim|ringkeeper)/]]
      "storage is a leaf: it knows bytes and record kinds only")
check(gossip FORBID [[^((storage|node|sim)/.*|ringkeeper/node\.h)$]]
      "the protocol includes no storage or runtime header")
check(node FORBID [[^sim/]] "the runtime does not use the simulator")
check(kv ONLY [[^(ringkeeper|kv|tests)/]] "kv is built only on the public embedding API")
check(include/ringkeeper ONLY [[^ringkeeper/]] "an installed header includes only installed headers")

if(violations)
  message(FATAL_ERROR "layering violations:\n${violations}")
endif()
message(STATUS "layering: ring <- gossip <- node -> storage holds in every include")
