-- The log forwarder's record shaping (fluent-bit.yaml): each record names its host (`host.name`) and container
-- (`container.name`), and a container's lines are tagged with its compose service, or its name without compose, which
-- the ingest endpoint makes the record's `service.name`.

-- The Docker host's name: HOST_NAME from .env, else the host's own /etc/hostname (mounted by compose.yaml).
local function read_file(path)
  local file = io.open(path, "r")
  if file == nil then
    return nil
  end
  local text = file:read("*a")
  file:close()
  return text
end

local function host_name()
  local name = os.getenv("HOST_NAME")
  if name ~= nil and name ~= "" then
    return name
  end
  name = string.match(read_file(os.getenv("HOST_HOSTNAME_FILE") or "/fluent-bit/host/hostname") or "", "^%s*(%S+)")
  return name or "unknown"
end

local HOST = host_name()
local CONTAINERS_DIR = os.getenv("DOCKER_CONTAINERS_DIR") or "/var/lib/docker/containers"
-- The label compose.yaml gives this forwarder's own container: its lines are not shipped (while the endpoint is away
-- each of its retry messages would become one more record to deliver).
local OWN_LABEL = '"aws%-log%-platform%.log%-forwarder"%s*:%s*"true"'

-- What Docker keeps about a container (config.v2.json, read once per container): its name and compose service.
local containers = {}
local cached = 0

local function container(id)
  local known = containers[id]
  if known ~= nil then
    return known
  end
  local config = read_file(CONTAINERS_DIR .. "/" .. id .. "/config.v2.json")
  if config == nil then
    -- Not readable (yet): the short id stands in, and the next line tries again.
    return { name = string.sub(id, 1, 12), own = false }
  end
  known = {
    -- The top-level "Name" is the only one that starts with a slash (a volume's has none).
    name = string.match(config, '"Name"%s*:%s*"/([^"]+)"') or string.sub(id, 1, 12),
    service = string.match(config, '"com%.docker%.compose%.service"%s*:%s*"([^"]+)"'),
    own = string.find(config, OWN_LABEL) ~= nil,
  }
  if cached >= 10000 then
    containers = {}
    cached = 0
  end
  containers[id] = known
  cached = cached + 1
  return known
end

-- A line of a container's json-file log (tail input): names it, drops Docker's receive time (already the record's
-- time) and the line's newline, and keeps the service in `fluentbit_service` for the tag (rewrite_tag).
function from_json_file(tag, timestamp, record)
  local path = record["fluentbit_path"]
  if type(path) ~= "string" then
    return 0, timestamp, record
  end
  local id = string.match(path, "([^/]+)/[^/]+%-json%.log$") or path
  local info = container(id)
  if info.own then
    return -1, timestamp, record
  end
  local attrs = record["attrs"]
  local service = type(attrs) == "table" and attrs["com.docker.compose.service"] or nil
  record["fluentbit_path"] = nil
  record["time"] = nil
  local log = record["log"]
  if type(log) == "string" and string.sub(log, -1) == "\n" then
    record["log"] = string.sub(log, 1, -2)
  end
  record["container.name"] = info.name
  record["host.name"] = HOST
  record["fluentbit_service"] = service or info.service or info.name
  return 2, timestamp, record
end

-- A record of Docker's fluentd log driver (forward input): its tag is the driver's `tag` option; the container's name
-- and stream get the names the tail records use.
function from_log_driver(tag, timestamp, record)
  local name = record["container_name"]
  if type(name) == "string" then
    record["container.name"] = string.gsub(name, "^/", "")
    record["container_name"] = nil
  end
  if record["stream"] == nil and type(record["source"]) == "string" then
    record["stream"] = record["source"]
    record["source"] = nil
  end
  record["host.name"] = HOST
  return 2, timestamp, record
end
