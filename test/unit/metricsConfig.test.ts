// METRICS_TOKEN, METRICS_PORT and METRICS_HOST: off by default, loopback by default, refused when unsafe or ambiguous.
import { loadConfig, type Environment } from '../../src/config/index';
import { tempDir } from '../support/testApp';

function load(env: Environment) {
  const dir = tempDir('hpa-metrics-config-');
  return loadConfig({ WEBHOOK_SECRET: 'secret', DATA_DIR: dir, ...env }, dir);
}

function metricsOf(env: Environment) {
  const loaded = load(env);
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config;
}

test('off unless a token or a port is set', () => {
  expect(metricsOf({}).metrics).toEqual({
    enabled: false,
    token: undefined,
    port: undefined,
    host: '127.0.0.1',
  });
  expect(metricsOf({ NODE_ENV: 'production', ADMIN_TOKEN: 'a'.repeat(32) }).metrics.enabled).toBe(
    false,
  );
});

test('METRICS_TOKEN alone: served on the app port behind it', () => {
  expect(metricsOf({ METRICS_TOKEN: ' tok-0123456789abcdef ' }).metrics).toEqual({
    enabled: true,
    token: 'tok-0123456789abcdef',
    port: undefined,
    host: '127.0.0.1',
  });
});

test('METRICS_PORT (and METRICS_HOST) give a listener of its own', () => {
  expect(metricsOf({ METRICS_PORT: '9464' }).metrics).toMatchObject({
    enabled: true,
    port: 9464,
    host: '127.0.0.1',
  });
  expect(metricsOf({ METRICS_PORT: '9464', METRICS_HOST: '[::1]' }).metrics.host).toBe('::1');
});

test('a non-loopback METRICS_HOST without a token is allowed, with a warning', () => {
  const config = metricsOf({ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' });
  expect(config.warnings.join('\n')).toContain(
    'Metrics are served on 10.0.0.5:9464 without METRICS_TOKEN',
  );
  expect(
    metricsOf({
      METRICS_PORT: '9464',
      METRICS_HOST: '10.0.0.5',
      METRICS_TOKEN: 'x'.repeat(16),
    }).warnings.join('\n'),
  ).not.toContain('Metrics');
});

test.each<[Environment, string]>([
  [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be at least 16 characters'],
  [{ METRICS_PORT: 'abc' }, 'METRICS_PORT must be a whole number from 0 to 65535'],
  [{ METRICS_PORT: '3000', PORT: '3000' }, 'METRICS_PORT (3000) must differ from PORT'],
  [{ METRICS_HOST: '0.0.0.0' }, 'METRICS_HOST is set without METRICS_PORT'],
  [{ METRICS_PORT: '9464', METRICS_HOST: 'a b' }, 'METRICS_HOST must be one address'],
])('%j is refused', (env, problem) => {
  const loaded = load(env);
  expect(loaded.ok).toBe(false);
  if (!loaded.ok) expect(loaded.problems.join('\n')).toContain(problem);
  // Never echoes a token.
  if (!loaded.ok && env.METRICS_TOKEN) {
    expect(loaded.problems.join('\n')).not.toContain(env.METRICS_TOKEN);
  }
});
