/**
 * Checks the deploy files with the real tools when they are installed: promtool (config,
 * rules, rule unit tests, and the dashboard's PromQL), ansible-playbook (syntax, and the
 * role's templates rendered for the example inventory), systemd-analyze verify (the units).
 * Where a tool is missing the test is skipped and its name says which tool to install.
 */
import assert from "node:assert/strict";
import { repoPath, run, toolTestName, which } from "./helpers.ts";

const prometheusDir = repoPath("deploy/prometheus");
const ansibleDir = repoPath("deploy/ansible");
const roleDir = repoPath("deploy/ansible/roles/ringkv");

function toolTest(name: string, tools: string | string[], fn: () => Promise<void>): void {
  const missing = [tools].flat().find((tool) => which(tool) === undefined);
  const label = missing === undefined ? name : toolTestName(name, missing);
  Deno.test({ name: label, ignore: missing !== undefined, fn });
}

/** Runs `tool args` and fails with everything it printed unless it exits 0. */
async function expectSuccess(tool: string, args: string[], cwd: string): Promise<string> {
  const result = await run(tool, args, { cwd, timeoutMs: 120_000 });
  assert.equal(result.code, 0, `${tool} ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout + result.stderr;
}

/** A temp directory holding an executable that stands in for the ringkv binary. */
async function withStubBinary(fn: (dir: string, binary: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ringkv-deploy-" });
  try {
    const binary = `${dir}/ringkv`;
    await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await fn(dir, binary);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** systemd-analyze verify of one unit file; fails on any complaint about that file. */
async function verifyUnit(path: string): Promise<void> {
  const result = await run("systemd-analyze", ["verify", path], { timeoutMs: 60_000 });
  const name = path.slice(path.lastIndexOf("/") + 1);
  const complaints = (result.stdout + result.stderr).split("\n").filter((line) =>
    line.includes(name)
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(complaints, [], `systemd-analyze verify ${path}`);
}

toolTest("promtool accepts prometheus.yml and the rule files it loads", "promtool", async () => {
  const out = await expectSuccess("promtool", ["check", "config", "prometheus.yml"], prometheusDir);
  assert.match(out, /SUCCESS: 1 rule files found/);
});

toolTest("promtool accepts alerts.yml", "promtool", async () => {
  const out = await expectSuccess("promtool", ["check", "rules", "alerts.yml"], prometheusDir);
  assert.match(out, /SUCCESS: \d+ rules found/);
});

toolTest("the alert rule unit tests in alerts_test.yml pass", "promtool", async () => {
  const out = await expectSuccess("promtool", ["test", "rules", "alerts_test.yml"], prometheusDir);
  assert.match(out, /SUCCESS/);
});

toolTest("every dashboard query is valid PromQL", "promtool", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(repoPath("deploy/grafana/dashboards/ringkv.json")),
  ) as { panels: { id: number; targets?: { refId: string; expr: string }[] }[] };
  // Grafana's variables replaced by what they expand to, each query as a recording rule.
  const rules = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      record: `dashboard:panel_${panel.id}:${target.refId}`,
      expr: target.expr.replaceAll("$__rate_interval", "1m").replaceAll("$instance", ".*"),
    }))
  );
  assert.ok(rules.length >= 20);
  await withStubBinary(async (dir) => {
    const write = (name: string, exprs: { record: string; expr: string }[]) =>
      Deno.writeTextFile(
        `${dir}/${name}`,
        JSON.stringify({ groups: [{ name: "dashboard", rules: exprs }] }),
      );
    await write("dashboard.json", rules);
    const out = await expectSuccess("promtool", ["check", "rules", "dashboard.json"], dir);
    assert.match(out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    // The same check rejects a broken query, so the success above means something.
    await write("broken.json", [{ record: "broken:q", expr: "sum(rate(x[1m])" }]);
    const broken = await run("promtool", ["check", "rules", "broken.json"], { cwd: dir });
    assert.notEqual(broken.code, 0);
  });
});

toolTest("ansible-playbook --syntax-check accepts the playbook", "ansible-playbook", async () => {
  const out = await expectSuccess(
    "ansible-playbook",
    ["-i", "inventory.example.yml", "--syntax-check", "playbook.yml"],
    ansibleDir,
  );
  assert.match(out, /playbook: playbook\.yml/);
});

toolTest(
  "the role's templates render one cluster list and each host's own id and peer",
  "ansible-playbook",
  async () => {
    await withStubBinary(async (dir, binary) => {
      await expectSuccess("ansible-playbook", [
        "-i",
        `${ansibleDir}/inventory.example.yml`,
        repoPath("tests/deploy/render_templates.yml"),
        "-e",
        `role_dir=${roleDir}`,
        "-e",
        `out_dir=${dir}`,
        "-e",
        `ringkv_binary_path=${binary}`,
      ], dir);
      const hosts = { "ringkv-1": ["n1", "10.0.0.11"], "ringkv-2": ["n2", "10.0.0.12"] };
      for (const [host, [id, address]] of Object.entries(hosts)) {
        const env = await Deno.readTextFile(`${dir}/${host}.env`);
        assert.match(env, new RegExp(`^RINGKV_ID=${id}$`, "m"));
        assert.match(env, new RegExp(`^RINGKV_PEER=${address}:7071$`, "m"));
        assert.match(
          env,
          /^RINGKV_CLUSTER=n1=10\.0\.0\.11:7071,n2=10\.0\.0\.12:7071,n3=10\.0\.0\.13:7071$/m,
        );
        const unit = await Deno.readTextFile(`${dir}/${host}.service`);
        assert.ok(unit.includes(`ExecStart=${binary} serve --id \${RINGKV_ID}`), unit);
        assert.ok(!unit.includes("{{"), "unrendered template expression");
      }
      // With the role's defaults the rendered unit is deploy/ringkv.service, header aside.
      const body = (text: string) => text.slice(text.indexOf("[Unit]"));
      const staticUnit = await Deno.readTextFile(repoPath("deploy/ringkv.service"));
      assert.equal(
        body(await Deno.readTextFile(`${dir}/ringkv-1.service`)),
        body(staticUnit).replaceAll("/usr/local/bin/ringkv", binary),
      );
    });
  },
);

toolTest(
  "systemd-analyze verify accepts the rendered unit",
  ["ansible-playbook", "systemd-analyze"],
  async () => {
    await withStubBinary(async (dir, binary) => {
      await expectSuccess("ansible-playbook", [
        "-i",
        `${ansibleDir}/inventory.example.yml`,
        repoPath("tests/deploy/render_templates.yml"),
        "-e",
        `role_dir=${roleDir}`,
        "-e",
        `out_dir=${dir}`,
        "-e",
        `ringkv_binary_path=${binary}`,
        "--limit",
        "ringkv-1",
      ], dir);
      await verifyUnit(`${dir}/ringkv-1.service`);
    });
  },
);

toolTest("systemd-analyze verify accepts deploy/ringkv.service", "systemd-analyze", async () => {
  await withStubBinary(async (dir, binary) => {
    const unit = await Deno.readTextFile(repoPath("deploy/ringkv.service"));
    assert.ok(unit.includes("/usr/local/bin/ringkv serve"));
    await Deno.writeTextFile(
      `${dir}/ringkv.service`,
      unit.replaceAll("/usr/local/bin/ringkv", binary),
    );
    await verifyUnit(`${dir}/ringkv.service`);
    // A misspelled directive is reported, so the check above can fail.
    await Deno.writeTextFile(`${dir}/typo.service`, unit.replace("LimitNOFILE", "LimitNOFILES"));
    const typo = await run("systemd-analyze", ["verify", `${dir}/typo.service`]);
    assert.match(typo.stdout + typo.stderr, /typo\.service.*LimitNOFILES/);
  });
});
