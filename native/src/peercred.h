// Credentials of the process at the other end of a connected Unix socket, as the kernel recorded them when that
// process called connect() (or socketpair()). Backends: peercred_linux.cc (SO_PEERCRED); macOS would use
// getpeereid() plus LOCAL_PEERPID.
#pragma once

#include <cstdint>

#include "sys_error.h"

namespace postern {

struct PeerCredentials {
  int64_t pid = 0;
  int64_t uid = 0;
  int64_t gid = 0;
};

bool GetPeerCredentials(int fd, PeerCredentials* out, SysError* error);

}  // namespace postern
