# ukey_add_fuzz(NAME SOURCES src... [LIBS lib...] CORPUS dir)
# One fuzz target (int LLVMFuzzerTestOneInput(const uint8_t *, size_t)) built two ways:
#   - always (with tests): NAME_replay, the target linked with fuzz/replay.c, a plain main()
#     that feeds every file of CORPUS to it; CTest runs it as test fuzz_NAME, so the
#     committed corpus is replayed by every build (under ASan too, with UKEY_SANITIZE=ON);
#   - with -DUKEY_FUZZ=ON and clang: NAME, the libFuzzer binary. Only SOURCES are built with
#     the fuzzer's coverage instrumentation, so they must include the code under test itself
#     (not just link its library), or libFuzzer explores blind;
#     (-fsanitize=fuzzer,address,undefined), to grow the corpus:
#         build/fuzz/NAME -max_total_time=60 fuzz/corpus/NAME
option(UKEY_FUZZ "build libFuzzer targets (needs clang)" OFF)
function(ukey_add_fuzz name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name}_replay ${PROJECT_SOURCE_DIR}/fuzz/replay.c ${F_SOURCES})
  target_link_libraries(${name}_replay PRIVATE ${F_LIBS})
  add_test(NAME fuzz_${name} COMMAND ${name}_replay ${F_CORPUS})
  set_tests_properties(fuzz_${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS fuzz)
  if(UKEY_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "UKEY_FUZZ=ON needs clang (cmake -DCMAKE_C_COMPILER=clang)")
    endif()
    add_executable(${name} ${F_SOURCES})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
  endif()
endfunction()
