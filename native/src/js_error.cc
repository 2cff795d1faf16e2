#include "js_error.h"

#include <cstring>

namespace postern {

// glibc knows every Linux errno, including ones libuv and os.constants lack (EBADFD).
std::string ErrnoName(int code) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(code)) return name;
#endif
  return "ERRNO_" + std::to_string(code);
}

Napi::Error ToJsError(Napi::Env env, const SysError& error) {
  // Only called on the JavaScript thread, so strerror's static buffer is not shared with another caller.
  std::string message = error.syscall + ": " + std::strerror(error.code);
  if (!error.hint.empty()) message += " (" + error.hint + ")";
  Napi::Error js = Napi::Error::New(env, message);
  js.Set("code", Napi::String::New(env, ErrnoName(error.code)));
  js.Set("errno", Napi::Number::New(env, -error.code));  // negative, as in Node's own system errors
  js.Set("syscall", Napi::String::New(env, error.syscall));
  return js;
}

}  // namespace postern
