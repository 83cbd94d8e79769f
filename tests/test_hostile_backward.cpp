// A backward() that fails leaves no partial state (graph/backward.cpp): the checks it can make
// up front (inputs modified in place, freed records, other threads' records) come before any
// gradient changes, and a failure midway (an anomaly, a gradient function's error) clears what
// the sweep had written and commits nothing to the leaves.
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"

using namespace nalgrad;
using nalgrad::testing::error_of;

TEST_CASE("an input modified in place fails backward before any gradient changes") {
    Var x = requires_grad(ones({2}, f64));
    Tensor c = ones({2}, f64);
    const Var a = x * 2.0;
    const Var b = a * Var(c);  // keeps c for a's gradient
    const Var loss = sum(a + b);
    c.fill_(1.0);  // an in-place write after mul ran
    const std::size_t records = tape_size();
    CHECK(error_of([&] { loss.backward(); }).find("input 1 of 'mul'") != std::string::npos);
    CHECK_FALSE(x.grad().defined());
    CHECK_FALSE(a.grad().defined());  // the sweep left nothing on the intermediate
    CHECK(tape_size() == records);    // nor freed any record
    // A later backward through a alone gives 2, not the 4 that a stale a.grad used to add up to.
    sum(a).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{2, 2});
}

TEST_CASE("a gradient that reaches a freed record fails before any leaf changes") {
    Var x = requires_grad(ones({2}, f64));
    Var w = requires_grad(ones({2}, f64));
    const Var y = x * 2.0;
    sum(y).backward();  // frees y's record
    x.zero_grad();
    const Var from_y = sum(y);
    const Var from_w = sum(w * 3.0);  // recorded later: the sweep reaches it first
    const Var loss = from_y + from_w;
    CHECK(error_of([&] { loss.backward(); }).find("retain_graph") != std::string::npos);
    CHECK_FALSE(w.grad().defined());
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("an anomaly midway commits nothing: leaves keep their earlier gradients") {
    Var x = requires_grad(zeros({2}, f64));  // sqrt'(0) is Inf
    Var w = requires_grad(ones({2}, f64));
    sum(w * 3.0).backward();
    REQUIRE(w.grad().to_vector() == std::vector<double>{3, 3});
    // sqrt recorded first, so the sweep reaches w's branch (and its gradient) before sqrt.
    const Var from_x = sum(sqrt(x));
    const Var from_w = sum(w * 3.0);
    const Var loss = from_x + from_w;
    {
        DetectAnomaly guard;
        const std::string e = error_of([&] { loss.backward({.retain_graph = true}); });
        CHECK(e.find("sqrt: anomaly in backward") == 0);
    }
    CHECK(w.grad().to_vector() == std::vector<double>{3, 3});  // not 6
    CHECK_FALSE(x.grad().defined());
    // With retain_graph the graph is intact: the same backward without detection completes.
    loss.backward();
    CHECK(w.grad().to_vector() == std::vector<double>{6, 6});
    CHECK(std::isinf(x.grad().at(0)));
}

TEST_CASE("a failure midway without retain_graph frees only the records already run") {
    Var x = requires_grad(zeros({2}, f64));
    Var w = requires_grad(ones({2}, f64));
    const Var from_x = sum(sqrt(x));
    const Var from_w = sum(w * 3.0);
    const Var loss = from_x + from_w;
    {
        DetectAnomaly guard;
        CHECK_THROWS_AS(loss.backward(), Error);
    }
    CHECK_FALSE(w.grad().defined());
    CHECK_FALSE(x.grad().defined());
    // The add, both sums and mul ran and were freed, as a complete sweep frees them; sqrt's
    // record, where it failed, is still on the tape.
    CHECK(error_of([&] { loss.backward(); }).find("retain_graph") != std::string::npos);
    CHECK(tape_size() == 1);
}
