// The OS side of a TUN device. The binding (tun_device.cc) owns the reader thread, batching, back-pressure and
// JavaScript delivery and is the same on every OS; a backend only opens the device and moves single packets.
// Backends: tun_linux.cc. To add macOS (utun: a PF_SYSTEM control socket, packets prefixed with a 4-byte address
// family) or Windows (wintun: ring buffers and a read event), add tun_<os>.cc implementing this interface and list
// it in binding.gyp; `unsupported.cc` covers every OS without one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sys_error.h"

namespace postern {

// The largest packet a read can return: the largest IP packet (no GSO/offload headers are enabled).
constexpr size_t kMaxPacketSize = 65535;

struct TunConfig {
  std::string name;  // exact name or template ("tun%d"); empty lets the OS choose
  uint32_t mtu = 0;
};

enum class WaitResult { kReadable, kInterrupted, kFailed };

// Thread use: WaitReadable and Read only on the reader thread; Write on the JavaScript thread; Interrupt anywhere.
// The destructor closes the device and must run after the reader thread has finished.
class TunBackend {
 public:
  virtual ~TunBackend() = default;

  virtual const std::string& name() const = 0;
  virtual uint32_t ifindex() const = 0;

  // Blocks until a packet can be read (kReadable), Interrupt() was called (kInterrupted), or the device failed.
  virtual WaitResult WaitReadable(SysError* error) = 0;

  // Reads one packet into `buffer` (capacity at least kMaxPacketSize). Returns its length, 0 when no packet is
  // waiting, or -1 with `error` filled in.
  virtual int64_t Read(uint8_t* buffer, size_t capacity, SysError* error) = 0;

  // Writes one packet without blocking. Returns 0, or the errno value (EAGAIN when the OS would have blocked).
  virtual int Write(const uint8_t* packet, size_t length) = 0;

  // Makes a current or the next WaitReadable return kInterrupted.
  virtual void Interrupt() = 0;
};

// Creates or attaches to a TUN device, configured with the MTU and up. nullptr with `error` filled in on failure.
std::unique_ptr<TunBackend> OpenTun(const TunConfig& config, SysError* error);

}  // namespace postern
