# FindSodium.cmake: locate libsodium and define the imported target Sodium::Sodium.
#
# Order of attempts:
#   1. vcpkg's CMake package (target unofficial-sodium::sodium).
#   2. pkg-config (Debian and Ubuntu: libsodium-dev; Homebrew: libsodium ships libsodium.pc).
#   3. a plain header and library search (Homebrew's prefixes included, Sodium_ROOT honoured).
# On Windows use vcpkg (1): its target carries SODIUM_STATIC for a static libsodium.
# Sets Sodium_FOUND and Sodium_VERSION (when known).
include(FindPackageHandleStandardArgs)

if(NOT TARGET Sodium::Sodium)
  find_package(unofficial-sodium CONFIG QUIET)
  if(TARGET unofficial-sodium::sodium)
    add_library(Sodium::Sodium INTERFACE IMPORTED)
    set_target_properties(Sodium::Sodium PROPERTIES
      INTERFACE_LINK_LIBRARIES unofficial-sodium::sodium)
    set(Sodium_VERSION "${unofficial-sodium_VERSION}")
    set(Sodium_FOUND TRUE)
  endif()
endif()

if(NOT TARGET Sodium::Sodium)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_SODIUM QUIET libsodium)
  endif()
  set(_sodium_hints /opt/homebrew/opt/libsodium /usr/local/opt/libsodium)
  find_path(Sodium_INCLUDE_DIR NAMES sodium.h
    HINTS ${PC_SODIUM_INCLUDEDIR} ${PC_SODIUM_INCLUDE_DIRS}
    PATHS ${_sodium_hints} PATH_SUFFIXES include)
  find_library(Sodium_LIBRARY NAMES sodium libsodium
    HINTS ${PC_SODIUM_LIBDIR} ${PC_SODIUM_LIBRARY_DIRS}
    PATHS ${_sodium_hints} PATH_SUFFIXES lib)
  if(PC_SODIUM_VERSION)
    set(Sodium_VERSION "${PC_SODIUM_VERSION}")
  elseif(Sodium_INCLUDE_DIR AND EXISTS "${Sodium_INCLUDE_DIR}/sodium/version.h")
    file(STRINGS "${Sodium_INCLUDE_DIR}/sodium/version.h" _sodium_ver
      REGEX "#define SODIUM_VERSION_STRING ")
    string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" Sodium_VERSION "${_sodium_ver}")
  endif()
  find_package_handle_standard_args(Sodium
    REQUIRED_VARS Sodium_LIBRARY Sodium_INCLUDE_DIR
    VERSION_VAR Sodium_VERSION)
  if(Sodium_FOUND)
    add_library(Sodium::Sodium UNKNOWN IMPORTED)
    set_target_properties(Sodium::Sodium PROPERTIES
      IMPORTED_LOCATION "${Sodium_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${Sodium_INCLUDE_DIR}")
  endif()
  mark_as_advanced(Sodium_INCLUDE_DIR Sodium_LIBRARY)
else()
  set(Sodium_FOUND TRUE)
endif()
