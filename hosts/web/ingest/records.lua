-- The ingest endpoint's record shaping (fluent-bit.yaml): every record a user's service sent leaves in the shape the
-- apps index maps (service.name, log, log.level, ingest.protocol, log_id), with every other field as sent.
-- Each filter instance (one per input) loads this file into a Lua state of its own.

-- Longer lines are cut here rather than rejected: the record still arrives, flagged.
local MAX_LOG_BYTES = 262144

-- log_id: the aggregator's _id for the record. A prefix per start (the time it started, to the microsecond of the
-- process clock) and a counter make it unique without a state file; a record redelivered by Kafka or retried by the
-- es output keeps its id and rewrites its own document.
local member = os.getenv("HOST_MEMBER") or "web"
local started = string.format("%d.%d", os.time(), math.floor(os.clock() * 1000000))
local counter = 0

local function first_string(record, keys)
  for _, key in ipairs(keys) do
    local value = record[key]
    if type(value) == "string" and value ~= "" then
      return value
    end
  end
  return nil
end

-- Keys the endpoint sets: a service's own move aside to `_<key>`, as the aggregator does with Elasticsearch's.
local OWN_KEYS = { "log_id", "fluentbit_time", "ingest.protocol" }

local function finish(record, protocol, fallback_service)
  for _, key in ipairs(OWN_KEYS) do
    if record[key] ~= nil then
      record["_" .. key] = record[key]
      record[key] = nil
    end
  end
  -- Elasticsearch refuses a document with an empty or blank field name, and a refused document is retried forever.
  local blank = {}
  for key in pairs(record) do
    if type(key) == "string" and string.match(key, "^%s*$") then
      blank[#blank + 1] = key
    end
  end
  for _, key in ipairs(blank) do
    if record["_blank_key"] == nil then
      record["_blank_key"] = record[key]
    end
    record[key] = nil
  end
  record["service.name"] = first_string(record, { "service.name", "service_name", "service" }) or fallback_service or "unknown"
  -- The line's text: `log`, or the key a structured line (a JSON line parsed, a Fluentd record) keeps it under.
  if record["log"] == nil then
    for _, key in ipairs({ "message", "msg" }) do
      if type(record[key]) == "string" then
        record["log"] = record[key]
        record[key] = nil
        break
      end
    end
  end
  local level = first_string(record, { "log.level", "level", "severity" })
  if level ~= nil then
    record["log.level"] = string.lower(level)
  end
  local log = record["log"]
  if type(log) == "string" and #log > MAX_LOG_BYTES then
    record["log"] = string.sub(log, 1, MAX_LOG_BYTES)
    record["log.truncated"] = true
  end
  record["ingest.protocol"] = protocol
  counter = counter + 1
  record["log_id"] = member .. ":" .. protocol .. ":" .. started .. ":" .. counter
  return record
end

-- OTLP's severity numbers, four to a level (1-4 trace ... 21-24 fatal), for a record that sends no severity text.
local SEVERITY_RANGES = { "trace", "debug", "info", "warn", "error", "fatal" }

-- The trace context arrives as bytes; Elasticsearch and the OpenTelemetry tools show it in hex.
local function hex(bytes)
  return (string.gsub(bytes, ".", function(c) return string.format("%02x", string.byte(c)) end))
end

-- OTLP records, before anything else touches them (a filter that rewrites records drops the group they belong to):
-- the log record's attributes and then its resource's (service.name, host.name, ...) join the record where it has no
-- such field; the severity and the trace context come from the record's OTLP metadata.
function lift_otlp(tag, timestamp, group, metadata, record)
  local resource = type(group) == "table" and type(group["resource"]) == "table" and group["resource"]["attributes"] or {}
  local otlp = type(metadata) == "table" and type(metadata["otlp"]) == "table" and metadata["otlp"] or {}
  for _, attributes in ipairs({ otlp["attributes"] or {}, resource }) do
    if type(attributes) == "table" then
      for key, value in pairs(attributes) do
        if record[key] == nil then
          record[key] = value
        end
      end
    end
  end
  if record["log.level"] == nil then
    if type(otlp["severity_text"]) == "string" and otlp["severity_text"] ~= "" then
      record["log.level"] = otlp["severity_text"]
    elseif type(otlp["severity_number"]) == "number" then
      record["log.level"] = SEVERITY_RANGES[math.floor((otlp["severity_number"] - 1) / 4) + 1]
    end
  end
  if type(otlp["trace_id"]) == "string" and otlp["trace_id"] ~= "" then
    record["trace.id"] = hex(otlp["trace_id"])
  end
  if type(otlp["span_id"]) == "string" and otlp["span_id"] ~= "" then
    record["span.id"] = hex(otlp["span_id"])
  end
  return 2, timestamp, metadata, record
end

-- Forward records: the tag the client sent (after the input's `forward.` prefix) names the service unless the record
-- does.
function finish_forward(tag, timestamp, record)
  return 2, timestamp, finish(record, "forward", string.match(tag, "^forward%.(.+)$"))
end

function finish_otlp(tag, timestamp, record)
  return 2, timestamp, finish(record, "otlp", nil)
end
