// Umbrella header for vstream's C++ API.
#pragma once

#include <vstream/body.hpp>
#include <vstream/config.hpp>
#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/files.hpp>
#include <vstream/headers.hpp>
#include <vstream/json.hpp>
#include <vstream/middleware.hpp>
#include <vstream/router.hpp>
#include <vstream/server.hpp>
#include <vstream/stream.hpp>
#include <vstream/tls.hpp>
#include <vstream/upload.hpp>
#include <vstream/version.hpp>
