# FindLibUV.cmake: locate libuv and define the imported target LibUV::LibUV.
#
# Order of attempts:
#   1. libuv's own CMake package (vcpkg and Homebrew ship one: targets uv / uv_a / libuv::uv).
#   2. pkg-config (Debian and Ubuntu ship only libuv.pc).
#   3. a plain header and library search.
include(FindPackageHandleStandardArgs)

if(NOT TARGET LibUV::LibUV)
  find_package(libuv CONFIG QUIET)
  foreach(_cand libuv::uv libuv::uv_a uv uv_a)
    if(TARGET ${_cand} AND NOT TARGET LibUV::LibUV)
      add_library(LibUV::LibUV INTERFACE IMPORTED)
      set_target_properties(LibUV::LibUV PROPERTIES INTERFACE_LINK_LIBRARIES ${_cand})
      set(LibUV_FOUND TRUE)
    endif()
  endforeach()
endif()

if(NOT TARGET LibUV::LibUV)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_LIBUV QUIET libuv)
  endif()
  find_path(LibUV_INCLUDE_DIR NAMES uv.h HINTS ${PC_LIBUV_INCLUDEDIR} ${PC_LIBUV_INCLUDE_DIRS})
  find_library(LibUV_LIBRARY NAMES uv libuv uv_a HINTS ${PC_LIBUV_LIBDIR} ${PC_LIBUV_LIBRARY_DIRS})
  find_package_handle_standard_args(LibUV REQUIRED_VARS LibUV_LIBRARY LibUV_INCLUDE_DIR)
  if(LibUV_FOUND)
    add_library(LibUV::LibUV UNKNOWN IMPORTED)
    set_target_properties(LibUV::LibUV PROPERTIES
      IMPORTED_LOCATION "${LibUV_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${LibUV_INCLUDE_DIR}")
    if(WIN32)
      set_property(TARGET LibUV::LibUV APPEND PROPERTY INTERFACE_LINK_LIBRARIES
        ws2_32 iphlpapi userenv psapi user32 dbghelp ole32 shell32)
    elseif(NOT APPLE)
      find_package(Threads REQUIRED)
      set_property(TARGET LibUV::LibUV APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads ${CMAKE_DL_LIBS})
    endif()
  endif()
  mark_as_advanced(LibUV_INCLUDE_DIR LibUV_LIBRARY)
else()
  set(LibUV_FOUND TRUE)
endif()
