/**
 * compose.yaml: three ringkv nodes wired as one cluster, each with its own volume and the
 * shared secret, Prometheus scraping all of them, Grafana with the provisioned dashboard.
 * Parsed with a YAML parser: there is no Docker engine where these tests run.
 */
import assert from "node:assert/strict";
import { exists, readYaml, repoPath } from "./helpers.ts";

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  secrets?: string[];
  healthcheck?: { test: string[] };
  depends_on?: string[] | Record<string, unknown>;
  hostname?: string;
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { environment?: string; file?: string }>;
}

const compose = readYaml("compose.yaml") as Compose;
const nodeNames = Object.keys(compose.services).filter((name) => /^ringkv\d+$/.test(name));

/** The value following `flag` in a command line; throws when the flag is missing. */
function flagValue(command: string[], flag: string): string {
  const at = command.indexOf(flag);
  assert.ok(at >= 0 && at + 1 < command.length, `missing ${flag} in ${command.join(" ")}`);
  return command[at + 1];
}

/** Bind mounts ("./host:/container[:ro]") of a service as [host, container] pairs. */
function bindMounts(service: Service): [string, string][] {
  return (service.volumes ?? [])
    .filter((v) => v.startsWith("./"))
    .map((v) => v.split(":").slice(0, 2) as [string, string]);
}

Deno.test("compose runs three ringkv nodes built from deploy/Dockerfile", () => {
  assert.deepEqual(nodeNames, ["ringkv1", "ringkv2", "ringkv3"]);
  for (const name of nodeNames) {
    const build = compose.services[name].build;
    assert.ok(build, `${name} has no build section`);
    assert.ok(exists(repoPath(`${build.context}/${build.dockerfile}`)), build.dockerfile);
    assert.equal(compose.services[name].command?.[0], "serve");
  }
});

Deno.test("every node's --peer is its own entry of one shared --cluster list", () => {
  const clusters = new Set<string>();
  const ids = new Set<string>();
  for (const name of nodeNames) {
    const command = compose.services[name].command!;
    const cluster = flagValue(command, "--cluster");
    const id = flagValue(command, "--id");
    clusters.add(cluster);
    ids.add(id);
    const members = new Map(cluster.split(",").map((m) => m.split("=") as [string, string]));
    assert.equal(members.get(id), flagValue(command, "--peer"), `${name}'s --peer`);
    const [host] = flagValue(command, "--peer").split(":");
    assert.equal(host, compose.services[name].hostname ?? name, `${name} peers by its hostname`);
  }
  assert.equal(clusters.size, 1, "all nodes must be given the same --cluster");
  assert.equal(ids.size, nodeNames.length, "node ids must be distinct");
  assert.equal([...clusters][0].split(",").length, nodeNames.length);
});

Deno.test("each node keeps its data directory on a volume of its own", () => {
  const used = new Set<string>();
  for (const name of nodeNames) {
    const service = compose.services[name];
    const dataDir = flagValue(service.command!, "--data-dir");
    const mounts = (service.volumes ?? []).map((v) => v.split(":"));
    const data = mounts.find(([, target]) => target === dataDir);
    assert.ok(data, `${name} mounts nothing at ${dataDir}`);
    assert.ok(data[0] in compose.volumes, `${data[0]} is not a declared named volume`);
    assert.ok(!used.has(data[0]), `${data[0]} is shared between nodes`);
    used.add(data[0]);
  }
});

Deno.test("nodes read the cluster secret from a compose secret via --secret-file", () => {
  for (const name of nodeNames) {
    const service = compose.services[name];
    const secretFile = flagValue(service.command!, "--secret-file");
    const match = /^\/run\/secrets\/(\w+)$/.exec(secretFile);
    assert.ok(match, `${name}: --secret-file ${secretFile} is not a compose secret`);
    assert.ok(service.secrets?.includes(match[1]), `${name} does not mount secret ${match[1]}`);
    const secret = compose.secrets[match[1]];
    assert.ok(secret, `secret ${match[1]} is not declared`);
    assert.equal(secret.environment, "RINGKV_CLUSTER_SECRET");
    assert.ok(!JSON.stringify(service).includes("RINGKV_CLUSTER_SECRET="), "secret inlined");
  }
});

