/**
 * `durable-jobs/testing`: for an application's own tests. `FakeVendor` is a local HTTP fake of an external service
 * with fault injection (timeouts, 429 with Retry-After, 4xx, 5xx, dropped connections), so activities are tested over
 * real HTTP.
 */
export { FakeVendor, type Fault, type FaultKind, type VendorRequest } from './testing/fake-vendor';
