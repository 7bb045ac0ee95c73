# FindInih.cmake: locate inih (the INI file parser: https://github.com/benhoyt/inih) and
# define the imported target Inih::Inih (its headers are system headers).
#
# Order of attempts:
#   1. vcpkg's CMake package (unofficial-inih, target unofficial::inih::libinih).
#   2. pkg-config (Debian and Ubuntu: libinih-dev; Homebrew: inih ships inih.pc).
#   3. a plain header and library search (Inih_ROOT honoured).
# Sets Inih_FOUND.
include(FindPackageHandleStandardArgs)

if(NOT TARGET Inih::Inih)
  find_package(unofficial-inih CONFIG QUIET)
  foreach(_t unofficial::inih::libinih unofficial::inih::inih)
    if(TARGET ${_t} AND NOT TARGET Inih::Inih)
      add_library(Inih::Inih INTERFACE IMPORTED)
      set_target_properties(Inih::Inih PROPERTIES INTERFACE_LINK_LIBRARIES ${_t})
      set(Inih_FOUND TRUE)
    endif()
  endforeach()
endif()

if(NOT TARGET Inih::Inih)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_INIH QUIET inih)
  endif()
  find_path(Inih_INCLUDE_DIR NAMES ini.h HINTS ${PC_INIH_INCLUDEDIR} ${PC_INIH_INCLUDE_DIRS})
  find_library(Inih_LIBRARY NAMES inih libinih HINTS ${PC_INIH_LIBDIR} ${PC_INIH_LIBRARY_DIRS})
  find_package_handle_standard_args(Inih REQUIRED_VARS Inih_LIBRARY Inih_INCLUDE_DIR)
  if(Inih_FOUND)
    add_library(Inih::Inih UNKNOWN IMPORTED)
    set_target_properties(Inih::Inih PROPERTIES IMPORTED_LOCATION "${Inih_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${Inih_INCLUDE_DIR}")
  endif()
  mark_as_advanced(Inih_INCLUDE_DIR Inih_LIBRARY)
else()
  set(Inih_FOUND TRUE)
endif()
