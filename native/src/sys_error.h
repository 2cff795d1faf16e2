// A failed operating-system call, carried from the OS backends (which know nothing of JavaScript) to the binding.
#pragma once

#include <string>

namespace postern {

struct SysError {
  int code = 0;          // errno value
  std::string syscall;   // e.g. "ioctl(TUNSETIFF)"
  std::string hint;      // what it usually means here, or empty
};

}  // namespace postern
