# Dependencies of the compiled gctool::gctool (beyond those of gctool::io), shared by the build
# and by the installed package config.
include("${CMAKE_CURRENT_LIST_DIR}/GctoolIoDependencies.cmake")
find_dependency(nlohmann_json)
find_dependency(range-v3)
pkg_check_modules(ARCHIVE REQUIRED IMPORTED_TARGET libarchive)
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
