import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorType, recordNotFound } from '../src/sandbox/error-types';

describe('error types', () => {
  it('each type string is its own name (histories and nonRetryableErrorTypes match on it)', () => {
    for (const [name, type] of Object.entries(ErrorType)) expect(type).toBe(name);
  });

  it('a missing record is a non-retryable RecordNotFound failure naming the record', () => {
    const failure = recordNotFound('invoice', 42);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ message: 'invoice 42 does not exist', type: 'RecordNotFound', nonRetryable: true });
  });
});
