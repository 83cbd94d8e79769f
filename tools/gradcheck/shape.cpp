#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

std::vector<Case> shape_cases() {
    Generator gen(42);
    return {
        {"reshape [2, 3, 2] to [3, -1]",
         {random_input({2, 3, 2}, gen)},
         [](const std::vector<Var>& in) {
             return reshape(in[0], {3, -1});
         }},
        {"flatten [2, 3, 2, 2]",
         {random_input({2, 3, 2, 2}, gen)},
         [](const std::vector<Var>& in) { return flatten(in[0]); }},
        {"transpose [3, 5]",
         {random_input({3, 5}, gen)},
         [](const std::vector<Var>& in) { return transpose(in[0]); }},
    };
}

// Along each axis of NHWC, with two to five parts (more than a record's inline inputs), and a part
// used twice.
std::vector<Case> concat_cases() {
    Generator gen(43);
    std::vector<Case> cases;
    for (int axis : {0, 1, 2, 3, -1}) {
        for (int parts : {2, 5}) {
            std::vector<Var> in;
            for (int i = 0; i < parts; ++i) {
                Shape s{2, 3, 2, 2};
                s[axis < 0 ? 3 : axis] = 1 + i % 3;
                in.push_back(random_input(s, gen));
            }
            cases.push_back({fmt::format("{} parts along axis {}", parts, axis), in,
                             [axis](const std::vector<Var>& v) { return concat(v, axis); }});
        }
    }
    cases.push_back({"a part used twice, channels",
                     {random_input({1, 2, 2, 3}, gen), random_input({1, 2, 2, 1}, gen)},
                     [](const std::vector<Var>& v) {
                         return concat({v[0], v[1], v[0]}, 3);
                     }});
    return cases;
}

const Register shape_family{"shape", shape_cases};
const Register concat_family{"concat", concat_cases};

}  // namespace
}  // namespace nalgrad::suite
