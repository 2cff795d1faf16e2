// Postern's native addon: a TUN device (TunHandle) and peer credentials of a Unix socket (peerCredentials).
//
// Hand-written because no maintained TUN addon is available from the package registry used here (node-tuntap2 is
// not in it), and Node has no API for TUN devices or SO_PEERCRED. It is kept small: the OS parts are one file per
// OS behind tun_backend.h and peercred.h; batching, back-pressure and delivery to JavaScript are in tun_device.cc.
#include <napi.h>

#include "js_error.h"
#include "peercred.h"
#include "tun_device.h"

namespace {

// peerCredentials(fd: number): { pid, uid, gid }
Napi::Value PeerCredentialsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "peerCredentials(fd): fd must be a number");
  postern::PeerCredentials credentials;
  postern::SysError error;
  if (!postern::GetPeerCredentials(info[0].As<Napi::Number>().Int32Value(), &credentials, &error)) {
    throw postern::ToJsError(env, error);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(credentials.pid)));
  result.Set("uid", Napi::Number::New(env, static_cast<double>(credentials.uid)));
  result.Set("gid", Napi::Number::New(env, static_cast<double>(credentials.gid)));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TunHandle", postern::DefineTunHandle(env));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentialsJs, "peerCredentials"));
  return exports;
}

}  // namespace

NODE_API_MODULE(postern_native, Init)
