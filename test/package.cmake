# package.cmake: builds uvchat as a distribution would (Release, prefix /usr, no tests, so
# no cmocka), makes the .deb with CPack, unpacks it into a scratch root and checks it:
# the binary runs from there, the man pages, the example configuration and the systemd unit
# are where they belong, the installed configuration passes --check-config, and
# `systemd-analyze verify` accepts the unit where systemd-analyze exists. Run as
#   cmake -DSRC=source -DWORK=scratch -DCC=compiler -P package.cmake
# It prints "SKIPPED: ..." (which CTest reports as skipped) where dpkg-deb is missing.
cmake_minimum_required(VERSION 3.21)
find_program(DPKG_DEB dpkg-deb)
if(NOT DPKG_DEB)
  message("SKIPPED: dpkg-deb is not installed, so no .deb can be checked")
  return()
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK}/root" "${WORK}/pkg")
run(${CMAKE_COMMAND} -S "${SRC}" -B "${WORK}/build" -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_C_COMPILER=${CC} -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF
  -DUVCHAT_BUILD_BENCH=OFF -DUVCHAT_WERROR=ON)
run(${CMAKE_COMMAND} --build "${WORK}/build" --parallel 2 --target uvchat)
execute_process(COMMAND cpack -G DEB -B "${WORK}/pkg" WORKING_DIRECTORY "${WORK}/build"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cpack -G DEB failed:\n${out}\n${err}")
endif()
file(GLOB debs "${WORK}/pkg/*.deb")
list(LENGTH debs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one .deb in ${WORK}/pkg, found: ${debs}")
endif()
message(STATUS "package: ${debs}")
run(${DPKG_DEB} --info "${debs}")
message(STATUS "${out}")
if(NOT out MATCHES "Package: uvchat" OR NOT out MATCHES "Depends: [^\n]*libuv1")
  message(FATAL_ERROR "the package's control data lacks its name or its libuv dependency")
endif()
run(${DPKG_DEB} --ctrl-tarfile "${debs}")
run(${DPKG_DEB} -x "${debs}" "${WORK}/root")

set(root "${WORK}/root")
foreach(f usr/bin/uvchat usr/share/man/man1/uvchat.1 usr/share/man/man5/uvchat.conf.5
    usr/lib/systemd/system/uvchat.service etc/uvchat/uvchat.conf
    usr/share/doc/uvchat/LICENSE usr/share/doc/uvchat/examples/uvchat.conf)
  if(NOT EXISTS "${root}/${f}")
    message(FATAL_ERROR "the package does not install /${f}")
  endif()
endforeach()
# /etc/uvchat/uvchat.conf is a conffile: an upgrade keeps the administrator's edits.
execute_process(COMMAND ${DPKG_DEB} --field "${debs}" Package OUTPUT_VARIABLE name)
execute_process(COMMAND ${DPKG_DEB} -e "${debs}" "${WORK}/pkg/control")
file(READ "${WORK}/pkg/control/conffiles" conffiles)
if(NOT conffiles MATCHES "/etc/uvchat/uvchat.conf")
  message(FATAL_ERROR "/etc/uvchat/uvchat.conf is not a conffile: '${conffiles}'")
endif()

# The installed binary runs, and the installed configuration is valid for it.
run("${root}/usr/bin/uvchat" --version)
if(NOT out MATCHES "^uvchat [0-9]")
  message(FATAL_ERROR "the installed uvchat --version printed: ${out}")
endif()
run("${root}/usr/bin/uvchat" --check-config --config "${root}/etc/uvchat/uvchat.conf")
message(STATUS "${out}")
file(READ "${root}/usr/lib/systemd/system/uvchat.service" unit)
foreach(want "ExecStart=/usr/bin/uvchat --config /etc/uvchat/uvchat.conf" "DynamicUser=yes"
    "StateDirectory=uvchat" "ProtectSystem=strict" "NoNewPrivileges=yes" "Restart=on-failure")
  string(FIND "${unit}" "${want}" at)
  if(at LESS 0)
    message(FATAL_ERROR "the unit lacks ${want}")
  endif()
endforeach()

find_program(SYSTEMD_ANALYZE systemd-analyze)
if(SYSTEMD_ANALYZE)
  # verify checks that ExecStart's program exists (point it at the unpacked one) and that
  # the Documentation= man pages open (MANPATH: the unpacked ones).
  string(REPLACE "ExecStart=/usr/bin/uvchat" "ExecStart=${root}/usr/bin/uvchat" unit "${unit}")
  file(WRITE "${WORK}/pkg/uvchat.service" "${unit}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "MANPATH=${root}/usr/share/man"
    ${SYSTEMD_ANALYZE} verify "${WORK}/pkg/uvchat.service"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR err MATCHES "uvchat.service:")
    message(FATAL_ERROR "systemd-analyze verify rejects the unit (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "systemd-analyze verify accepts the unit")
else()
  message(STATUS "systemd-analyze not found: the unit is not verified")
endif()
message(STATUS "the .deb installs and runs")
