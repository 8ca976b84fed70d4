// libFuzzer target for the multipart/form-data parser: any body (boundary "XyZ"), fed in three
// pieces cut where its first two bytes say and then whole, must give the same events and result;
// data pieces are never empty and never hold the delimiter, and the limits hold. The body is also
// read as a Content-Type: a boundary found must be 1-70 bchars.
#include "http/multipart.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using vstream::http::multipart_boundary;
using vstream::http::MultipartEvents;
using vstream::http::MultipartLimits;
using vstream::http::MultipartParser;
using vstream::http::PartHead;

namespace {

constexpr std::string_view kDelimiter = "\r\n--XyZ";

// Writes every event into `log`, data joined per part; a part named "stop" is refused with 507
// and one named "end-stop" ends with 413, so callback statuses are fuzzed too.
class Log final : public MultipartEvents {
public:
    int on_part_begin(const PartHead& head) override {
        if (open_) __builtin_trap();
        if (head.filename && head.filename->find('\0') != std::string::npos) __builtin_trap();
        open_ = true;
        name_ = head.name;
        log += "B " + head.name + "|" + (head.filename ? "f:" + *head.filename : "-") + "|" +
               head.content_type + "\n";
        return head.name == "stop" ? 507 : 0;
    }
    int on_part_data(std::string_view data) override {
        if (!open_ || data.empty()) __builtin_trap();
        part_.append(data);
        return 0;
    }
    int on_part_end() override {
        if (!open_) __builtin_trap();
        open_ = false;
        close_part();
        log += "E\n";
        return name_ == "end-stop" ? 413 : 0;
    }
    // The data of a part still open when parsing stopped.
    void close_part() {
        if (part_.find(kDelimiter) != std::string::npos) __builtin_trap();
        log += "D " + part_ + "\n";
        part_.clear();
    }

    std::string log;

private:
    bool open_ = false;
    std::string name_;
    std::string part_;
};

std::string run(std::string_view body, std::size_t cut1, std::size_t cut2) {
    MultipartLimits limits;
    limits.max_header_bytes = 256;
    limits.max_parts = 8;
    Log log;
    MultipartParser parser("XyZ", log, limits);
    MultipartParser::Result r;
    for (const std::string_view piece :
         {body.substr(0, cut1), body.substr(cut1, cut2 - cut1), body.substr(cut2)}) {
        r = parser.feed(piece);
    }
    const MultipartParser::Result f = parser.finish();
    if (r.kind == MultipartParser::Result::Kind::done && f.kind != r.kind) __builtin_trap();
    if (r.kind == MultipartParser::Result::Kind::error && f.status != r.status) __builtin_trap();
    if (f.kind == MultipartParser::Result::Kind::more) __builtin_trap();
    if (f.kind == MultipartParser::Result::Kind::error && (f.status == 0 || f.reason.empty())) {
        __builtin_trap();
    }
    if (parser.done() != (f.kind == MultipartParser::Result::Kind::done)) __builtin_trap();
    if (parser.parts() > limits.max_parts) __builtin_trap();
    log.close_part();
    return log.log + std::to_string(static_cast<int>(f.kind)) + " " + std::to_string(f.status) +
           " " + std::string(f.reason);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::size_t n = body.size();
    const std::size_t cut1 = data[0] * n / 255;
    const std::size_t cut2 = cut1 + data[1] * (n - cut1) / 255;
    if (run(body, cut1, cut2) != run(body, n, n)) __builtin_trap();

    if (const auto boundary = multipart_boundary(body)) {
        if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ' ||
            boundary->find_first_of("\r\n\"") != std::string::npos) {
            __builtin_trap();
        }
    }
    return 0;
}
