// Links the installed nalgrad and checks one gradient: d/dx relu(x) seeded with [5, 7].
#include <nalgrad/nalgrad.hpp>

int main() {
    namespace ng = nalgrad;
    ng::Var x = ng::requires_grad(ng::tensor({-1.0, 2.0}, {2}, ng::f64));
    ng::relu(x).backward(ng::tensor({5.0, 7.0}, {2}, ng::f64));
    bool ok = x.grad().at(0) == 0.0 && x.grad().at(1) == 7.0;
    fmt::print("consumer: gradient {} -> {}\n", x.grad(), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
