# Host world: unit tests and host tools. Sanitizers on by default so every
# host test runs under ASan and UBSan.
option(HV_SANITIZE "Build host code with ASan and UBSan" ON)

set(HV_HOST_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
set(HV_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

function(hv_host_target target)
  target_compile_options(${target} PRIVATE ${HV_HOST_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${target} PUBLIC HV_HOST=1)
  if(HV_SANITIZE)
    target_compile_options(${target} PUBLIC ${HV_SANITIZER_FLAGS})
    target_link_options(${target} PUBLIC ${HV_SANITIZER_FLAGS})
  endif()
endfunction()

function(hv_add_host_library name sources)
  add_library(${name} STATIC ${sources})
  hv_host_target(${name})
endfunction()
