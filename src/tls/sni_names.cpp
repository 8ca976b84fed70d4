#include "tls/sni_names.hpp"

#include "tls/openssl_ptr.hpp"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <memory>

namespace vstream::tls {

namespace {

// RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 characters as text.
constexpr std::size_t kMaxName = 253;

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// A name without wildcard: 1 to 253 bytes, no empty label, no '*'.
bool is_plain_name(std::string_view s) noexcept {
    return !s.empty() && s.size() <= kMaxName && s.front() != '.' && s.back() != '.' &&
           s.find("..") == std::string_view::npos && s.find('*') == std::string_view::npos;
}

bool is_wildcard(std::string_view pattern) noexcept { return pattern.starts_with("*."); }

// Adds `name` (a certificate's bytes) to `out`, lowercased, if it holds no NUL (a name cut
// short by C-string handling would stand for another one) and is usable.
void add_name(std::vector<std::string>& out, std::string_view name) {
    if (name.find('\0') != std::string_view::npos || !is_usable_pattern(name)) return;
    std::string& added = out.emplace_back(name);
    std::transform(added.begin(), added.end(), added.begin(), lower);
}

struct Utf8Free {
    void operator()(unsigned char* p) const noexcept { OPENSSL_free(p); }
};

// The last commonName of the subject, as UTF-8 (RFC 6125 §6.4.4 uses the most specific).
void add_common_name(std::vector<std::string>& out, const X509* cert) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    int last = -1;
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) last = i;
    if (last < 0) return;
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    const std::unique_ptr<unsigned char, Utf8Free> owned(utf8);
    if (n < 0) return;
    add_name(out,
             std::string_view(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n)));
}

using Entry = std::pair<std::string, std::size_t>;

// Sorts by name and keeps, for each name, the entry with the lowest index (entries were
// added in index order, and stable_sort keeps that order among equal names).
void sort_unique(std::vector<Entry>& entries) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.first < b.first; });
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const Entry& a, const Entry& b) { return a.first == b.first; }),
                  entries.end());
}

std::optional<std::size_t> lookup(const std::vector<Entry>& entries,
                                  std::string_view name) noexcept {
    const auto it = std::lower_bound(
        entries.begin(), entries.end(), name,
        [](const Entry& e, std::string_view n) { return std::string_view(e.first) < n; });
    if (it == entries.end() || it->first != name) return std::nullopt;
    return it->second;
}

}  // namespace

bool is_usable_pattern(std::string_view pattern) noexcept {
    if (!is_wildcard(pattern)) return is_plain_name(pattern);
    // RFC 6125 §6.4.3: the wildcard is the whole left-most label. At least two labels must
    // follow, so "*.com" cannot stand for every name under a top-level domain (§7.2).
    const std::string_view rest = pattern.substr(2);
    return pattern.size() <= kMaxName && is_plain_name(rest) &&
           rest.find('.') != std::string_view::npos;
}

bool name_matches(std::string_view pattern, std::string_view host) noexcept {
    if (!is_usable_pattern(pattern)) return false;
    if (!is_wildcard(pattern)) return iequals(pattern, host);
    // One label, never more: "*.example.com" stands for "a.example.com" only.
    const std::size_t dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return iequals(host.substr(dot), pattern.substr(1));
}

std::vector<std::string> certificate_names(const X509* cert) {
    std::vector<std::string> out;
    const GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    bool has_dns = false;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
        if (name->type != GEN_DNS) continue;
        has_dns = true;
        const ASN1_STRING* dns = name->d.dNSName;
        add_name(out, std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                       static_cast<std::size_t>(ASN1_STRING_length(dns))));
    }
    // RFC 6125 §6.4.4: the CN counts only when the certificate has no DNS-ID at all.
    if (!has_dns) add_common_name(out, cert);
    return out;
}

SniTable::SniTable(std::span<const std::vector<std::string>> names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        for (const std::string& name : names[i]) {
            if (!is_usable_pattern(name)) continue;
            std::string lowered = name;
            std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
            if (is_wildcard(lowered)) {
                wildcard_.emplace_back(lowered.substr(2), i);
            } else {
                exact_.emplace_back(std::move(lowered), i);
            }
        }
    }
    sort_unique(exact_);
    sort_unique(wildcard_);
}

std::optional<std::size_t> SniTable::find(std::string_view host) const noexcept {
    if (host.empty() || host.size() > kMaxName) return std::nullopt;
    std::array<char, kMaxName> buffer;
    std::transform(host.begin(), host.end(), buffer.begin(), lower);
    const std::string_view lowered(buffer.data(), host.size());
    if (const auto exact = lookup(exact_, lowered)) return exact;
    const std::size_t dot = lowered.find('.');
    if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
    return lookup(wildcard_, lowered.substr(dot + 1));
}

}  // namespace vstream::tls
