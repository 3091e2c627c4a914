// The conformance checker's entry: run the checks against a receiver, and render the scorecard (CLI and emulator panel share it).
export { runChecks, CHECKS, selects, unknownSelectors } from './runner';
export { formatText, formatJson, formatJunit } from './report';
export { DEFAULT_CHECK_ID_TOKEN, DEFAULT_CHECK_TIMEOUT_MS } from './context';
export { connectionKey } from './adminReader';
export * from './types';
