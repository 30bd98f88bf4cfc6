# The Debian package (./scripts/package), included by the top-level
# CMakeLists.txt: CPack's DEB generator packs exactly what `cmake --install`
# installs, so the file list has one source. Here: what Debian Policy asks
# of the package's documentation, and the control fields.

# /usr/share/doc/tund/copyright (Policy 12.5) in the machine-readable format,
# quoting LICENSE so the licence text has one copy: its holder line, then its
# body with each line indented and blank lines as " ." (DEP-5's way).
file(READ ${PROJECT_SOURCE_DIR}/LICENSE license)
string(REGEX MATCH "Copyright \\(c\\) ([^\n]*)" _ "${license}")
set(TUND_COPYRIGHT "${CMAKE_MATCH_1}")
string(REGEX REPLACE "^.*Copyright \\(c\\) [^\n]*\n" "" license "${license}")
string(STRIP "${license}" license)
string(REPLACE "\n\n" "\n.\n" license "${license}")
string(REPLACE "\n" "\n " TUND_LICENSE_TEXT " ${license}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/copyright.in ${CMAKE_BINARY_DIR}/packaging/copyright @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# changelog.Debian.gz (Policy 12.7): the package is not Debian-native, so its
# version is the project's plus the Debian revision of the changelog's top
# entry (tests/package_test.sh checks the two agree).
tund_install_gzipped(${CMAKE_CURRENT_LIST_DIR}/changelog ${CMAKE_INSTALL_DOCDIR} changelog.Debian)
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/changelog top LIMIT_COUNT 1)
string(REGEX MATCH "^tund \\(([^)]*)-([^)-]+)\\)" _ "${top}")
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(WARNING "packaging/changelog's top entry is for ${CMAKE_MATCH_1}, the project is ${PROJECT_VERSION}: add an entry")
endif()
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CMAKE_MATCH_2})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tund)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "tund maintainers <tund@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "VPN whose sessions survive network handover (client and hub)")
# Lines under 80 columns: CPack indents them as the control file wants.
set(CPACK_PACKAGE_DESCRIPTION "tund carries a device's traffic over UDP through whichever uplink
(Ethernet, Wi-Fi, LTE) is best, and keeps sessions and inner connections
alive across uplink changes; tund-hub is the server side, giving each
client a stable virtual IP.

Installing enables nothing: no service is enabled or started, and no
system setting (such as IP forwarding) is changed.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # tund_<version>-<revision>_<arch>.deb
# CPack takes the architecture from dpkg --print-architecture, the build
# machine's; a cross build (cmake/*.cmake) packs the target's.
if(CMAKE_CROSSCOMPILING)
  execute_process(COMMAND dpkg-architecture -t${CMAKE_LIBRARY_ARCHITECTURE} -qDEB_HOST_ARCH
                  OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET COMMAND_ERROR_IS_FATAL ANY)
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)    # dependencies computed by dpkg-shlibdeps
set(CPACK_STRIP_FILES ON)                 # Policy 10.1: binaries are shipped stripped
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_CURRENT_LIST_DIR}/postinst;${CMAKE_CURRENT_LIST_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
