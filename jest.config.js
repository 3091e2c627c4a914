// Jest: TypeScript tests through ts-jest; integration tests start real servers, so allow time.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 30000,
  // One throwaway PostgreSQL cluster per run for the PostgreSQL suites (skipped without one).
  globalSetup: '<rootDir>/test/support/pgGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/pgGlobalTeardown.ts',
};
