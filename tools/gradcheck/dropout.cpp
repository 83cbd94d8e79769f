#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
namespace {

std::vector<Case> dropout_cases() {
    Generator gen(13);
    std::vector<Case> cases;
    for (double p : {0.1, 0.5, 0.9}) {
        for (Shape shape : {Shape{30}, Shape{2, 4, 4, 3}}) {
            // A fresh generator per evaluation: every call of fn draws the same mask.
            cases.push_back({fmt::format("dropout p {} {}", p, shape),
                             {random_input(shape, gen)},
                             [p](const std::vector<Var>& in) {
                                 Generator mask_gen(17);
                                 return dropout(in[0], p, mask_gen);
                             }});
        }
    }
    return cases;
}

const Register dropout_family{"dropout", dropout_cases};

}  // namespace
}  // namespace nalgrad::suite
