# Finds Debian's RDKit (librdkit-dev), which ships no CMake config.
# Defines RDKit_FOUND, RDKit_INCLUDE_DIRS and one imported target RDKit::<Name> per component,
# e.g. find_package(RDKit REQUIRED COMPONENTS SmilesParse GraphMol) gives RDKit::SmilesParse.
find_path(RDKit_INCLUDE_DIR GraphMol/ROMol.h PATH_SUFFIXES rdkit)
find_package(Boost REQUIRED)

set(RDKit_LIBRARIES)
foreach(component IN LISTS RDKit_FIND_COMPONENTS)
  find_library(RDKit_${component}_LIBRARY NAMES RDKit${component})
  if(RDKit_${component}_LIBRARY)
    set(RDKit_${component}_FOUND TRUE)
    if(NOT TARGET RDKit::${component})
      add_library(RDKit::${component} SHARED IMPORTED)
      set_target_properties(RDKit::${component} PROPERTIES
        IMPORTED_LOCATION "${RDKit_${component}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${RDKit_INCLUDE_DIR};${Boost_INCLUDE_DIRS}")
    endif()
    list(APPEND RDKit_LIBRARIES RDKit::${component})
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RDKit REQUIRED_VARS RDKit_INCLUDE_DIR HANDLE_COMPONENTS)
set(RDKit_INCLUDE_DIRS ${RDKit_INCLUDE_DIR} ${Boost_INCLUDE_DIRS})
mark_as_advanced(RDKit_INCLUDE_DIR)
