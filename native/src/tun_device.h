#pragma once

#include <napi.h>

namespace postern {

// The `TunHandle` class exported to JavaScript; see tun_device.cc and the TypeScript wrapper (native/tun.ts).
Napi::Function DefineTunHandle(Napi::Env env);

}  // namespace postern
