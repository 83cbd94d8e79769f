// nalgrad: define-by-run automatic differentiation for CNNs on multicore CPUs.
#pragma once

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "core/runtime.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "graph/dot.hpp"
#include "graph/gradcheck.hpp"
#include "graph/var.hpp"
#include "nn/parameters.hpp"
#include "ops/activation.hpp"
#include "ops/linear.hpp"
#include "ops/pool.hpp"
#include "ops/stride.hpp"
