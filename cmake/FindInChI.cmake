# Finds the IUPAC InChI library (Debian's libinchi-dev): InChI::inchi.
# Debian's RDKit is built without InChI support, so labloop calls the library itself.
find_path(InChI_INCLUDE_DIR inchi_api.h)
find_library(InChI_LIBRARY NAMES inchi)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(InChI REQUIRED_VARS InChI_LIBRARY InChI_INCLUDE_DIR)
if(InChI_FOUND AND NOT TARGET InChI::inchi)
  add_library(InChI::inchi SHARED IMPORTED)
  set_target_properties(InChI::inchi PROPERTIES IMPORTED_LOCATION "${InChI_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${InChI_INCLUDE_DIR}")
endif()
mark_as_advanced(InChI_INCLUDE_DIR InChI_LIBRARY)
