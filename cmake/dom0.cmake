# Dom0: a static ring-3 ELF (linked at 4 MiB by vmm/rt/linker.ld), built with
# the same g++ in freestanding mode. No SSE yet: hv does not switch x87/SSE
# state for ring-3 threads.
set(HV_DOM0_CXX_FLAGS
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
  -fno-use-cxa-atexit -fno-stack-protector -fno-pic -fno-pie
  -mgeneral-regs-only -mno-sse -mno-mmx -mno-avx
  -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fcf-protection=none
  -Wall -Wextra -Werror -Wno-missing-field-initializers
  -O2 -g)
set(HV_DOM0_LINKER_SCRIPT ${PROJECT_SOURCE_DIR}/vmm/rt/linker.ld)

# hv_add_dom0(name sources): build ${name} into the top of the build tree.
function(hv_add_dom0 name sources)
  add_executable(${name} ${sources})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${name} PRIVATE HV_DOM0=1)
  target_compile_options(${name} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${HV_DOM0_CXX_FLAGS}>
    $<$<COMPILE_LANGUAGE:ASM>:-Wa,--noexecstack -g>)
  target_link_options(${name} PRIVATE
    -nostdlib -static -no-pie -Wl,--no-dynamic-linker
    -Wl,-T,${HV_DOM0_LINKER_SCRIPT} -Wl,-z,max-page-size=0x1000
    -Wl,-z,noexecstack -Wl,--build-id=none)
  target_link_libraries(${name} PRIVATE gcc)
  set_target_properties(${name} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    LINK_DEPENDS ${HV_DOM0_LINKER_SCRIPT})
endfunction()
