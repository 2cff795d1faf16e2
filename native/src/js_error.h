// Turns a SysError into a JavaScript Error shaped like Node's own system errors: `code` ("EPERM"), `errno`
// (negative), `syscall`.
#pragma once

#include <napi.h>

#include <string>

#include "sys_error.h"

namespace postern {

// "EPERM" for EPERM; "ERRNO_<n>" where the C library has no name for it.
std::string ErrnoName(int code);

Napi::Error ToJsError(Napi::Env env, const SysError& error);

}  // namespace postern
