// The request paths a handler saw, written on the loop thread and read by the test thread.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::test {

/// The paths a handler saw, in call order.
class PathLog {
public:
    void add(std::string_view path) {
        std::lock_guard<std::mutex> lock(mutex_);
        paths_.emplace_back(path);
    }
    /// A copy of the paths so far.
    std::vector<std::string> snapshot() {
        std::lock_guard<std::mutex> lock(mutex_);
        return paths_;
    }
    /// Whether `path` is among them.
    bool saw(std::string_view path) {
        std::lock_guard<std::mutex> lock(mutex_);
        return std::find(paths_.begin(), paths_.end(), path) != paths_.end();
    }

private:
    std::mutex mutex_;
    std::vector<std::string> paths_;
};

}  // namespace vstream::test
