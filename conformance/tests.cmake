# conformance/tests.cmake: the SPEC.md clause tests (one program per clause), each registered
# twice from the same code:
#   conformance_<clause>_<what>        in-process against libukey-token
#   conformance_<clause>_<what>_pcsc   through PC/SC: under the build-tree ukey-sandbox
#                                      (private pcscd + ifd + ukey-emu), via
#                                      scripts/run-pcsc.sh; skips (77) where no sandbox can
#                                      run and PCSCLITE_CSOCK_NAME is unset.
# Included from conformance/CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/tests.cmake)

add_library(ukey-conformance-harness STATIC
  ${CMAKE_CURRENT_LIST_DIR}/conf.c
  ${CMAKE_CURRENT_LIST_DIR}/conf_crypto.c
  ${CMAKE_CURRENT_LIST_DIR}/conf_ops.c
  ${CMAKE_CURRENT_LIST_DIR}/conf_pcsc.c)
target_include_directories(ukey-conformance-harness PUBLIC ${CMAKE_CURRENT_LIST_DIR}
                           ${PROJECT_SOURCE_DIR}/common/tests)
target_link_libraries(ukey-conformance-harness PUBLIC ukey-token-host ukey-token ukey-common
                      PkgConfig::PCSC OpenSSL::Crypto)

# name (CTest, with the SPEC clause tags)    source
set(UKEY_CONFORMANCE_TESTS
  "S0-B2_serial_zone                  conf_s0_b2.c"
  "S0-B3_S0-P1_pin_length             conf_s0_b3.c"
  "S1-4_pin_lock                      conf_s1_4.c"
  "S0-P2_pin_transit                  conf_s0_p2.c"
  "S0-K7_keygen_inside                conf_s0_k7.c"
  "S0-K6_S0-K8_no_private_export      conf_s0_k6_k8.c"
  "S1-3_two_factor                    conf_s1_3.c"
  "S2-1_signing_pair                  conf_s2_1.c"
  "S2-1_enveloped_import              conf_s2_1_enveloped.c"
  "S0-K9_delete_container             conf_s0_k9.c"
  "ISO7816-4_malformed                conf_iso7816_malformed.c"
  "ISO7816-4_chaining                 conf_iso7816_chaining.c"
  "S0-K1_random                       conf_s0_k1.c"
  "S0-K2_session_random               conf_s0_k2.c"
  "S0-K5_key_access                   conf_s0_k5.c"
  "S0-B4_so_unlock                    conf_s0_b4.c"
  "S0-P3_pin_not_exported             conf_s0_p3.c"
  "S1-4_change_counters               conf_s1_4_change.c"
  "S2-2_keypairs_retry                conf_s2_2.c"
  "S0-B1_algorithms                   conf_s0_b1.c"
  "S0-K3_primes                       conf_s0_k3.c"
  "S0-K4_stored_keys                  conf_s0_k4.c")

# Options of the sandbox a test's PC/SC variant runs in (UKEY_CONF_SANDBOX_ARGS_<what>):
# S2-2 proves the settable retry count through PC/SC with a key provisioned with 3 tries.
set(UKEY_CONF_SANDBOX_ARGS_S2-2_keypairs_retry --max-tries 3)

# The stack the PC/SC variants run through (built by ALL; listed for `--target`).
add_custom_target(conformance-pcsc-stack)
foreach(part ukey-emu ifd-ukey ukey-pcsc-wait)
  if(TARGET ${part})
    add_dependencies(conformance-pcsc-stack ${part})
  endif()
endforeach()

set(_uks "${CMAKE_BINARY_DIR}/tools/ukey-sandbox")
foreach(entry IN LISTS UKEY_CONFORMANCE_TESTS)
  string(REGEX MATCHALL "[^ ]+" _f "${entry}")
  list(GET _f 0 _what)
  list(GET _f 1 _src)
  set(_t conformance_${_what})
  ukey_add_test(${_t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${_src}
                LIBS ukey-conformance-harness LABELS "conformance")
  add_dependencies(conformance-pcsc-stack ${_t})
  add_test(NAME ${_t}_pcsc
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/scripts/run-pcsc.sh $<TARGET_FILE:${_t}>
                   ${UKEY_CONF_SANDBOX_ARGS_${_what}})
  set_tests_properties(${_t}_pcsc PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
                       LABELS "conformance;pcsc" ENVIRONMENT "UKEY_CONF_SANDBOX=${_uks}")
endforeach()

# the official vectors (gm-vectors.txt) for the tests that use them
foreach(_t conformance_S2-1_enveloped_import conformance_S0-B1_algorithms)
  target_compile_definitions(${_t} PRIVATE
    UKEY_GM_VECTORS="${CMAKE_CURRENT_LIST_DIR}/vectors/gm-vectors.txt")
endforeach()
