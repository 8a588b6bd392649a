# Dependencies of the header-only gctool::core and gctool::io, shared by the build and by the
# installed package config.
include(CMakeFindDependencyMacro)
find_dependency(PkgConfig)
find_dependency(fmt)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
