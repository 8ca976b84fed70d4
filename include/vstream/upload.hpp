// Uploads to disk: Context::receive_upload() and what it reports. Implemented by
// src/handlers/upload.cpp over src/handlers/upload_receiver.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vstream {

/// How Context::receive_upload() stores a request body. Every limit has its default here.
struct UploadOptions {
    /// Destination directory (must exist and be writable). Files are written to a temporary
    /// file there and given their final name only once the whole body arrived intact, so no
    /// partial file ever appears under a final name. Required.
    std::string dir;
    /// For a raw body (any Content-Type but multipart/form-data): the name to save it under,
    /// reduced to a safe basename; "" (or nothing safe left) means a generated name.
    std::string name;
    /// Replace an existing file of the same name (atomically). Default false: 409 instead.
    bool overwrite = false;
    /// Largest body, in bytes: 413 from Content-Length at once, or as a chunked body
    /// arrives. 0 means Limits::max_stream_body_bytes (default 4 GiB).
    std::uint64_t max_bytes = 0;
    /// multipart/form-data: bytes of non-file fields kept in memory (Gin's
    /// MaxMultipartMemory). Beyond: 413. Default 8 MiB.
    std::size_t max_memory = 8 * 1024 * 1024;
    /// multipart/form-data: parts in the body. Beyond: 413. Default 64.
    std::size_t max_parts = 64;
    /// multipart/form-data: bytes of one part's header section. Beyond: 400. Default 8 KiB.
    std::size_t max_part_header_bytes = 8 * 1024;
    /// Time allowed for the whole body; beyond it 408. 0 means Timeouts::stream_body (1 h).
    /// A body that stalls for Timeouts::body_read (30 s) gets 408 as well.
    std::chrono::milliseconds timeout{0};
    /// fdatasync each file (and the directory) before it gets its name, on the loop thread.
    /// Default false, like nginx's client body files: the page cache writes it back.
    bool sync = false;
};

/// One file stored by receive_upload().
struct UploadedFile {
    std::string field;         ///< the form field ("" for a raw body)
    std::string filename;      ///< the client's file name, decoded, as sent (display only)
    std::string name;          ///< the name it was stored under, in UploadOptions::dir
    std::string path;          ///< dir + "/" + name
    std::string content_type;  ///< the part's Content-Type, or the request's for a raw body
    std::uint64_t size = 0;    ///< bytes
    std::string sha256;        ///< SHA-256 of the bytes, lowercase hex
};

/// What receive_upload() stored and received.
struct UploadResult {
    std::vector<UploadedFile> files;
    /// multipart/form-data fields that are not files, in order: name, value.
    std::vector<std::pair<std::string, std::string>> fields;
    /// {"files":[{"field":..,"filename":..,"name":..,"size":..,"sha256":..,
    ///  "content_type":..}],"fields":{"name":"value",...}} (a repeated field keeps its last value).
    std::string to_json() const;
};

}  // namespace vstream
