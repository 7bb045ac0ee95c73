# UvchatOptional.cmake: finds the libraries of uvchat's optional modules and defines their
# options, each ON by default when its libraries are found:
#   UVCHAT_WITH_ACCOUNTS  registered accounts: SQLite3 and libsodium (Argon2id)
#   UVCHAT_WITH_TLS       TLS listeners: OpenSSL 3
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
