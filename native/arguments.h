// The shape of the arguments src/native.ts passes, checked once at each entry point: a wrong call is
// a bug in native.ts, and it becomes a TypeError naming the expected call, never a crash.
#pragma once
#include <napi.h>

#include <initializer_list>
#include <utility>

namespace sockvisor {

enum class Arg { kNumber, kString, kObject, kArray, kFunction };

// True when info starts with arguments of these kinds; else throws a TypeError with `usage`
// ("spawn({ file, argv, ... })") and returns false.
bool HasArgs(const Napi::CallbackInfo& info, std::initializer_list<Arg> kinds, const char* usage);

// True when the object has these properties, of these kinds; else the same TypeError.
bool HasFields(const Napi::Object& object, std::initializer_list<std::pair<const char*, Arg>> fields, const char* usage);

}  // namespace sockvisor
