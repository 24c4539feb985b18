/**
 * The tests' and benchmarks' workflows module: the example application's jobs plus jobs that exist only to measure
 * and test (noop, noop-expiring, the concurrency probes). Registered by the tests and benchmarks alone, never by `jobctl`.
 */
export * from '../../workflows';
export * from './noop-workflow';
export * from './noop-expiring-workflow';
export * from './concurrency-probe-workflow';
