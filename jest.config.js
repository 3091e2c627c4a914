// Jest: TypeScript tests through ts-jest; integration tests start real servers, so allow time.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The examples import the package by name, as a partner would; inside the repo that is src/
  // (the tarball test runs them against the packed package instead).
  moduleNameMapper: {
    '^heap-partner-api$': '<rootDir>/src/index.ts',
    '^heap-partner-api/(express|node|web|fastify)$': '<rootDir>/src/adapters/$1.ts',
    '^heap-partner-api/(sqlite|postgres)$': '<rootDir>/src/store/$1/index.ts',
    '^heap-partner-api/app$': '<rootDir>/src/app.ts',
  },
  testTimeout: 30000,
  // One throwaway PostgreSQL cluster per run for the PostgreSQL suites (skipped without one).
  globalSetup: '<rootDir>/test/support/pgGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/pgGlobalTeardown.ts',
};
