// The JavaScript binding of a TUN device, the same on every OS (the OS part is a TunBackend).
//
// Reading: one native thread per device waits for the device to become readable, then reads packets without
// blocking until the kernel queue is empty or the batch is full, laid end to end in one malloc'ed slab. The batch
// goes to JavaScript through a thread-safe function as one external ArrayBuffer (the slab, no copy) plus a
// Uint32Array of packet lengths; the wrapper makes Buffer views over the slab. Back-pressure: at most
// `maxPendingBatches` batches may be queued or in the JavaScript handler; at that bound, and while JavaScript has
// paused reading, the thread stops reading, so the kernel's queue fills and the kernel drops (as a NIC would),
// counted in the interface's statistics and never silently in this process.
//
// Writing happens synchronously on the JavaScript thread: a TUN write hands the packet to the kernel's network
// stack and does not block in practice, so a writer thread would only add a copy and a thread hop. A write that
// would block (EAGAIN) is counted as dropped; one the kernel rejects (e.g. EINVAL: not an IPv4/IPv6 packet) is
// counted as an error.
//
// Lifetime: the device state is shared by the JavaScript object, the reader thread and the thread-safe function,
// so in-flight batches stay valid whichever goes first. close() stops and joins the reader, closes the device and
// releases the function; batches still queued are then freed without calling JavaScript. An environment cleanup
// hook does the same when the process or worker exits with the device still open.
#include "tun_device.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "js_error.h"
#include "tun_backend.h"

namespace postern {
namespace {

// Slabs never exceed this, whatever the MTU, so one batch cannot pin much memory.
constexpr size_t kMaxSlabBytes = 1 << 20;

struct Counters {
  std::atomic<uint64_t> packets_read{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> batches_read{0};
  std::atomic<uint64_t> packets_discarded{0};
  std::atomic<uint64_t> packets_written{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> writes_dropped{0};
  std::atomic<uint64_t> write_errors{0};
  std::atomic<int> last_write_errno{0};
};

// What the reader thread hands to JavaScript: packets end to end in `slab`, or a failure that ends reading.
struct Batch {
  uint8_t* slab = nullptr;
  size_t used = 0;
  std::vector<uint32_t> lengths;
  bool failed = false;
  SysError error;

  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch() { std::free(slab); }
};

struct Device {
  std::unique_ptr<TunBackend> tun;
  size_t max_batch_packets = 0;
  size_t max_pending = 0;
  size_t slab_capacity = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool reading = false;   // guarded by mu: JavaScript wants packets
  bool stopping = false;  // guarded by mu: the reader must exit
  size_t pending = 0;     // guarded by mu: batches handed over and not yet back from JavaScript

  bool closed = false;  // JavaScript thread only
  Counters counters;
};

void CallJs(Napi::Env env, Napi::Function callback, std::shared_ptr<Device>* context, Batch* data);
using ReaderFunction = Napi::TypedThreadSafeFunction<std::shared_ptr<Device>, Batch, CallJs>;

std::unique_ptr<Batch> FailedBatch(SysError error) {
  auto batch = std::make_unique<Batch>();
  batch->failed = true;
  batch->error = std::move(error);
  return batch;
}

// Reads until the kernel queue is empty or the batch is full; nullptr if nothing was waiting.
std::unique_ptr<Batch> ReadBatch(Device& device) {
  auto batch = std::make_unique<Batch>();
  batch->slab = static_cast<uint8_t*>(std::malloc(device.slab_capacity));
  if (batch->slab == nullptr) return FailedBatch(SysError{ENOMEM, "malloc", "no memory for a read batch"});
  batch->lengths.reserve(device.max_batch_packets);
  while (batch->lengths.size() < device.max_batch_packets &&
         device.slab_capacity - batch->used >= kMaxPacketSize) {
    SysError error;
    const int64_t n = device.tun->Read(batch->slab + batch->used, kMaxPacketSize, &error);
    if (n == 0) break;
    if (n < 0) {
      if (batch->lengths.empty()) return FailedBatch(std::move(error));
      break;  // deliver what was read; the error comes back on the next wait
    }
    batch->lengths.push_back(static_cast<uint32_t>(n));
    batch->used += static_cast<size_t>(n);
  }
  if (batch->lengths.empty()) return nullptr;
  // Give the unused tail back before JavaScript holds the slab (a shrinking realloc normally stays in place).
  if (void* shrunk = std::realloc(batch->slab, batch->used)) batch->slab = static_cast<uint8_t*>(shrunk);
  device.counters.packets_read.fetch_add(batch->lengths.size(), std::memory_order_relaxed);
  device.counters.bytes_read.fetch_add(batch->used, std::memory_order_relaxed);
  device.counters.batches_read.fetch_add(1, std::memory_order_relaxed);
  return batch;
}

void ReadLoop(std::shared_ptr<Device> device, ReaderFunction deliver) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(device->mu);
      device->cv.wait(lock, [&] {
        return device->stopping || (device->reading && device->pending < device->max_pending);
      });
      if (device->stopping) return;
    }
    std::unique_ptr<Batch> batch;
    SysError error;
    switch (device->tun->WaitReadable(&error)) {
      case WaitResult::kInterrupted:
        continue;  // re-check paused/stopping
      case WaitResult::kFailed:
        batch = FailedBatch(std::move(error));
        break;
      case WaitResult::kReadable:
        batch = ReadBatch(*device);
        if (!batch) continue;
        break;
    }
    const bool failed = batch->failed;
    {
      std::lock_guard<std::mutex> lock(device->mu);
      ++device->pending;
    }
    // Never blocks: the queue is unbounded and `pending` is the bound. Fails only while the function is closing.
    if (deliver.NonBlockingCall(batch.get()) != napi_ok) return;
    batch.release();  // now owned by CallJs
    if (failed) return;
  }
}

// Returns the batch's slot to the reader when JavaScript is done with it (also when the handler throws).
class PendingSlot {
 public:
  explicit PendingSlot(Device& device) : device_(device) {}
  PendingSlot(const PendingSlot&) = delete;
  PendingSlot& operator=(const PendingSlot&) = delete;
  ~PendingSlot() {
    {
      std::lock_guard<std::mutex> lock(device_.mu);
      --device_.pending;
    }
    device_.cv.notify_one();
  }