Deno.test("node HTTP ports are published on distinct host ports; peer ports are not", () => {
  const hostPorts = new Set<string>();
  for (const name of nodeNames) {
    const service = compose.services[name];
    const httpPort = flagValue(service.command!, "--http").split(":")[1];
    const peerPort = flagValue(service.command!, "--peer").split(":")[1];
    const published = (service.ports ?? []).map((p) => p.split(":"));
    assert.ok(published.some(([, container]) => container === httpPort), `${name} http`);
    assert.ok(!published.some(([, container]) => container === peerPort), `${name} peer`);
    for (const [host] of published) {
      assert.ok(!hostPorts.has(host), `host port ${host} used twice`);
      hostPorts.add(host);
    }
  }
});

Deno.test("every service has a healthcheck", () => {
  for (const [name, service] of Object.entries(compose.services)) {
    assert.ok(service.healthcheck?.test?.length, `${name} has no healthcheck`);
  }
});

Deno.test("every bind-mounted file or directory exists in the repository", () => {
  let count = 0;
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [host] of bindMounts(service)) {
      assert.ok(exists(repoPath(host)), `${name} mounts missing ${host}`);
      count++;
    }
  }
  assert.ok(count >= 4, "prometheus and grafana mount their configuration");
});

Deno.test("prometheus scrapes every node's HTTP port", () => {
  const mount = bindMounts(compose.services.prometheus).find(([, target]) =>
    target === "/etc/prometheus/prometheus.yml"
  );
  assert.ok(mount, "prometheus.yml is not mounted at /etc/prometheus/prometheus.yml");
  const config = readYaml(mount[0]) as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const job = config.scrape_configs.find((c) => c.job_name === "ringkv");
  assert.ok(job, "no ringkv scrape job");
  const targets = job.static_configs.flatMap((s) => s.targets).sort();
  const expected = nodeNames.map((name) => {
    const port = flagValue(compose.services[name].command!, "--http").split(":")[1];
    return `${compose.services[name].hostname ?? name}:${port}`;
  }).sort();
  assert.deepEqual(targets, expected);
});

Deno.test("prometheus mounts every rule file its configuration loads", () => {
  const mounts = bindMounts(compose.services.prometheus);
  const config = readYaml("deploy/prometheus/prometheus.yml") as { rule_files: string[] };
  assert.ok(config.rule_files.length >= 1);
  for (const file of config.rule_files) {
    const target = `/etc/prometheus/${file}`;
    assert.ok(mounts.some(([, t]) => t === target), `${target} is not mounted`);
  }
});

Deno.test("grafana's dashboard provider path is where the dashboards are mounted", () => {
  const mounts = bindMounts(compose.services.grafana);
  const provisioning = mounts.find(([, target]) => target === "/etc/grafana/provisioning");
  assert.ok(provisioning, "provisioning is not mounted at /etc/grafana/provisioning");
  const providers = readYaml(`${provisioning[0]}/dashboards/ringkv.yml`) as {
    providers: { options: { path: string } }[];
  };
  const path = providers.providers[0].options.path;
  const dashboards = mounts.find(([, target]) => target === path);
  assert.ok(dashboards, `nothing is mounted at the provider path ${path}`);
  const files = [...Deno.readDirSync(repoPath(dashboards[0]))].map((e) => e.name);
  assert.ok(files.includes("ringkv.json"), `no ringkv.json in ${dashboards[0]}`);
});

Deno.test("the Dockerfile copies only paths that exist and exposes the HTTP and peer ports", () => {
  const dockerfile = Deno.readTextFileSync(repoPath("deploy/Dockerfile"));
  const copies = [...dockerfile.matchAll(/^COPY\s+(.+)$/gm)].map((m) => m[1].split(/\s+/));
  assert.ok(copies.length >= 1);
  for (const parts of copies) {
    for (const source of parts.slice(0, -1)) assert.ok(exists(repoPath(source)), source);
  }
  const exposed = /^EXPOSE\s+(.+)$/m.exec(dockerfile)?.[1].split(/\s+/) ?? [];
  const first = compose.services[nodeNames[0]].command!;
  for (const flag of ["--http", "--peer"]) {
    assert.ok(exposed.includes(flagValue(first, flag).split(":")[1]), `${flag} port`);
  }
});
