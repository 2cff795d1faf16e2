#include <sys/socket.h>

#include <cerrno>

#include "peercred.h"

namespace postern {

bool GetPeerCredentials(int fd, PeerCredentials* out, SysError* error) {
  // SO_PEERCRED on a TCP or UDP socket does not fail: it reports pid 0 and the overflow uid/gid (65534), which
  // could pass for "nobody". Only a Unix-domain socket has a real peer, so anything else is refused.
  int domain = 0;
  socklen_t domain_length = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &domain_length) != 0) {
    const int code = errno;
    *error = SysError{code, "getsockopt(SO_DOMAIN)", code == ENOTSOCK || code == EBADF ? "not an open socket" : ""};
    return false;
  }
  if (domain != AF_UNIX) {
    *error = SysError{EAFNOSUPPORT, "getsockopt(SO_PEERCRED)", "not a Unix-domain socket"};
    return false;
  }
  struct ucred cred {};
  socklen_t length = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    *error = SysError{errno, "getsockopt(SO_PEERCRED)", ""};
    return false;
  }
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;
  return true;
}

}  // namespace postern
