// The gradient function an op leaves on the tape, and the lists it takes and returns.
//
// BackwardFn is std::function for one signature, with a fixed inline buffer big enough for every
// op's gradient lambda, so recording an op allocates nothing. A larger callable (a user's, or a
// wrapper around another BackwardFn) goes to the heap, as std::function would put it.
#pragma once
#include <concepts>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "core/tensor.hpp"
#include "graph/inline_vector.hpp"

namespace nalgrad {

// One gradient per output (dy) in, one per input out; an op leaves undefined the input gradients
// that `needed` does not ask for (PyTorch's grad_input_mask). Three inputs fit inline: the most
// any op in ops/ has (conv2d and dense with a bias).
using Grads = InlineVector<Tensor, 3>;
using Needed = InlineVector<bool, 3>;

class BackwardFn {
  public:
    // conv2d_relu's gradient lambda is the largest in ops/: three saved tensors (x, k and the
    // output for the relu mask) and the window (448 bytes).
    static constexpr std::size_t inline_size = 448;
    template <typename F>
    static constexpr bool fits_inline =
        sizeof(F) <= inline_size &&
        alignof(F) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<F>;

    BackwardFn() = default;
    BackwardFn(std::nullptr_t) {}  // NOLINT: as std::function
    template <typename F>
    requires(!std::same_as<std::remove_cvref_t<F>, BackwardFn> &&
             std::is_invocable_r_v<Grads, std::decay_t<F>&, const Grads&, const Needed&>)
        BackwardFn(F&& f) {  // NOLINT: a lambda converts implicitly, as to std::function
        using Stored = std::decay_t<F>;
        if constexpr (fits_inline<Stored>) {
            ::new (static_cast<void*>(buffer_)) Stored(std::forward<F>(f));
            ops_ = &inline_ops<Stored>;
        } else {
            ::new (static_cast<void*>(buffer_)) Stored*(new Stored(std::forward<F>(f)));
            ops_ = &heap_ops<Stored>;
        }
    }
    BackwardFn(BackwardFn&& other) noexcept { take(other); }
    BackwardFn& operator=(BackwardFn&& other) noexcept {
        if (this != &other) {
            reset();
            take(other);
        }
        return *this;
    }
    BackwardFn& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }
    ~BackwardFn() { reset(); }

    explicit operator bool() const { return ops_ != nullptr; }
    Grads operator()(const Grads& dy, const Needed& needed) const {
        if (!ops_) throw Error("backward: the gradient function is empty (released)");
        return ops_->call(buffer_, dy, needed);
    }

  private:
    struct Ops {
        Grads (*call)(void* callable, const Grads& dy, const Needed& needed);
        void (*move)(void* from, void* to) noexcept;  // into raw `to`; `from` is then destroyed
        void (*destroy)(void* callable) noexcept;
    };

    template <typename F>
    static F& inline_callable(void* buffer) {
        return *std::launder(static_cast<F*>(buffer));
    }
    template <typename F>
    static F& heap_callable(void* buffer) {
        return **std::launder(static_cast<F**>(buffer));
    }
    template <typename F>
    static constexpr Ops inline_ops{
        [](void* c, const Grads& dy, const Needed& needed) -> Grads {
            return inline_callable<F>(c)(dy, needed);
        },
        [](void* from, void* to) noexcept {
            ::new (to) F(std::move(inline_callable<F>(from)));
            std::destroy_at(&inline_callable<F>(from));
        },
        [](void* c) noexcept { std::destroy_at(&inline_callable<F>(c)); }};
    template <typename F>
    static constexpr Ops heap_ops{
        [](void* c, const Grads& dy, const Needed& needed) -> Grads {
            return heap_callable<F>(c)(dy, needed);
        },
        [](void* from, void* to) noexcept { ::new (to) F*(&heap_callable<F>(from)); },
        [](void* c) noexcept { delete &heap_callable<F>(c); }};

    void take(BackwardFn& other) noexcept {
        if (!other.ops_) return;
        other.ops_->move(other.buffer_, buffer_);
        ops_ = std::exchange(other.ops_, nullptr);
    }
    void reset() noexcept {
        if (ops_) std::exchange(ops_, nullptr)->destroy(buffer_);
    }

    const Ops* ops_ = nullptr;  // first: a small lambda then shares its cache lines
    alignas(std::max_align_t) mutable std::byte buffer_[inline_size];
};

}  // namespace nalgrad
