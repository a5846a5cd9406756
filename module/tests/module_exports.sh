#!/bin/sh
# module_exports: libukey-pkcs11.so exports C_GetFunctionList and no other function.
set -eu
so="$1"
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TtWwDdBbRr]$/ {print $3}' | sort)
echo "exported: $syms"
[ "$syms" = "C_GetFunctionList" ] || { echo "unexpected exported symbols" >&2; exit 1; }
