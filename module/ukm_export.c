/* ukey module: the shared object's own translation unit. All code lives in the
 * ukey-module-objs archive; this reference pulls C_GetFunctionList (and through its
 * function table every other entry point) into libukey-pkcs11.so. */
#include "ukm.h"

CK_RV (*const ukm_export_anchor)(CK_FUNCTION_LIST_PTR_PTR) = C_GetFunctionList;
