-- random_range.lua: wrk script for benchmarks/files_vs_nginx.sh.
--
--   wrk -t1 -c64 -d10s -s benchmarks/random_range.lua http://127.0.0.1:PORT/file -- SIZE [LENGTH [MODE]]
--
-- Every request is a GET of the URL's path with `Range: bytes=a-b`, asking
-- for LENGTH bytes (default 65536) at a random offset inside a file of SIZE
-- bytes (the offset is never past SIZE - LENGTH, so every answer is LENGTH
-- bytes long). MODE picks the offsets:
--   aligned    multiples of LENGTH
--   unaligned  any byte offset
--   mixed      (default) each request tosses a coin between the two
--
-- Every response that is not a 206 or whose body is not LENGTH bytes is
-- counted; at the end the script prints one line that the benchmark parses:
--   random_range: responses=N non206=M badlength=K
-- Defining response() makes wrk hand each body to Lua, which costs the
-- client a copy per response; both servers pay it alike.

local threads = {}

-- Main state: remember each thread so that done() can read its counters.
function setup(thread)
   table.insert(threads, thread)
end

-- Thread state. Globals, so that thread:get() can read them.
responses = 0
non206 = 0
badlength = 0

local size, length, mode, slots

function init(args)
   size = tonumber(args[1])
   length = tonumber(args[2] or 65536)
   mode = args[3] or "mixed"
   if not size or not length or length < 1 or size < length then
      error("random_range.lua: usage: -- SIZE [LENGTH [MODE]] with SIZE >= LENGTH >= 1")
   end
   if mode ~= "aligned" and mode ~= "unaligned" and mode ~= "mixed" then
      error("random_range.lua: MODE must be aligned, unaligned or mixed (got " .. mode .. ")")
   end
   slots = math.floor(size / length)
   -- Seed from the clock and this state's address, so threads and runs differ.
   local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
   math.randomseed(os.time() + addr % 1000003)
   for _ = 1, 10 do math.random() end
end

function request()
   local first
   if mode == "aligned" or (mode == "mixed" and math.random() < 0.5) then
      first = (math.random(slots) - 1) * length
   else
      first = math.random(0, size - length)
   end
   return wrk.format(nil, nil, { ["Range"] = string.format("bytes=%d-%d", first, first + length - 1) })
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 206 then
      non206 = non206 + 1
   elseif #body ~= length then
      badlength = badlength + 1
   end
end

function done(summary, latency, requests)
   local r, n, b = 0, 0, 0
   for _, thread in ipairs(threads) do
      r = r + (thread:get("responses") or 0)
      n = n + (thread:get("non206") or 0)
      b = b + (thread:get("badlength") or 0)
   end
   io.write(string.format("random_range: responses=%d non206=%d badlength=%d\n", r, n, b))
end