 private:
  Device& device_;
};

// On the JavaScript thread. Calls callback(null, slab, lengths) or callback(error).
void CallJs(Napi::Env env, Napi::Function callback, std::shared_ptr<Device>* context, Batch* data) {
  std::unique_ptr<Batch> batch(data);
  // A null env means the function is being torn down (its context may already be gone): only free the batch.
  if (static_cast<napi_env>(env) == nullptr || data == nullptr) return;
  Device& device = **context;
  PendingSlot slot(device);
  if (device.closed) {
    device.counters.packets_discarded.fetch_add(batch->lengths.size(), std::memory_order_relaxed);
    return;
  }
  std::vector<napi_value> args;
  try {
    if (batch->failed) {
      args = {ToJsError(env, batch->error).Value()};
    } else {
      Napi::ArrayBuffer slab = Napi::ArrayBuffer::New(env, batch->slab, batch->used,
                                                      [](Napi::Env, void* bytes) { std::free(bytes); });
      batch->slab = nullptr;  // the ArrayBuffer owns it now
      Napi::Uint32Array lengths = Napi::Uint32Array::New(env, batch->lengths.size());
      std::memcpy(lengths.Data(), batch->lengths.data(), batch->lengths.size() * sizeof(uint32_t));
      args = {env.Null(), slab, lengths};
    }
  } catch (const Napi::Error&) {
    // Creating values fails only when the environment is shutting down (it runs queued calls while closing its
    // handles, before the cleanup hook that stops the reader): nobody is left to take the batch.
    device.counters.packets_discarded.fetch_add(batch->lengths.size(), std::memory_order_relaxed);
    return;
  }
  // The plain N-API call leaves an exception of the handler pending, so Node reports it as an uncaught exception
  // (Napi::Function::Call would turn it into a C++ exception, and so would a call refused during shutdown).
  napi_value result;
  napi_call_function(env, env.Undefined(), callback, args.size(), args.data(), &result);
}

uint32_t Uint32Option(const Napi::Object& options, const char* key, uint32_t min, uint32_t max) {
  Napi::Value value = options.Get(key);
  if (!value.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max) || number != static_cast<double>(static_cast<uint32_t>(number))) {
    throw Napi::RangeError::New(options.Env(), std::string("options.") + key + " must be an integer from " +
                                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<uint32_t>(number);
}

class TunHandle : public Napi::ObjectWrap<TunHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunHandle",
                       {
                           InstanceAccessor<&TunHandle::Name>("name"),
                           InstanceAccessor<&TunHandle::Ifindex>("ifindex"),
                           InstanceMethod<&TunHandle::Write>("write"),
                           InstanceMethod<&TunHandle::WritePacket>("writePacket"),
                           InstanceMethod<&TunHandle::SetReading>("setReading"),
                           InstanceMethod<&TunHandle::SetRef>("setRef"),
                           InstanceMethod<&TunHandle::Stats>("stats"),
                           InstanceMethod<&TunHandle::Close>("close"),
                       });
  }

  // new TunHandle({ name, mtu, maxBatchPackets, maxPendingBatches }, callback): opened, up, not reading, unref'd.
  explicit TunHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunHandle>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "TunHandle(options, callback): expected an object and a function");
    }
    Napi::Object options = info[0].As<Napi::Object>();
    Napi::Value name = options.Get("name");
    if (!name.IsString()) throw Napi::TypeError::New(env, "options.name must be a string");
    TunConfig config{name.As<Napi::String>().Utf8Value(), Uint32Option(options, "mtu", 68, 65535)};
    const uint32_t max_batch_packets = Uint32Option(options, "maxBatchPackets", 1, 4096);
    const uint32_t max_pending = Uint32Option(options, "maxPendingBatches", 1, 1024);

    auto device = std::make_shared<Device>();
    SysError error;
    device->tun = OpenTun(config, &error);
    if (!device->tun) throw ToJsError(env, error);
    name_ = device->tun->name();
    ifindex_ = device->tun->ifindex();
    device->max_batch_packets = max_batch_packets;
    device->max_pending = max_pending;
    const size_t wanted = kMaxPacketSize + static_cast<size_t>(max_batch_packets - 1) * config.mtu;
    device->slab_capacity = std::max(kMaxPacketSize, std::min(wanted, kMaxSlabBytes));

    deliver_ = ReaderFunction::New(env, info[1].As<Napi::Function>(), "postern:tun-reader", 0, 1,
                                   new std::shared_ptr<Device>(device),
                                   [](Napi::Env, void*, std::shared_ptr<Device>* context) { delete context; });
    deliver_.Unref(env);
    try {
      reader_ = std::thread(ReadLoop, device, deliver_);
    } catch (const std::system_error& error) {
      deliver_.Release();
      throw Napi::Error::New(env, std::string("cannot start the TUN reader thread: ") + error.what());
    }
    device_ = std::move(device);
    napi_add_env_cleanup_hook(env, &TunHandle::OnEnvCleanup, this);
    open_ = true;
  }

  ~TunHandle() override { Shutdown(); }

 private:
  static void OnEnvCleanup(void* self) {
    auto* handle = static_cast<TunHandle*>(self);
    handle->hook_removed_ = true;  // Node removes a hook after running it
    handle->Shutdown();
  }

  // Stops and joins the reader, closes the device (a non-persistent interface disappears) and releases the
  // thread-safe function. Idempotent.
  void Shutdown() {
    if (!open_) return;
    open_ = false;
    if (!hook_removed_) napi_remove_env_cleanup_hook(env_, &TunHandle::OnEnvCleanup, this);
    device_->closed = true;
    {
      std::lock_guard<std::mutex> lock(device_->mu);
      device_->stopping = true;
    }
    device_->cv.notify_all();
    device_->tun->Interrupt();
    reader_.join();
    device_->tun.reset();
    deliver_.Release();
  }

  void RequireOpen(Napi::Env env) const {
    if (!open_) throw Napi::Error::New(env, "the TUN device is closed");
  }

  // Both as at open time, in the namespace that opened the device; they stay readable after close().
  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value Ifindex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ifindex_); }

  // write(packets: Uint8Array[]): number of packets the kernel accepted.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "write(packets): packets must be an array");
    Napi::Array packets = info[0].As<Napi::Array>();
    const uint32_t count = packets.Length();
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (WriteOne(env, packets.Get(i))) ++accepted;
    }
    return Napi::Number::New(env, accepted);
  }

  // writePacket(packet: Uint8Array): whether the kernel accepted it.
  Napi::Value WritePacket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    return Napi::Boolean::New(env, WriteOne(env, info[0]));
  }

  bool WriteOne(Napi::Env env, Napi::Value value) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (!value.IsTypedArray() ||
        napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      throw Napi::TypeError::New(env, "a packet must be a Uint8Array (or Buffer)");
    }
    Counters& counters = device_->counters;
    const int code = device_->tun->Write(static_cast<const uint8_t*>(data), length);
    if (code == 0) {
      counters.packets_written.fetch_add(1, std::memory_order_relaxed);
      counters.bytes_written.fetch_add(length, std::memory_order_relaxed);
      return true;
    }
    if (code == EAGAIN || code == EWOULDBLOCK || code == ENOBUFS) {
      counters.writes_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters.write_errors.fetch_add(1, std::memory_order_relaxed);
    }
    counters.last_write_errno.store(code, std::memory_order_relaxed);
    return false;
  }

  // setReading(reading: boolean): start or stop the reader thread.
  void SetReading(const Napi::CallbackInfo& info) {
    if (!open_) return;
    const bool reading = info[0].ToBoolean();
    {
      std::lock_guard<std::mutex> lock(device_->mu);
      device_->reading = reading;
    }
    if (reading) {
      device_->cv.notify_all();
    } else {
      device_->tun->Interrupt();  // out of poll() and back to waiting on `reading`
    }
  }

  // setRef(ref: boolean): whether the reader keeps the event loop alive.
  void SetRef(const Napi::CallbackInfo& info) {
    if (!open_) return;
    if (info[0].ToBoolean()) {
      deliver_.Ref(info.Env());
    } else {
      deliver_.Unref(info.Env());
    }
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object stats = Napi::Object::New(env);
    if (!device_) return stats;
    const Counters& c = device_->counters;
    auto set = [&](const char* key, uint64_t value) {
      stats.Set(key, Napi::Number::New(env, static_cast<double>(value)));
    };
    set("packetsRead", c.packets_read.load(std::memory_order_relaxed));
    set("bytesRead", c.bytes_read.load(std::memory_order_relaxed));
    set("batchesRead", c.batches_read.load(std::memory_order_relaxed));
    set("packetsDiscarded", c.packets_discarded.load(std::memory_order_relaxed));
    set("packetsWritten", c.packets_written.load(std::memory_order_relaxed));
    set("bytesWritten", c.bytes_written.load(std::memory_order_relaxed));
    set("writesDropped", c.writes_dropped.load(std::memory_order_relaxed));
    set("writeErrors", c.write_errors.load(std::memory_order_relaxed));
    const int last_errno = c.last_write_errno.load(std::memory_order_relaxed);
    stats.Set("lastWriteError", Napi::String::New(env, last_errno == 0 ? "" : ErrnoName(last_errno)));
    return stats;
  }

  void Close(const Napi::CallbackInfo&) { Shutdown(); }

  napi_env env_;
  std::shared_ptr<Device> device_;
  ReaderFunction deliver_;
  std::thread reader_;
  std::string name_;
  uint32_t ifindex_ = 0;
  bool open_ = false;
  bool hook_removed_ = false;
};

}  // namespace

Napi::Function DefineTunHandle(Napi::Env env) { return TunHandle::Define(env); }

}  // namespace postern
