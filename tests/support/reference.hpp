// Reference tensors produced outside nalgrad (PyTorch scripts under tests/data/, rerunnable with
// Debian's /usr/bin/python3) and stored as text, so the tests need no Python.
// Format, one tensor per line: `name rank d0 d1 ... v0 v1 ...` (values as %.17g); `#` comments.
#pragma once
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nalgrad/nalgrad.hpp>

namespace nalgrad::testing {

inline std::map<std::string, Tensor> load_reference(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error("reference: cannot open " + path);
    std::map<std::string, Tensor> tensors;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string name;
        int rank = 0;
        fields >> name >> rank;
        Shape shape;
        for (int i = 0; i < rank; ++i) {
            int64_t d = 0;
            fields >> d;
            shape.push_back(d);
        }
        Tensor t = zeros(shape, f64);
        for (int64_t i = 0; i < t.numel(); ++i) fields >> t.data<double>()[i];
        if (!fields) throw Error("reference: malformed line for '" + name + "' in " + path);
        tensors[name] = t;
    }
    return tensors;
}

}  // namespace nalgrad::testing
