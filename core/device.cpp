#include "core/device.h"

#include "core/error.h"

namespace tangent {

Device::Device(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  if (kind == "cpu") {
    type = DeviceType::CPU;
  } else if (kind == "cuda") {
    type = DeviceType::CUDA;
  } else {
    TANGENT_FAIL("Device: unknown device '", spec, "' (expected cpu, cuda or cuda:N)");
  }
  if (colon != std::string::npos) {
    try {
      index = std::stoi(spec.substr(colon + 1));
    } catch (const std::exception&) {
      TANGENT_FAIL("Device: bad device index in '", spec, "'");
    }
  }
}

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, Device d) { return os << d.str(); }

}  // namespace tangent
