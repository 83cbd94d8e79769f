// The message of the nalgrad::Error that f throws, or "" when it throws none.
#pragma once
#include <string>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing {

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace nalgrad::testing
