#include "core/random.hpp"

#include <cmath>
#include <numbers>

namespace nalgrad {

double Generator::uniform() {
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Generator::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_normal_;
    }
    double u1 = 0;
    while (u1 == 0) u1 = uniform();  // log(0) is not finite
    double u2 = uniform();
    double radius = std::sqrt(-2.0 * std::log(u1));
    double angle = 2.0 * std::numbers::pi * u2;
    spare_normal_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
}

uint64_t Generator::below(uint64_t n) {
    // Rejection sampling: no modulo bias.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = engine_();
    while (r >= limit);
    return r % n;
}

}  // namespace nalgrad
