# Freestanding kernel world. Same compiler as the host build, different flags.
set(HV_KERNEL_CXX_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
  -fno-use-cxa-atexit -fno-stack-protector -fno-pic -fno-pie
  -mno-red-zone -mcmodel=kernel -mgeneral-regs-only -mno-sse -mno-mmx -mno-avx
  -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fcf-protection=none
  -Wall -Wextra -Werror -Wno-missing-field-initializers
  -O2 -g)

set(HV_KERNEL_LINKER_SCRIPT ${PROJECT_SOURCE_DIR}/arch/x86_64/linker.ld)

# hv_add_kernel(name sources): build ${name}.elf (ELF64, Multiboot1+2 headers)
# and ${name}.elf32 (same image as ELF32 for QEMU -kernel and iPXE) into the
# top of the build tree.
# Extra arguments are compile definitions (e.g. HV_TEST_BUILD=1).
function(hv_add_kernel name sources)
  add_executable(${name}.elf ${sources})
  target_include_directories(${name}.elf PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${name}.elf PRIVATE HV_KERNEL=1 ${ARGN})
  target_compile_options(${name}.elf PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${HV_KERNEL_CXX_FLAGS}>
    $<$<COMPILE_LANGUAGE:ASM>:-Wa,--noexecstack -g>)
  target_link_options(${name}.elf PRIVATE
    -nostdlib -static -no-pie -Wl,--no-dynamic-linker
    -Wl,-T,${HV_KERNEL_LINKER_SCRIPT} -Wl,-z,max-page-size=0x1000
    -Wl,-z,noexecstack -Wl,--build-id=none -Wl,-Map,${CMAKE_BINARY_DIR}/${name}.map)
  target_link_libraries(${name}.elf PRIVATE gcc)
  set_target_properties(${name}.elf PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    LINK_DEPENDS ${HV_KERNEL_LINKER_SCRIPT}
    SUFFIX "")
  add_custom_command(TARGET ${name}.elf POST_BUILD
    COMMAND $<TARGET_FILE:mkelf32> $<TARGET_FILE:${name}.elf> ${CMAKE_BINARY_DIR}/${name}.elf32
    COMMENT "Making ${name}.elf32 (Multiboot1 ELF32)")
  add_dependencies(${name}.elf mkelf32)
endfunction()
