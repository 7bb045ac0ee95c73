#!/bin/sh
# dev.sh: one command to set up a fresh Debian/Ubuntu (or macOS with Homebrew) machine,
# build uvchat, and either run the server or run the whole test suite.
#
#   sh scripts/dev.sh run [SERVER FLAGS...]   install what is missing, build, start on :8080
#   sh scripts/dev.sh test                    install what is missing, build, run every test
#
# "test" builds twice, warnings as errors: a normal build and an AddressSanitizer +
# UndefinedBehaviorSanitizer build, and runs the suite in both (the normal one also builds
# the .deb and unpacks it into a scratch root, on Debian); then it runs the
# integration tests once more with the server under valgrind (Linux), which must report no
# error and no leak; then each libFuzzer target for FUZZ_SECONDS (default 20) from its seed
# corpus (a crash fails the run and leaves its input in fuzz/corpus/TARGET/).
set -eu

cd "$(dirname "$0")/.."
mode="${1:-run}"
[ $# -gt 0 ] && shift

DEB_PACKAGES="build-essential cmake pkg-config libuv1-dev libcmocka-dev uthash-dev libinih-dev libsqlite3-dev libsodium-dev libssl-dev libsystemd-dev libhttp-parser-dev libwslay-dev libhiredis-dev redis-server prometheus openssl valgrind clang libclang-rt-dev dpkg-dev systemd inetutils-telnet nodejs chromium chromium-driver python3-selenium"
BROWSER_PACKAGES="chromium chromium-driver python3-selenium"
BREW_PACKAGES="cmake pkg-config libuv cmocka uthash inih sqlite libsodium openssl@3 http-parser wslay hiredis"

install_deps() {
  if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $DEB_PACKAGES; do
      dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "dev.sh: installing$missing"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    # The browser test's packages are Debian's: Ubuntu has chromium as a snap, not as a
    # package. What this system's apt does not know is left out (that test is then skipped).
    known=""
    for p in $missing; do
      case " $BROWSER_PACKAGES " in
        *" $p "*) apt-cache show "$p" >/dev/null 2>&1 || { echo "dev.sh: no package $p here: the browser test will be skipped"; continue; } ;;
      esac
      known="$known $p"
    done
    [ -z "$known" ] && return 0
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $known >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install $BREW_PACKAGES
  else
    echo "dev.sh: no apt-get or brew here; install by hand: cmake, a C compiler, libuv, inih, cmocka, uthash" >&2
    exit 1
  fi
}

jobs() { (nproc || sysctl -n hw.ncpu || echo 2) 2>/dev/null | head -n 1; }

case "$mode" in
  run)
    install_deps
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$(jobs)" --target uvchat
    exec ./build/release/uvchat "$@"
    ;;
  test)
    install_deps
    echo "== build (warnings are errors) and test =="
    cmake --preset dev >/dev/null
    cmake --build --preset dev -j "$(jobs)"
    ctest --preset dev -j 2
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and test =="
    cmake --preset sanitize >/dev/null
    cmake --build --preset sanitize -j "$(jobs)"
    ctest --preset sanitize -j 2
    if command -v valgrind >/dev/null 2>&1 && [ "$(uname -s)" = Linux ]; then
      echo "== integration tests with the server under valgrind memcheck =="
      UVCHAT_TEST_SLOW=4 \
      UVCHAT_TEST_WRAPPER="valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99" \
        ctest --preset dev -L integration
    fi
    if command -v clang >/dev/null 2>&1; then
      echo "== fuzzers (libFuzzer), ${FUZZ_SECONDS:-20} s each, from the seed corpus =="
      CC=clang cmake -S . -B build/fuzz -DUVCHAT_FUZZ=ON -DBUILD_TESTING=OFF \
        -DUVCHAT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
      cmake --build build/fuzz -j "$(jobs)"
      for t in $(ls fuzz/corpus); do
        if [ ! -x "build/fuzz/fuzz/fuzz_$t" ]; then # fuzz_web needs the web listener's libraries
          echo "dev.sh: fuzz_$t was not built (its libraries are missing): skipped" >&2
          continue
        fi
        work=$(mktemp -d)
        dict=""
        [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict" # the target's keywords, if any
        # shellcheck disable=SC2086 # $dict is one word or none
        if ! ./build/fuzz/fuzz/fuzz_$t -max_total_time="${FUZZ_SECONDS:-20}" $dict \
          -artifact_prefix="fuzz/corpus/$t/crash-" "$work" "fuzz/corpus/$t" >"$work.log" 2>&1; then
          tail -n 40 "$work.log"
          echo "dev.sh: fuzz_$t found a fault; its input is in fuzz/corpus/$t/" >&2
          exit 1
        fi
        grep DONE "$work.log" | sed "s/^/fuzz_$t: /"
        rm -rf "$work" "$work.log"
      done
    fi
    echo "dev.sh: all tests passed"
    ;;
  *)
    echo "usage: sh scripts/dev.sh run [SERVER FLAGS...] | sh scripts/dev.sh test" >&2
    exit 2
    ;;
esac
