# Installs gctool into a temporary prefix, then configures, builds and runs tests/consumer
# against it with find_package(gctool): once with the whole library, once with
# COMPONENTS io, whose link line and shared libraries must hold none of the system libraries
# the compiled layers wrap.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install into ${prefix} failed")
endif()

foreach(variant full io)
  set(build ${WORK_DIR}/build-${variant})
  set(io_only OFF)
  if(variant STREQUAL "io")
    set(io_only ON)
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCONSUMER_IO_ONLY=${io_only} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring the consumer project (${variant}) failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building the consumer project (${variant}) failed")
  endif()
  execute_process(COMMAND ${build}/consumer OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "read through gctool's loop: hello; core: ok")
    message(FATAL_ERROR "consumer (${variant}) failed (${rc}): ${out}")
  endif()
  message(STATUS "consumer (${variant}) output: ${out}")
endforeach()

# The io-only program: neither its link line nor its loaded libraries name what it does not use.
file(READ ${WORK_DIR}/build-io/CMakeFiles/consumer.dir/link.txt link_line)
execute_process(COMMAND ldd ${WORK_DIR}/build-io/consumer OUTPUT_VARIABLE libraries
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ldd of the io consumer failed")
endif()
foreach(unwanted archive seccomp nftables curl crypto libgctool)
  if(link_line MATCHES "${unwanted}" OR libraries MATCHES "${unwanted}")
    message(FATAL_ERROR "the io-only consumer links ${unwanted}:\n${link_line}\n${libraries}")
  endif()
endforeach()
if(NOT libraries MATCHES "liburing")
  message(FATAL_ERROR "the io-only consumer does not load liburing:\n${libraries}")
endif()
message(STATUS "io consumer link line: ${link_line}")
