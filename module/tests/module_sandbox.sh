#!/bin/sh
# Run a module test inside tools/ukey-sandbox; exit 77 (skip) where no sandbox can run or a
# part of the stack is not built yet.
#   module_sandbox.sh SANDBOX COMMAND...                 (default sandbox)
#   module_sandbox.sh SANDBOX [OPTIONS...] -- COMMAND... (sandbox options, e.g. --pinpad)
sandbox="$1"
shift
if [ ! -x "$sandbox" ]; then
	echo "skipped: $sandbox not built" >&2
	exit 77
fi
"$sandbox" --check
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "skipped: sandbox unavailable here (--check: $rc)" >&2
	exit 77
fi
case " $* " in
*" -- "*) exec "$sandbox" "$@" ;;
esac
exec "$sandbox" -- "$@"
