# UvchatOptional.cmake: finds the libraries of uvchat's optional modules and defines their
# options, each ON by default when its libraries are found:
#   UVCHAT_WITH_ACCOUNTS  registered accounts: SQLite3 and libsodium (Argon2id)
#   UVCHAT_WITH_TLS       TLS listeners: OpenSSL 3
#   UVCHAT_WITH_SYSTEMD   sd_notify for systemd (Type=notify): libsystemd
#   UVCHAT_WITH_CLUSTER   several servers as one chat over Redis (--cluster): hiredis
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

# UVCHAT_WITH_WEB: the web listener (HTTP, the built-in web client, IRC over WebSocket,
# /healthz, /metrics): nodejs' http-parser and wslay, and OpenSSL (TLS) for the handshake's
# SHA-1. Debian/Ubuntu: libhttp-parser-dev libwslay-dev; Homebrew: http-parser wslay; vcpkg:
# http-parser (wslay is not in vcpkg: Windows builds go without the web listener).
find_path(HTTP_PARSER_INCLUDE_DIR NAMES http_parser.h)
find_library(HTTP_PARSER_LIBRARY NAMES http_parser)
find_path(WSLAY_INCLUDE_DIR NAMES wslay/wslay.h)
find_library(WSLAY_LIBRARY NAMES wslay)
set(_uvchat_web_found OFF)
if(HTTP_PARSER_INCLUDE_DIR AND HTTP_PARSER_LIBRARY AND WSLAY_INCLUDE_DIR AND WSLAY_LIBRARY
   AND UVCHAT_WITH_TLS)
  set(_uvchat_web_found ON)
endif()
option(UVCHAT_WITH_WEB "The web listener (needs http-parser, wslay and OpenSSL 3)"
  ${_uvchat_web_found})
if(UVCHAT_WITH_WEB AND NOT _uvchat_web_found)
  message(FATAL_ERROR "UVCHAT_WITH_WEB needs http-parser, wslay and TLS (Debian/Ubuntu: "
    "libhttp-parser-dev libwslay-dev libssl-dev; Homebrew: http-parser wslay openssl@3), "
    "or configure with -DUVCHAT_WITH_WEB=OFF")
endif()
if(UVCHAT_WITH_WEB AND NOT TARGET Uvchat::HttpParser)
  add_library(Uvchat::HttpParser UNKNOWN IMPORTED)
  set_target_properties(Uvchat::HttpParser PROPERTIES IMPORTED_LOCATION "${HTTP_PARSER_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HTTP_PARSER_INCLUDE_DIR}")
  add_library(Uvchat::Wslay UNKNOWN IMPORTED)
  set_target_properties(Uvchat::Wslay PROPERTIES IMPORTED_LOCATION "${WSLAY_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${WSLAY_INCLUDE_DIR}")
endif()

# hiredis and its libuv adapter (a header of hiredis), found through pkg-config (Debian/Ubuntu:
# libhiredis-dev; Homebrew: hiredis; vcpkg: hiredis), for two modules:
#  UVCHAT_WITH_CLUSTER: several servers as one chat through Redis (--cluster);
#  UVCHAT_WITH_REDIS: the Redis backend of the store (accounts and history shared by a
#  cluster; src/accounts/store_redis.c). Needs the accounts.
set(_uvchat_cluster_found OFF)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND AND NOT TARGET PkgConfig::HIREDIS)
  pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET GLOBAL hiredis)
endif()
if(TARGET PkgConfig::HIREDIS)
  set(_uvchat_cluster_found ON)
endif()
option(UVCHAT_WITH_CLUSTER "Clustering over Redis, --cluster (needs hiredis)"
  ${_uvchat_cluster_found})
if(UVCHAT_WITH_CLUSTER AND NOT _uvchat_cluster_found)
  message(FATAL_ERROR "UVCHAT_WITH_CLUSTER needs hiredis (Debian/Ubuntu: libhiredis-dev; "
    "Homebrew: hiredis; vcpkg: hiredis), or configure with -DUVCHAT_WITH_CLUSTER=OFF")
endif()
set(_uvchat_redis_found OFF)
if(TARGET PkgConfig::HIREDIS AND UVCHAT_WITH_ACCOUNTS AND NOT WIN32) # POSIX sockets, for now
  set(_uvchat_redis_found ON)
endif()
option(UVCHAT_WITH_REDIS "The Redis store backend, for a cluster (needs hiredis and the accounts)"
  ${_uvchat_redis_found})
if(UVCHAT_WITH_REDIS AND NOT _uvchat_redis_found)
  message(FATAL_ERROR "UVCHAT_WITH_REDIS needs hiredis (Debian/Ubuntu: libhiredis-dev; "
    "Homebrew: hiredis) and UVCHAT_WITH_ACCOUNTS, or configure with -DUVCHAT_WITH_REDIS=OFF")
endif()
