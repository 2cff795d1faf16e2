// Every OS without a backend yet. The TypeScript wrapper already refuses these OSes by process.platform; this keeps
// the addon buildable there and the answer the same if it is called directly.
#include <cerrno>

#include "peercred.h"
#include "tun_backend.h"

namespace postern {

std::unique_ptr<TunBackend> OpenTun(const TunConfig&, SysError* error) {
  *error = SysError{ENOTSUP, "open TUN device", "not supported on this OS yet"};
  return nullptr;
}

bool GetPeerCredentials(int, PeerCredentials*, SysError* error) {
  *error = SysError{ENOTSUP, "peer credentials", "not supported on this OS yet"};
  return false;
}

}  // namespace postern
