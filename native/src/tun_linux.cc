// Linux TUN backend: /dev/net/tun with IFF_TUN | IFF_NO_PI (bare IP packets, no 4-byte packet-info header), a
// non-blocking fd, and an eventfd that lets another thread wake the reader out of poll().
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tun_backend.h"

namespace postern {
namespace {

// Closes the descriptor it owns; -1 owns nothing.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

SysError Failed(const char* syscall, const char* hint = "") { return SysError{errno, syscall, hint}; }

const char* TunSetIffHint(int code) {
  switch (code) {
    case EPERM:
    case EACCES:
      return "creating a TUN device needs root or CAP_NET_ADMIN";
    case EBUSY:
      return "another process has this TUN device open";
    case EINVAL:
      return "the name is invalid or belongs to an interface that is not a TUN device";
    default:
      return "";
  }
}

class LinuxTun final : public TunBackend {
 public:
  LinuxTun(Fd tun, Fd wake, std::string name, uint32_t ifindex)
      : tun_(std::move(tun)), wake_(std::move(wake)), name_(std::move(name)), ifindex_(ifindex) {}

  const std::string& name() const override { return name_; }
  uint32_t ifindex() const override { return ifindex_; }

  WaitResult WaitReadable(SysError* error) override {
    pollfd fds[2] = {{tun_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    while (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      *error = Failed("poll");
      return WaitResult::kFailed;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      // Draining the eventfd; it is non-blocking, so a concurrent drain is harmless.
      (void)!read(wake_.get(), &count, sizeof(count));
      return WaitResult::kInterrupted;
    }
    // The tun driver reports POLLERR once the interface is gone (e.g. `ip link del`); reads then fail with EBADFD.
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      *error = SysError{EBADFD, "poll", "the TUN interface was removed"};
      return WaitResult::kFailed;
    }
    return WaitResult::kReadable;
  }

  int64_t Read(uint8_t* buffer, size_t capacity, SysError* error) override {
    for (;;) {
      const ssize_t n = read(tun_.get(), buffer, capacity);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      *error = Failed("read", errno == EBADFD ? "the TUN interface was removed" : "");
      return -1;
    }
  }

  int Write(const uint8_t* packet, size_t length) override {
    for (;;) {
      if (write(tun_.get(), packet, length) >= 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  void Interrupt() override {
    const uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof(one));
  }

 private:
  Fd tun_;
  Fd wake_;
  std::string name_;
  uint32_t ifindex_;
};

// SIOCSIFMTU, SIOCSIFFLAGS and SIOCGIFINDEX work on any socket; they act in the caller's network namespace.
bool Configure(const std::string& name, uint32_t mtu, uint32_t* ifindex, SysError* error) {
  int raw = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (raw < 0) raw = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // a kernel without IPv4
  Fd sock(raw);
  if (!sock.valid()) {
    *error = Failed("socket");
    return false;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());

  ifr.ifr_mtu = static_cast<int>(mtu);
  if (ioctl(sock.get(), SIOCSIFMTU, &ifr) != 0) {
    *error = Failed("ioctl(SIOCSIFMTU)", errno == EINVAL ? "MTU out of range for this device" : "");
    return false;
  }
  if (ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) {
    *error = Failed("ioctl(SIOCGIFFLAGS)");
    return false;
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) {
    *error = Failed("ioctl(SIOCSIFFLAGS)");
    return false;
  }
  if (ioctl(sock.get(), SIOCGIFINDEX, &ifr) != 0) {
    *error = Failed("ioctl(SIOCGIFINDEX)");
    return false;
  }
  *ifindex = static_cast<uint32_t>(ifr.ifr_ifindex);
  return true;
}

}  // namespace

std::unique_ptr<TunBackend> OpenTun(const TunConfig& config, SysError* error) {
  // The TypeScript wrapper validates names; this guards the fixed-size ifr_name copy.
  if (config.name.size() >= IFNAMSIZ || config.name.find('\0') != std::string::npos) {
    *error = SysError{EINVAL, "open TUN device", "interface names have at most 15 bytes"};
    return nullptr;
  }
  Fd tun(open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!tun.valid()) {
    *error = Failed("open(/dev/net/tun)", errno == ENOENT ? "the tun kernel module is not available" : "");
    return nullptr;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, config.name.data(), config.name.size());
  if (ioctl(tun.get(), TUNSETIFF, &ifr) != 0) {
    *error = Failed("ioctl(TUNSETIFF)", TunSetIffHint(errno));
    return nullptr;
  }
  std::string name(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

  // From here on, returning early closes `tun`, which removes the (non-persistent) interface again.
  uint32_t ifindex = 0;
  if (!Configure(name, config.mtu, &ifindex, error)) return nullptr;

  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    *error = Failed("eventfd");
    return nullptr;
  }
  return std::make_unique<LinuxTun>(std::move(tun), std::move(wake), std::move(name), ifindex);
}

}  // namespace postern
