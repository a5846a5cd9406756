#!/bin/sh
# module_exports: libukey-pkcs11.so exports C_GetFunctionList, C_GetInterface and
# C_GetInterfaceList (PKCS#11 3.0 §5.4) and no other function.
set -eu
so="$1"
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TtWwDdBbRr]$/ {print $3}' | sort)
echo "exported: $syms"
want=$(printf '%s\n' C_GetFunctionList C_GetInterface C_GetInterfaceList)
[ "$syms" = "$want" ] || { echo "unexpected exported symbols" >&2; exit 1; }
