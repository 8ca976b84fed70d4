#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::handlers {

/// One name in a directory listing.
struct ListingEntry {
    std::string name;
    bool directory = false;
    std::uint64_t size = 0;
    bool symlink = false;  // kind and size are the target's; the caller may check where it leads
};

/// Reads the names in directory `dir_fd` (which it closes), sorted, directories first;
/// names starting with '.' only when `dotfiles`. Returns 0 or a negative errno.
int read_directory(int dir_fd, bool dotfiles, std::vector<ListingEntry>& out);

/// An HTML page listing `entries` under `url_path` (the request's path, ending in '/'): names
/// are HTML-escaped in the text and percent-encoded in the links, so a file named
/// "<script>" or "a&b" is shown as such and never interpreted.
std::string render_listing(std::string_view url_path, const std::vector<ListingEntry>& entries);

/// `text` with &, <, >, " and ' replaced by character references.
std::string html_escape(std::string_view text);

}  // namespace vstream::handlers
