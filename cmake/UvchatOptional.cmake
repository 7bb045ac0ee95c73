# UvchatOptional.cmake: finds the libraries of uvchat's optional modules and defines their
# options, each ON by default when its libraries are found:
#   UVCHAT_WITH_ACCOUNTS  registered accounts: SQLite3 and libsodium (Argon2id)
#   UVCHAT_WITH_TLS       TLS listeners: OpenSSL 3
#   UVCHAT_WITH_SYSTEMD   sd_notify for systemd (Type=notify): libsystemd
# Included by the top-level CMakeLists.txt and by test/CMakeLists.txt (which CMake reads
# first), so that each directory sees the options and the imported targets on the very first
# configure. Safe to include more than once.
find_package(SQLite3 QUIET)
find_package(Sodium QUIET)
find_package(OpenSSL 3 QUIET)

set(_uvchat_accounts_found OFF)
if(SQLite3_FOUND AND Sodium_FOUND)
  set(_uvchat_accounts_found ON)
endif()
set(_uvchat_tls_found OFF)
if(OpenSSL_FOUND)
  set(_uvchat_tls_found ON)
endif()

option(UVCHAT_WITH_ACCOUNTS "Registered accounts (needs SQLite3 and libsodium)"
  ${_uvchat_accounts_found})
option(UVCHAT_WITH_TLS "TLS listeners (needs OpenSSL 3)" ${_uvchat_tls_found})

if(UVCHAT_WITH_ACCOUNTS AND NOT _uvchat_accounts_found)
  message(FATAL_ERROR "UVCHAT_WITH_ACCOUNTS needs SQLite3 and libsodium (Debian/Ubuntu: "
    "libsqlite3-dev libsodium-dev; Homebrew: sqlite libsodium; vcpkg: sqlite3 libsodium), "
    "or configure with -DUVCHAT_WITH_ACCOUNTS=OFF")
endif()
if(UVCHAT_WITH_TLS AND NOT _uvchat_tls_found)
  message(FATAL_ERROR "UVCHAT_WITH_TLS needs OpenSSL 3 (Debian/Ubuntu: libssl-dev; Homebrew: "
    "openssl@3, with -DOPENSSL_ROOT_DIR=$(brew --prefix openssl@3); vcpkg: openssl), "
    "or configure with -DUVCHAT_WITH_TLS=OFF")
endif()

# UVCHAT_WITH_SYSTEMD: tell systemd when the server is ready and when it reloads
# (sd_notify, for Type=notify units): libsystemd, found through pkg-config (Linux only).
set(_uvchat_systemd_found OFF)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND AND NOT TARGET PkgConfig::SYSTEMD)
    pkg_check_modules(SYSTEMD QUIET IMPORTED_TARGET GLOBAL libsystemd)
  endif()
  if(TARGET PkgConfig::SYSTEMD)
    set(_uvchat_systemd_found ON)
  endif()
endif()
option(UVCHAT_WITH_SYSTEMD "sd_notify readiness and reload notices (needs libsystemd)"
  ${_uvchat_systemd_found})
if(UVCHAT_WITH_SYSTEMD AND NOT _uvchat_systemd_found)
  message(FATAL_ERROR "UVCHAT_WITH_SYSTEMD needs libsystemd (Debian/Ubuntu: libsystemd-dev), "
    "or configure with -DUVCHAT_WITH_SYSTEMD=OFF")
endif()
