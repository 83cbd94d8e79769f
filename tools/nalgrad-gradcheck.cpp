// nalgrad-gradcheck: runs the numerical gradient check over every op and configuration.
//   nalgrad-gradcheck                 every family
//   nalgrad-gradcheck --op conv2d     one family
//   nalgrad-gradcheck --list          the families
// One line per configuration (max abs / rel error, time), a summary line, exit status 1 on any
// failure.
#include <chrono>
#include <cstring>
#include <set>

#include "gradcheck/cases.hpp"

namespace nalgrad::suite {
std::vector<Family>& registry() {
    static std::vector<Family> families;
    return families;
}
}  // namespace nalgrad::suite

int main(int argc, char** argv) {
    using namespace nalgrad;
    std::set<std::string> only;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--op") && i + 1 < argc) {
            only.insert(argv[++i]);
        } else if (!std::strcmp(argv[i], "--list")) {
            for (const auto& f : suite::registry()) fmt::print("{}\n", f.name);
            return 0;
        } else {
            fmt::print(stderr, "usage: {} [--op FAMILY]... [--list]\n", argv[0]);
            return 2;
        }
    }
    for (const auto& name : only) {
        bool known = false;
        for (const auto& f : suite::registry()) known = known || f.name == name;
        if (!known) {
            fmt::print(stderr, "nalgrad-gradcheck: unknown op family '{}' (see --list)\n", name);
            return 2;
        }
    }
    int passed = 0, failed = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& family : suite::registry()) {
        if (!only.empty() && !only.count(family.name)) continue;
        for (auto& c : family.cases()) {
            GradcheckReport r;
            try {
                r = gradcheck(c.fn, c.inputs, c.options);
            } catch (const Error& e) {
                r.passed = false;
                r.failures.push_back(e.what());
            }
            (r.passed ? passed : failed)++;
            fmt::print("{:<4} {:<17} {:<60} abs {:9.2e}  rel {:9.2e}  {:7.3f} s\n",
                       r.passed ? "ok" : "FAIL", family.name, c.name, r.max_abs_error(),
                       r.max_rel_error(), r.seconds);
            for (const auto& f : r.failures) fmt::print("     {}\n", f);
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("gradcheck: {} passed, {} failed ({:.1f} s)\n", passed, failed, seconds);
    return failed == 0 ? 0 : 1;
}
