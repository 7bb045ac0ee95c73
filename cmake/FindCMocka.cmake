# FindCMocka.cmake: locate cmocka and define the imported target CMocka::CMocka.
#
# cmocka's own config file defines a target in 1.1.6+/2.x (cmocka::cmocka) but only the
# variables CMOCKA_INCLUDE_DIR / CMOCKA_LIBRARIES in Debian's 1.1.5; handle both, then fall
# back to pkg-config and a plain search.
include(FindPackageHandleStandardArgs)

if(NOT TARGET CMocka::CMocka)
  find_package(cmocka CONFIG QUIET)
  if(TARGET cmocka::cmocka)
    add_library(CMocka::CMocka INTERFACE IMPORTED)
    set_target_properties(CMocka::CMocka PROPERTIES INTERFACE_LINK_LIBRARIES cmocka::cmocka)
  elseif(TARGET cmocka)
    add_library(CMocka::CMocka INTERFACE IMPORTED)
    set_target_properties(CMocka::CMocka PROPERTIES INTERFACE_LINK_LIBRARIES cmocka)
  else()
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(PC_CMOCKA QUIET cmocka)
    endif()
    find_path(CMocka_INCLUDE_DIR NAMES cmocka.h
      HINTS ${CMOCKA_INCLUDE_DIR} ${PC_CMOCKA_INCLUDEDIR} ${PC_CMOCKA_INCLUDE_DIRS})
    find_library(CMocka_LIBRARY NAMES cmocka cmocka-static
      HINTS ${PC_CMOCKA_LIBDIR} ${PC_CMOCKA_LIBRARY_DIRS})
    if(NOT CMocka_LIBRARY AND CMOCKA_LIBRARY)
      set(CMocka_LIBRARY "${CMOCKA_LIBRARY}")
    endif()
    find_package_handle_standard_args(CMocka REQUIRED_VARS CMocka_LIBRARY CMocka_INCLUDE_DIR)
    if(CMocka_FOUND)
      add_library(CMocka::CMocka UNKNOWN IMPORTED)
      set_target_properties(CMocka::CMocka PROPERTIES
        IMPORTED_LOCATION "${CMocka_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CMocka_INCLUDE_DIR}")
    endif()
    mark_as_advanced(CMocka_INCLUDE_DIR CMocka_LIBRARY)
  endif()
endif()
if(TARGET CMocka::CMocka)
  set(CMocka_FOUND TRUE)
endif()
