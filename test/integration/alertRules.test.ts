// deploy/prometheus/alerts.yml: `promtool check rules` and `promtool test rules` pass, and every metric the rules use exists in a real scrape.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { AppMetrics } from '../../src/metrics/appMetrics';
import { SqliteStore } from '../../src/store/sqlite/store';
import { WebhookBodyBudget } from '../../src/webhook/bodyBudget';
import { parseExposition } from '../support/scrape';
import { tempDir } from '../support/testApp';

const run = promisify(execFile);
const dir = path.join(__dirname, '..', '..', 'deploy', 'prometheus');
const RULES = path.join(dir, 'alerts.yml');
const RULE_TESTS = path.join(dir, 'alerts.test.yml');

/** promtool from PATH; CI=true makes its absence a failure, not a skip. */
function findPromtool(): string | undefined {
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(entry, 'promtool');
    if (entry && existsSync(candidate)) return candidate;
  }
  return undefined;
}

const promtool = findPromtool();
const inCi = process.env.CI === 'true';
if (!promtool && !inCi) {
  console.warn(
    'SKIPPED promtool check/test of deploy/prometheus/alerts.yml: promtool is not installed (apt-get install prometheus)',
  );
}
const withPromtool = promtool || inCi ? describe : describe.skip;

withPromtool('alert rules with promtool', () => {
  test('promtool is installed (CI=true requires it)', () => {
    expect(promtool).toBeDefined();
  });

  test('promtool check rules', async () => {
    const { stdout } = await run(promtool ?? 'promtool', ['check', 'rules', RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  test('promtool test rules (alerts.test.yml)', async () => {
    const { stdout } = await run(promtool ?? 'promtool', ['test', 'rules', RULE_TESTS], {
      cwd: dir,
    });
    expect(stdout).toContain('SUCCESS');
  });
});

/** Every metric name in the rules' expressions (histogram series by their family's name). */
function metricNamesInRules(): Set<string> {
  const rules = YAML.parse(readFileSync(RULES, 'utf8')) as {
    groups: { rules: { expr: string }[] }[];
  };
  const names = new Set<string>();
  for (const rule of rules.groups.flatMap((group) => group.rules)) {
    // Drop label matchers and strings first: their values are not metric names.
    const expr = rule.expr.replace(/\{[^}]*\}/g, '').replace(/"[^"]*"/g, '');
    for (const [name] of expr.matchAll(/\b(?:heap_partner|nodejs|process)_[a-z0-9_]+\b/g)) {
      names.add(name.replace(/_(bucket|sum|count)$/, ''));
    }
  }
  return names;
}

test('every metric the rules use is in a scrape of an app on SQLite', async () => {
  const dataDir = tempDir('hpa-alerts-');
  const store = new SqliteStore({ file: path.join(dataDir, 'store.sqlite') });
  const metrics = new AppMetrics();
  try {
    metrics.watch({
      bodyBudget: new WebhookBodyBudget(1024 * 1024),
      store,
      activeConnections: async () => (await store.listConnections()).length,
      // The store's segmentFreshness, as the app wires it.
      segmentFreshness: async () => ({ segments: 0, stale: 0, oldest: [] }),
    });
    const scraped = parseExposition(await metrics.metrics());
    const exposed = new Set(scraped.families.map((f) => f.name));
    const used = [...metricNamesInRules()];
    expect(used.length).toBeGreaterThanOrEqual(6);
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);
  } finally {
    metrics.close();
    await store.close();
  }
});
