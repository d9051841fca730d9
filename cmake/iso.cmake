# build/hv.iso: a GRUB El Torito image for BIOS (grub-pc-bin) and UEFI
# (grub-efi-amd64-bin), hybrid so that it also boots when written to a USB
# stick with dd. The menu lives in tools/boot/grub.cfg.
#
# Files are staged under build/iso/ and the image is made by grub-mkrescue
# (grub-common, with xorriso and mtools). Further files for the image (Dom0,
# the cpio archive) go into HV_ISO_EXTRA_FILES before this file is included,
# the targets that make them into HV_ISO_EXTRA_TARGETS; each file lands in
# /boot/ under its own name and needs a module2 line in tools/boot/grub.cfg.

set(HV_ISO ${CMAKE_BINARY_DIR}/hv.iso)
set(HV_ISO_ROOT ${CMAKE_BINARY_DIR}/iso)
set(HV_GRUB_CFG ${PROJECT_SOURCE_DIR}/tools/boot/grub.cfg)

find_program(HV_GRUB_MKRESCUE NAMES grub-mkrescue grub2-mkrescue)
find_program(HV_XORRISO xorriso)
find_program(HV_MFORMAT mformat)

set(_hv_iso_missing "")
if(NOT HV_GRUB_MKRESCUE)
  list(APPEND _hv_iso_missing "grub-mkrescue (grub-common)")
endif()
if(NOT HV_XORRISO)
  list(APPEND _hv_iso_missing "xorriso")
endif()
if(NOT HV_MFORMAT)
  list(APPEND _hv_iso_missing "mformat (mtools)")
endif()
foreach(_platform i386-pc x86_64-efi)
  if(NOT EXISTS /usr/lib/grub/${_platform}/modinfo.sh)
    if(_platform STREQUAL "i386-pc")
      list(APPEND _hv_iso_missing "GRUB for ${_platform} (grub-pc-bin)")
    else()
      list(APPEND _hv_iso_missing "GRUB for ${_platform} (grub-efi-amd64-bin)")
    endif()
  endif()
endforeach()

if(_hv_iso_missing)
  list(JOIN _hv_iso_missing ", " _hv_iso_missing_text)
  message(WARNING "hv.iso will not be built: missing ${_hv_iso_missing_text}. "
    "Run tools/install-deps (as root it installs them). "
    "The ISO boot tests fail until the ISO exists.")
  return()
endif()

set(_hv_iso_copies "")
set(_hv_iso_depends hv.elf ${HV_GRUB_CFG} ${HV_ISO_EXTRA_TARGETS})
foreach(_file IN LISTS HV_ISO_EXTRA_FILES)
  get_filename_component(_name ${_file} NAME)
  list(APPEND _hv_iso_copies
    COMMAND ${CMAKE_COMMAND} -E copy ${_file} ${HV_ISO_ROOT}/boot/${_name})
  list(APPEND _hv_iso_depends ${_file})
endforeach()

add_custom_command(
  OUTPUT ${HV_ISO}
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${HV_ISO_ROOT}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HV_ISO_ROOT}/boot/grub
  COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:hv.elf> ${HV_ISO_ROOT}/boot/hv.elf
  COMMAND ${CMAKE_COMMAND} -E copy ${HV_GRUB_CFG} ${HV_ISO_ROOT}/boot/grub/grub.cfg
  ${_hv_iso_copies}
  # No locales, fonts or themes: the menu is text on serial and console.
  COMMAND ${HV_GRUB_MKRESCUE} --output=${HV_ISO} --locales= --fonts= --themes=
          ${HV_ISO_ROOT}
  DEPENDS ${_hv_iso_depends}
  COMMENT "Making hv.iso (GRUB, BIOS + UEFI, CD-ROM and USB stick)"
  VERBATIM)
add_custom_target(hv_iso ALL DEPENDS ${HV_ISO})
