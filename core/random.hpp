// Seeded random numbers, the same on every machine: mt19937_64 bits (fixed by the C++ standard)
// turned into floats by our own code, since std:: distributions differ between libraries.
#pragma once
#include <cstdint>
#include <random>

namespace nalgrad {

class Generator {
  public:
    explicit Generator(uint64_t seed = 0) : engine_(seed) {}
    uint64_t next_u64() { return engine_(); }
    double uniform();            // [0, 1), 53 random bits
    double normal();             // mean 0, stddev 1 (Box-Muller)
    uint64_t below(uint64_t n);  // uniform integer in [0, n)
    std::mt19937_64& engine() { return engine_; }

  private:
    std::mt19937_64 engine_;
    double spare_normal_ = 0;
    bool has_spare_ = false;
};

}  // namespace nalgrad
