// The DNS names a certificate presents, and which certificate answers a client's server_name
// (SNI, RFC 6066 §3): exact names and "*." wildcards as RFC 6125 §6.4.3 reads them.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstream::tls {

/// Whether `pattern` can stand for names: 1 to 253 bytes (RFC 1035 §2.3.4), labels not
/// empty, and no '*' except a wildcard "*." as the whole left-most label followed by at least
/// two labels ("*.example.com", not "*.com", "f*.example.com" or "a.*.example.com"). Never
/// allocates.
bool is_usable_pattern(std::string_view pattern) noexcept;

/// Whether `host` (a client's server_name, untrusted) is a name `pattern` (from a
/// certificate) stands for: equal ignoring ASCII case; or, for a usable wildcard pattern
/// "*.rest", one non-empty label without a dot, then ".", then `rest` ignoring ASCII case.
/// An unusable pattern matches nothing. Never allocates.
bool name_matches(std::string_view pattern, std::string_view host) noexcept;

/// The names `cert` presents for SNI, lowercased: its subjectAltName dNSName entries, or,
/// only when it has none, its last subject commonName (RFC 6125 §6.4.4). Entries holding a
/// NUL byte and patterns that are not usable (is_usable_pattern) are dropped. Throws
/// std::bad_alloc.
std::vector<std::string> certificate_names(const X509* cert);

/// Which certificate answers a server_name. Built once from every certificate's names, then
/// read-only: any thread may call find() at once.
class SniTable {
public:
    SniTable() = default;
    /// `names[i]` holds certificate i's names (as certificate_names gives them). Throws
    /// std::bad_alloc.
    explicit SniTable(std::span<const std::vector<std::string>> names);

    /// The index of the certificate that answers `host`: the first one with an exact name
    /// equal to it (ignoring ASCII case); else the first one with a wildcard that matches it
    /// (name_matches); else nullopt (the caller uses its default). A host longer than 253
    /// bytes matches nothing. Never allocates.
    std::optional<std::size_t> find(std::string_view host) const noexcept;

private:
    // Sorted by name; for a wildcard the name is what follows "*.". Each name appears once,
    // with the lowest certificate index that presents it.
    std::vector<std::pair<std::string, std::size_t>> exact_;
    std::vector<std::pair<std::string, std::size_t>> wildcard_;
};

}  // namespace vstream::tls
