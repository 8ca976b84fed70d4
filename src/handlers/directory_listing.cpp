#include "handlers/directory_listing.hpp"

#include "http/uri.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace vstream::handlers {

int read_directory(int dir_fd, bool dotfiles, std::vector<ListingEntry>& out) {
    DIR* dir = ::fdopendir(dir_fd);
    if (dir == nullptr) {
        const int e = errno;
        ::close(dir_fd);
        return -e;
    }
    out.clear();
    errno = 0;
    while (const dirent* d = ::readdir(dir)) {
        const std::string_view name = d->d_name;
        if (name == "." || name == ".." || (!dotfiles && name.front() == '.')) continue;
        struct stat link {};
        struct stat st {};
        if (::fstatat(::dirfd(dir), d->d_name, &link, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (::fstatat(::dirfd(dir), d->d_name, &st, 0) != 0) continue;  // gone, or a dead link
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;     // nothing we would serve
        out.push_back({std::string(name), S_ISDIR(st.st_mode),
                       static_cast<std::uint64_t>(st.st_size), S_ISLNK(link.st_mode)});
    }
    ::closedir(dir);
    std::sort(out.begin(), out.end(), [](const ListingEntry& a, const ListingEntry& b) {
        return a.directory != b.directory ? a.directory : a.name < b.name;
    });
    return 0;
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string render_listing(std::string_view url_path, const std::vector<ListingEntry>& entries) {
    const std::string title = html_escape(url_path);
    std::string page = fmt::format(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {0}</title></head>\n"
        "<body><h1>Index of {0}</h1>\n<ul>\n",
        title);
    if (url_path != "/") page += "<li><a href=\"../\">../</a></li>\n";
    std::string href;
    for (const ListingEntry& e : entries) {
        href.clear();
        // Relative links, encoded: the name is data, never markup or a path of its own.
        http::percent_encode_segment(e.name, href);
        if (e.directory) href += '/';
        const std::string shown = html_escape(e.name) + (e.directory ? "/" : "");
        if (e.directory) {
            fmt::format_to(std::back_inserter(page), "<li><a href=\"./{}\">{}</a></li>\n",
                           html_escape(href), shown);
        } else {
            fmt::format_to(std::back_inserter(page), "<li><a href=\"./{}\">{}</a> {}</li>\n",
                           html_escape(href), shown, e.size);
        }
    }
    page += "</ul>\n</body></html>\n";
    return page;
}

}  // namespace vstream::handlers
