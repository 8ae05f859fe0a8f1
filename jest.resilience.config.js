/**
 * `npm run test:resilience`: the slow part of the resilience suite (storage outage, process
 * crashes at each storage step) and a long fuzzing run. `npm test` runs the fast part.
 * @type {import('jest').Config}
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test'],
  testMatch: ['**/test/resilience/**/*.test.ts', '**/test/integration/fuzz-routes.test.ts'],
  testPathIgnorePatterns: [],
  maxWorkers: 1,
  testTimeout: 300_000,
};
