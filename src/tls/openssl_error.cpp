#include "tls/openssl_error.hpp"

#include <openssl/err.h>

#include <array>

namespace vstream::tls {

OpensslError take_openssl_error() {
    const char* data = nullptr;
    int flags = 0;
    // The earliest error is the cause; later ones are callers adding their own failure
    // ("PEM lib", "system lib") on top of it.
    const unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
    OpensslError out;
    if (e == 0) {
        out.reason = "no error reported by OpenSSL";
    } else {
        std::array<char, 256> text{};
        ERR_error_string_n(e, text.data(), text.size());
        out.reason = text.data();
        if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
            out.reason += " (";
            out.reason += data;
            out.reason += ")";
        }
        out.system = ERR_SYSTEM_ERROR(e) || ERR_GET_LIB(e) == ERR_LIB_SYS;
    }
    ERR_clear_error();
    return out;
}

void throw_openssl_error(errc code, const std::string& what) {
    const OpensslError e = take_openssl_error();
    throw Error(e.system ? errc::io_error : code, what + ": " + e.reason);
}

}  // namespace vstream::tls
