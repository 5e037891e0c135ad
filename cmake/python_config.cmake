# cmake --install step (cmake/python.cmake): write the installed package's _config.py naming
# the installed libdln, from the install-time prefix (so `--prefix P` points at P; DESTDIR
# only stages). Inputs: DLN_PY_DIR, DLN_PY_LIBDIR (relative to the prefix or absolute),
# DLN_PY_LIBNAME (libdln.so.0).
foreach(v DLN_PY_DIR DLN_PY_LIBDIR)
  if(NOT IS_ABSOLUTE "${${v}}")
    set(${v} "${CMAKE_INSTALL_PREFIX}/${${v}}")
  endif()
endforeach()
set(_cfg "$ENV{DESTDIR}${DLN_PY_DIR}/dln/_config.py")
message(STATUS "Installing: ${_cfg}")
file(WRITE "${_cfg}" "\"\"\"Written by cmake --install: the libdln this copy of the package loads.\"\"\"
LIBRARY = \"${DLN_PY_LIBDIR}/${DLN_PY_LIBNAME}\"
")
