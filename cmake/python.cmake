# The Python package `dln` (python/dln, docs/python.md), included from the top CMakeLists.txt.
# - build tree: python/dln copied into <build>/python/dln at build time, with a generated
#   _config.py whose LIBRARY is this build's libdln.so (PYTHONPATH=<build>/python);
# - install: into the prefix's dist-packages of DLN_PYTHON_EXECUTABLE (Debian's
#   /usr/bin/python3: lib/python3.11/dist-packages for /usr/local), with an installed
#   _config.py naming <prefix>/<libdir>/libdln.so.0.
# DLN_PYTHON defaults to ON when DLN_PYTHON_EXECUTABLE imports numpy and cffi.
set(DLN_PYTHON_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python of the dln package (Debian's, with python3-numpy and python3-cffi)")
set(_dln_py_found OFF)
if(EXISTS "${DLN_PYTHON_EXECUTABLE}")
  execute_process(COMMAND "${DLN_PYTHON_EXECUTABLE}" -c "import numpy, cffi"
                  RESULT_VARIABLE _dln_py_rc OUTPUT_QUIET ERROR_QUIET)
  if(_dln_py_rc EQUAL 0)
    set(_dln_py_found ON)
  endif()
endif()
option(DLN_PYTHON "Build and install the Python package dln (needs numpy and cffi)" ${_dln_py_found})
if(NOT DLN_PYTHON)
  if(NOT _dln_py_found)
    message(STATUS "dln: Python package off (${DLN_PYTHON_EXECUTABLE} with numpy and cffi not found: scripts/install-deps.sh)")
  endif()
  return()
elseif(NOT _dln_py_found)
  message(FATAL_ERROR "DLN_PYTHON=ON: expected ${DLN_PYTHON_EXECUTABLE} importing numpy and cffi, found none (scripts/install-deps.sh, or -DDLN_PYTHON=OFF)")
endif()

# Where /usr/bin/python3 looks for packages of a prefix: purelib relative to its scheme's
# prefix ("data"), e.g. lib/python3.11/dist-packages for Debian's posix_local scheme.
if(NOT DEFINED DLN_PYTHON_INSTALL_DIR)
  execute_process(COMMAND "${DLN_PYTHON_EXECUTABLE}" -c
    "import os, sysconfig as s; p = s.get_paths(); print(os.path.relpath(p['purelib'], p['data']))"
    OUTPUT_VARIABLE _dln_py_rel OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _dln_py_rc)
  if(NOT _dln_py_rc EQUAL 0 OR _dln_py_rel MATCHES "^\\.\\.")
    message(FATAL_ERROR "dln: cannot place the Python package: ${DLN_PYTHON_EXECUTABLE}'s purelib, found '${_dln_py_rel}'; set DLN_PYTHON_INSTALL_DIR")
  endif()
  set(DLN_PYTHON_INSTALL_DIR "${_dln_py_rel}")
endif()
set(DLN_PYTHON_INSTALL_DIR "${DLN_PYTHON_INSTALL_DIR}" CACHE PATH
    "Where cmake --install puts the Python package dln (relative: to the install prefix)")

# The build tree's copy: one copy rule per file (subpackages too), so an edit of python/dln
# is picked up; a file gone from the source goes from the copy at the next configure.
file(GLOB_RECURSE _dln_py_rel RELATIVE ${PROJECT_SOURCE_DIR}/python/dln CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/dln/*.py)
list(FILTER _dln_py_rel EXCLUDE REGEX "(^|/)__pycache__/|^_config\\.py$")
file(GLOB_RECURSE _dln_py_old RELATIVE ${PROJECT_BINARY_DIR}/python/dln ${PROJECT_BINARY_DIR}/python/dln/*.py)
foreach(rel ${_dln_py_old})
  if(NOT rel IN_LIST _dln_py_rel AND NOT rel STREQUAL "_config.py")
    file(REMOVE ${PROJECT_BINARY_DIR}/python/dln/${rel})
  endif()
endforeach()
set(_dln_py_outputs)
foreach(rel ${_dln_py_rel})
  set(out ${PROJECT_BINARY_DIR}/python/dln/${rel})
  add_custom_command(OUTPUT ${out} COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/python/dln/${rel} ${out}
                     DEPENDS ${PROJECT_SOURCE_DIR}/python/dln/${rel} VERBATIM)
  list(APPEND _dln_py_outputs ${out})
endforeach()
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/python/dln/_config.py CONTENT
"\"\"\"Written by CMake: the libdln this copy of the package loads (the build tree's).\"\"\"
LIBRARY = \"$<TARGET_FILE:dln>\"
")
add_custom_target(dln_python ALL DEPENDS ${_dln_py_outputs})
add_dependencies(dln_python dln)

# The installed copy, and its _config.py naming the installed library; written at install
# time so that `cmake --install --prefix P` points at P (DESTDIR is a staging root only).
foreach(rel ${_dln_py_rel})
  get_filename_component(sub ${rel} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/python/dln/${rel} DESTINATION ${DLN_PYTHON_INSTALL_DIR}/dln/${sub})
endforeach()
set(_dln_lib_name ${CMAKE_SHARED_LIBRARY_PREFIX}dln${CMAKE_SHARED_LIBRARY_SUFFIX}.${PROJECT_VERSION_MAJOR})
install(CODE "set(DLN_PY_DIR \"${DLN_PYTHON_INSTALL_DIR}\")
  set(DLN_PY_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(DLN_PY_LIBNAME \"${_dln_lib_name}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/python_config.cmake\")")
