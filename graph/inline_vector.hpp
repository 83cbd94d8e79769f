// InlineVector<T, N>: a vector that keeps up to N elements inside the object, so the small lists of
// the tape (a record's inputs, an op's gradients) never touch the heap. Past N it moves its
// elements to the heap, as std::vector does. Only the std::vector operations the tape and the ops
// use are here.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <utility>

#include "core/error.hpp"

namespace nalgrad {

template <typename T, std::size_t N>
class InlineVector {
  public:
    InlineVector() = default;
    explicit InlineVector(std::size_t count) { resize(count); }
    InlineVector(std::initializer_list<T> items) { append(items.begin(), items.end()); }
    InlineVector(const InlineVector& other) { append(other.begin(), other.end()); }
    InlineVector(InlineVector&& other) noexcept { take(other); }
    InlineVector& operator=(const InlineVector& other) {
        if (this != &other) {
            clear();
            append(other.begin(), other.end());
        }
        return *this;
    }
    InlineVector& operator=(InlineVector&& other) noexcept {
        if (this != &other) {
            reset();
            take(other);
        }
        return *this;
    }
    ~InlineVector() { reset(); }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::size_t capacity() const { return capacity_; }
    T* data() { return data_; }
    const T* data() const { return data_; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }
    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    // Bounds-checked, as std::vector::at.
    T& at(std::size_t i) { return i < size_ ? data_[i] : out_of_range(i); }
    const T& at(std::size_t i) const { return i < size_ ? data_[i] : out_of_range(i); }
    T& back() { return data_[size_ - 1]; }

    template <typename... Args>
    T& emplace_back(Args&&... args) {
        if (size_ == capacity_) {
            T item(std::forward<Args>(args)...);  // args may name an element that grow() moves
            grow(2 * capacity_);
            return *::new (data_ + size_++) T(std::move(item));
        }
        return *::new (data_ + size_++) T(std::forward<Args>(args)...);
    }
    void push_back(const T& item) { emplace_back(item); }
    void push_back(T&& item) { emplace_back(std::move(item)); }
    void pop_back() { std::destroy_at(data_ + --size_); }

    void reserve(std::size_t count) {
        if (count > capacity_) grow(count);
    }
    void resize(std::size_t count) {
        reserve(count);
        while (size_ < count) emplace_back();
        while (size_ > count) pop_back();
    }
    void assign(std::size_t count, const T& value) {
        clear();
        reserve(count);
        while (size_ < count) emplace_back(value);
    }
    void clear() {
        std::destroy_n(data_, size_);
        size_ = 0;
    }

  private:
    [[noreturn]] T& out_of_range(std::size_t i) const {
        throw Error(fmt::format("InlineVector: index {} is out of range (size {})", i, size_));
    }

    T* inline_data() { return std::launder(reinterpret_cast<T*>(inline_)); }
    bool on_heap() const { return capacity_ > N; }

    template <typename It>
    void append(It first, It last) {
        reserve(size_ + static_cast<std::size_t>(last - first));
        for (; first != last; ++first) emplace_back(*first);
    }

    void grow(std::size_t count) {
        T* bigger = std::allocator<T>().allocate(count);
        std::uninitialized_move_n(data_, size_, bigger);
        std::destroy_n(data_, size_);
        if (on_heap()) std::allocator<T>().deallocate(data_, capacity_);
        data_ = bigger;
        capacity_ = count;
    }

    // Destroys the elements and gives back heap storage: the state of a moved-from vector.
    void reset() {
        clear();
        if (on_heap()) std::allocator<T>().deallocate(data_, capacity_);
        data_ = inline_data();
        capacity_ = N;
    }

    // Takes `other`'s elements (its heap buffer, or moves them one by one out of its inline
    // storage) and leaves it empty. This vector must be reset.
    void take(InlineVector& other) noexcept {
        if (other.on_heap()) {
            data_ = other.data_;
            capacity_ = other.capacity_;
            size_ = other.size_;
            other.data_ = other.inline_data();
            other.capacity_ = N;
            other.size_ = 0;
            return;
        }
        std::uninitialized_move_n(other.data_, other.size_, data_);
        size_ = other.size_;
        other.clear();
    }

    alignas(T) std::byte inline_[N * sizeof(T)];
    T* data_ = inline_data();
    std::size_t size_ = 0;
    std::size_t capacity_ = N;
};

}  // namespace nalgrad
