import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { resolveDockerEndpoint } from "../../components/targets/docker/endpoint";

/**
 * The docker target's engine resolution (components/targets/docker/endpoint.ts) against the real docker CLI's own
 * answer, `docker context inspect`, on a temporary DOCKER_CONFIG: contexts made and selected by the CLI itself. Only
 * the CLI runs (no engine is needed).
 */
describe("the engine the docker CLI uses: resolveDockerEndpoint() against `docker context inspect`", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docker-context-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("agrees with the CLI for DOCKER_HOST, DOCKER_CONTEXT, the current context and the default", () => {
    const configDir = path.join(tmp, "cli");
    const docker = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const run = spawnSync("docker", args, { env: { PATH: process.env.PATH, HOME: tmp, DOCKER_CONFIG: configDir, ...env }, encoding: "utf8" });
      assert.ok(!run.error, "the docker CLI is not installed: apt-get install docker.io (listed in .ci/apt-packages.txt)");
      assert.equal(run.status, 0, `docker ${args.join(" ")}: ${run.stderr}`);
      return run.stdout.trim();
    };
    docker(["context", "create", "one", "--docker", "host=unix:///tmp/one.sock"]);
    docker(["context", "create", "two", "--docker", "host=tcp://127.0.0.1:2375"]);
    const cases: NodeJS.ProcessEnv[] = [{}, { DOCKER_CONTEXT: "two" }, { DOCKER_HOST: "unix:///tmp/three.sock" }];
    const compare = (env: NodeJS.ProcessEnv) =>
      assert.equal(resolveDockerEndpoint({ DOCKER_CONFIG: configDir, ...env }, tmp).host,
        docker(["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], env), JSON.stringify(env));
    for (const env of cases) compare(env);
    docker(["context", "use", "one"]);
    for (const env of cases) compare(env);
    docker(["context", "use", "default"]);
    compare({});
  });
});
