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

const Register shape_family{"shape", shape_cases};

}  // namespace
}  // namespace nalgrad::suite
