import { z } from 'zod';

/**
 * Dates travel as ISO calendar-date strings (`YYYY-MM-DD`) and are parsed here, the one place that does it:
 * schemas validate with `isoDate`, activities turn the string into a UTC midnight `Date` with `parseIsoDate`.
 */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** UTC midnight of an ISO calendar date, or undefined when the string is not a real date (`2026-02-30`). */
export function tryParseIsoDate(value: string): Date | undefined {
  const match = ISO_DATE.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const roundTrips = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return roundTrips ? date : undefined;
}

export function parseIsoDate(value: string): Date {
  const date = tryParseIsoDate(value);
  if (!date) throw new RangeError(`"${value}" is not an ISO calendar date (YYYY-MM-DD)`);
  return date;
}

export const isoDate = z
  .string()
  .refine((value) => tryParseIsoDate(value) !== undefined, {
    message: "expected an ISO calendar date such as '2026-11-28'",
  })
  // What the HTTP service's OpenAPI document says of the field (the refinement itself has no JSON Schema form).
  .meta({ format: 'date', description: "An ISO calendar date, YYYY-MM-DD, such as '2026-11-28'" });
