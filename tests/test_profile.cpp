// OpProfiler (graph/profile.hpp): the ops of a step by name, their forward and backward calls, and
// nothing seen before or after the profiler's life.
#include <doctest/doctest.h>

#include <nalgrad/nalgrad.hpp>

#include "support/errors.hpp"

using namespace nalgrad;

TEST_CASE("the profiler counts each recorded op's forward and gradient calls, by name") {
    Var w = requires_grad(tensor({1, 2, 3, 4}, {2, 2}, f64));
    Var x = tensor({1, -1, 2, 0.5}, {2, 2}, f64);
    sum(relu(x * w)).backward();  // before the profiler: not counted
    const OpTime* relu_row = nullptr;
    {
        OpProfiler profiler;
        CHECK(testing::error_of([] { OpProfiler second; }) ==
              "OpProfiler: a profiler is already active on this thread");
        for (int i = 0; i < 3; ++i) {
            profiler.mark();
            Var h = relu(x * w);
            Var y = sum(relu(h) + h);
            y.backward();
        }
        {
            NoGradGuard no_grad;
            (void)relu(x * w);  // nothing requires a gradient: seen as forwards only
        }
        std::vector<std::string> names;
        for (const auto& t : profiler.times()) names.push_back(t.op);
        CHECK(names == std::vector<std::string>{"mul", "relu", "add", "sum"});
        for (const auto& t : profiler.times()) {
            CAPTURE(t.op);
            CHECK(t.forward_ms >= 0);
            CHECK(t.backward_ms >= 0);
            if (t.op == "relu") relu_row = &t;
        }
        REQUIRE(relu_row);
        CHECK(relu_row->forward_calls == 7);   // two per step, one without grad mode
        CHECK(relu_row->backward_calls == 6);  // two per step
        CHECK(profiler.times()[0].forward_calls == 4);
        CHECK(profiler.times()[0].backward_calls == 3);
        CHECK(profiler.times()[3].backward_calls == 3);
        profiler.clear();
        CHECK(profiler.times().empty());
    }
    OpProfiler again;  // the first one is gone
    (void)relu(x);
    REQUIRE(again.times().size() == 1);
    CHECK(again.times()[0].op == "relu");
}
