// See arguments.h.
#include "arguments.h"

#include "errors.h"

namespace sockvisor {
namespace {

bool Is(const Napi::Value& value, Arg kind) {
  switch (kind) {
    case Arg::kNumber:
      return value.IsNumber();
    case Arg::kString:
      return value.IsString();
    case Arg::kObject:
      return value.IsObject();
    case Arg::kArray:
      return value.IsArray();
    case Arg::kFunction:
      return value.IsFunction();
  }
  return false;
}

}  // namespace

bool HasArgs(const Napi::CallbackInfo& info, std::initializer_list<Arg> kinds, const char* usage) {
  size_t i = 0;
  for (Arg kind : kinds) {
    if (i >= info.Length() || !Is(info[i], kind)) {
      ThrowTypeError(info.Env(), usage);
      return false;
    }
    i++;
  }
  return true;
}

bool HasFields(const Napi::Object& object, std::initializer_list<std::pair<const char*, Arg>> fields, const char* usage) {
  for (const auto& field : fields) {
    if (!Is(object.Get(field.first), field.second)) {
      ThrowTypeError(object.Env(), usage);
      return false;
    }
  }
  return true;
}

}  // namespace sockvisor
