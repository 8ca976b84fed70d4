#include <vstream/error.hpp>

#include "core/error_table.hpp"

namespace vstream {

namespace {

// errc must hold exactly the table's values (the C API promises them).
#define VSTREAM_CHECK_ERRC(name, value, c_name, text) \
    static_assert(static_cast<int>(errc::name) == (value), c_name);
VSTREAM_ERRC_MAP(VSTREAM_CHECK_ERRC)
#undef VSTREAM_CHECK_ERRC

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "vstream"; }
    std::string message(int code) const override { return error_message(static_cast<errc>(code)); }
};

}  // namespace

const char* error_message(errc e) noexcept {
    switch (static_cast<int>(e)) {
#define VSTREAM_ERRC_TEXT(name, value, c_name, text) \
    case (value): return text;
        VSTREAM_ERRC_MAP(VSTREAM_ERRC_TEXT)
#undef VSTREAM_ERRC_TEXT
    }
    return "unknown error";
}

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

const char* error_name(int code) noexcept {
    switch (code) {
#define VSTREAM_ERRC_NAME(name, value, c_name, text) \
    case (value): return c_name;
        VSTREAM_ERRC_MAP(VSTREAM_ERRC_NAME)
#undef VSTREAM_ERRC_NAME
    }
    return nullptr;
}

}  // namespace vstream
