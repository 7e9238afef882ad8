# Finds the xtb C API (Debian's libxtb-dev): XTB::xtb.
find_path(XTB_INCLUDE_DIR xtb.h)
find_library(XTB_LIBRARY NAMES xtb)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XTB REQUIRED_VARS XTB_LIBRARY XTB_INCLUDE_DIR)
if(XTB_FOUND AND NOT TARGET XTB::xtb)
  add_library(XTB::xtb SHARED IMPORTED)
  set_target_properties(XTB::xtb PROPERTIES IMPORTED_LOCATION "${XTB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XTB_INCLUDE_DIR}")
endif()
mark_as_advanced(XTB_INCLUDE_DIR XTB_LIBRARY)
