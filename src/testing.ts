/**
 * `durable-jobs/testing`: for an application's own tests.
 *
 * - `createTestEnvironment({ application })`: a test's own Temporal server (`@temporalio/testing`'s dev server, or its
 *   time-skipping test server), SQLite database and worker process of the application, with a `JobClient` and
 *   `run(job, args)`, which enqueues a job and waits for its result. Nothing about Temporal is mocked.
 * - `checkIdempotentActivity(activity, input, { effects })`: runs an activity once, then again with the same input as a
 *   retry and as the retry after a crash would, and throws if its effects grew.
 * - `FakeVendor`: a local HTTP fake of an external service with fault injection (timeouts, 429 with Retry-After, 4xx,
 *   5xx, dropped connections), so activities are tested over real HTTP.
 */
export {
  createTestEnvironment,
  type TestEnvironment,
  type TestEnvironmentOptions,
  type TestServerMode,
} from './testing/test-environment';
export {
  checkIdempotentActivity,
  type IdempotencyCheck,
  type IdempotencyCheckOptions,
} from './testing/idempotent-activity';
export {
  FakeVendor,
  type Fault,
  type FakeVendorOptions,
  type FaultKind,
  type RecordEffect,
  type VendorRequest,
} from './testing/fake-vendor';
